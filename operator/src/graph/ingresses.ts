/**
 * The rules of Ingresses that need the whole commit (buildGraph runs them; the per-object rules are in
 * manifest/ingress.ts). Only Ingresses coxswain serves (class "coxswain" or none) are judged: another
 * controller's Ingress is ignored, with the warning manifest/ingress.ts gives.
 * - backends: the Service a backend names must be in the commit, in the Ingress's namespace
 *   (MissingReference), not headless (InvalidField: a headless Service has no proxy listener to route to),
 *   and have the port the backend names by number (its `port`) or by name (MissingReference);
 * - TLS: the Secret a TLS entry names must be in the commit, in the Ingress's namespace
 *   (MissingReference), of type kubernetes.io/tls, with a PEM certificate in tls.crt and its unencrypted
 *   private key in tls.key (SecretInvalid; no message shows a value);
 * - conflicts between Ingresses, warnings (MissingReference would be wrong: nothing is missing): a path
 *   that routes the same requests (same host, match and path) as another Ingress's, a second
 *   defaultBackend, and a TLS host given a certificate by two Secrets. The one that is used is the first by
 *   manifest/ingress.ts's compareClaims (paths) or by Ingress namespace/name (default backends, TLS
 *   hosts): Kubernetes leaves conflicts to the controller, and this order depends on the objects alone.
 * Ingresses add no edges to the graph: no workload waits for one, and an edge would order (and could
 * contradict the sync waves of) objects for nothing.
 */
import { X509Certificate, createPrivateKey } from "node:crypto";
import { DEFAULT_NAMESPACE, compareKeys, keyOf, makeKey, type Ingress, type Secret, type Service } from "../api/objects.js";
import type { IngressBackend } from "../api/generated/index.js";
import { compareClaims, ingressPathClaims, isServedIngress, type IngressPathClaim } from "../manifest/ingress.js";
import { formatFieldPath, type PathSegment } from "../manifest/paths.js";
import { secretValue } from "../manifest/secret.js";
import { isHeadless } from "../manifest/service.js";
import type { Diagnostic, ManifestObject } from "../manifest/types.js";

/** The Secret type an Ingress's TLS entry must name (tls.crt and tls.key). */
const INGRESS_TLS_SECRET_TYPE = "kubernetes.io/tls";

/**
 * What is wrong with a Secret an Ingress's TLS entry names, or undefined: type kubernetes.io/tls, tls.crt a
 * PEM certificate (the chain's first is the server's), tls.key an unencrypted PEM private key that belongs
 * to it. Names keys, never values.
 */
function ingressTlsSecretProblem(secret: Secret): string | undefined {
  const type = secret.type ?? "Opaque";
  if (type !== INGRESS_TLS_SECRET_TYPE) return `is of type ${type}: expected type ${INGRESS_TLS_SECRET_TYPE}, holding tls.crt and tls.key (PEM)`;
  const crt = secretValue(secret, "tls.crt");
  const key = secretValue(secret, "tls.key");
  if (crt === undefined || key === undefined) return "has no tls.crt or no tls.key: expected both, PEM-encoded";
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(crt);
  } catch {
    return `holds a tls.crt that is not a PEM certificate: expected "-----BEGIN CERTIFICATE-----" …`;
  }
  try {
    if (!cert.checkPrivateKey(createPrivateKey(key))) return "holds a tls.key that is not the private key of its tls.crt: expected the key pair of the server certificate";
  } catch {
    return `holds a tls.key that is not a PEM private key (an encrypted key cannot be used): expected "-----BEGIN PRIVATE KEY-----" or an RSA/EC key`;
  }
  return undefined;
}

/**
 * The diagnostics of the Ingresses among `objects` (each object once, in key order), sorted as the objects
 * are, then in field order. Pure.
 */
export function ingressDiagnostics(objects: readonly ManifestObject[]): Diagnostic[] {
  const out: Diagnostic[] = [];
  const report = (m: ManifestObject, severity: Diagnostic["severity"], code: Diagnostic["code"], path: readonly PathSegment[], message: string): void => {
    out.push({ ...m.locate(path), code, severity, field: formatFieldPath(path), message });
  };
  const byKey = new Map(objects.map((m) => [keyOf(m.object), m]));
  const ingresses = objects.filter((m): m is ManifestObject & { object: Ingress } => m.object.kind === "Ingress" && isServedIngress(m.object)).sort((a, b) => compareKeys(keyOf(a.object), keyOf(b.object)));
  if (ingresses.length === 0) return out;

  const claims: { m: ManifestObject; claim: IngressPathClaim }[] = [];
  let defaultBackend: string | undefined;
  const certificateOf = new Map<string, { secret: string; ingress: string }>();
  for (const m of ingresses) {
    const ing = m.object;
    const namespace = ing.metadata.namespace ?? DEFAULT_NAMESPACE;
    const id = `${namespace}/${ing.metadata.name}`;
    const backend = (b: IngressBackend, path: readonly PathSegment[]): void => {
      const ref = b.service;
      if (ref === undefined) return; // manifest/ingress.ts refuses a backend without a Service
      const svc = byKey.get(makeKey("Service", ref.name, namespace))?.object as Service | undefined;
      if (svc === undefined) {
        report(
          m,
          "error",
          "MissingReference",
          [...path, "service", "name"],
          `Service "${ref.name}" is not declared in namespace "${namespace}": expected a Service of that name in this commit (an Ingress routes to Services of its own namespace)`,
        );
        return;
      }
      if (isHeadless(svc)) {
        report(
          m,
          "error",
          "InvalidField",
          [...path, "service", "name"],
          `Service "${ref.name}" is headless (clusterIP: None), so no proxy listens for it and an Ingress cannot route to it: route to a Service with a cluster address (a node proxy listens for those)`,
        );
        return;
      }
      const ports = svc.spec.ports ?? [];
      const have = ports.map((p) => (p.name !== undefined ? `${p.port} (${p.name})` : String(p.port))).join(", ") || "none";
      if (ref.port.number !== undefined && !ports.some((p) => p.port === ref.port.number)) {
        report(
          m,
          "error",
          "MissingReference",
          [...path, "service", "port", "number"],
          `Service "${ref.name}" has no port ${ref.port.number} (ports: ${have}): expected the port a client uses on the Service, not its targetPort`,
        );
      } else if (ref.port.name !== undefined && !ports.some((p) => p.name === ref.port.name)) {
        report(m, "error", "MissingReference", [...path, "service", "port", "name"], `Service "${ref.name}" has no port named "${ref.port.name}" (ports: ${have})`);
      }
    };
    if (ing.spec.defaultBackend !== undefined) {
      backend(ing.spec.defaultBackend, ["spec", "defaultBackend"]);
      if (defaultBackend === undefined) defaultBackend = id;
      else report(m, "warning", "InvalidField", ["spec", "defaultBackend"], `Ingress ${defaultBackend} has a defaultBackend too and comes first by namespace/name, so its default backend is used and this one is not`);
    }
    for (const [i, rule] of (ing.spec.rules ?? []).entries()) {
      for (const [j, p] of (rule.http?.paths ?? []).entries()) backend(p.backend, ["spec", "rules", i, "http", "paths", j, "backend"]);
    }
    for (const claim of ingressPathClaims(ing)) claims.push({ m, claim });

    (ing.spec.tls ?? []).forEach((t, i) => {
      if (t.secretName === undefined || t.secretName === "") return; // manifest/ingress.ts refuses it
      const path = ["spec", "tls", i, "secretName"];
      const secret = byKey.get(makeKey("Secret", t.secretName, namespace))?.object as Secret | undefined;
      if (secret === undefined) {
        report(
          m,
          "error",
          "MissingReference",
          path,
          `Secret "${t.secretName}" is not declared in namespace "${namespace}": expected a ${INGRESS_TLS_SECRET_TYPE} Secret of that name in this commit (an Ingress uses Secrets of its own namespace)`,
        );
        return;
      }
      const problem = ingressTlsSecretProblem(secret);
      if (problem) report(m, "error", "SecretInvalid", path, `Secret "${t.secretName}" in namespace "${namespace}" ${problem}`);
      const secretId = `${namespace}/${t.secretName}`;
      (t.hosts ?? []).forEach((host, j) => {
        const first = certificateOf.get(host);
        if (first === undefined) certificateOf.set(host, { secret: secretId, ingress: id });
        else if (first.secret !== secretId) {
          report(
            m,
            "warning",
            "InvalidField",
            ["spec", "tls", i, "hosts", j],
            `host ${host} already gets the certificate of Secret ${first.secret} from Ingress ${first.ingress}, which comes first by namespace/name: this entry's certificate is not presented for it`,
          );
        }
      });
    });
  }

  // Paths of different Ingresses that route the same requests: every one but the first is unused.
  const byRoute = new Map<string, { m: ManifestObject; claim: IngressPathClaim }[]>();
  for (const c of claims) byRoute.set(c.claim.key, [...(byRoute.get(c.claim.key) ?? []), c]);
  for (const list of byRoute.values()) {
    const sorted = [...list].sort((a, b) => compareClaims(a.claim, b.claim));
    const used = sorted[0]!.claim;
    for (const { m, claim } of sorted.slice(1)) {
      if (claim.ingress === used.ingress) continue; // manifest/ingress.ts warns within one Ingress
      report(
        m,
        "warning",
        "InvalidField",
        ["spec", "rules", claim.rule, "http", "paths", claim.index, "path"],
        `routes the same requests as rules[${used.rule}].http.paths[${used.index}] of Ingress ${used.ingress} (same host, ${claim.match === "Exact" ? "Exact path" : "prefix"}), which is used instead (${used.pathType === claim.pathType ? "the first by namespace/name" : "a Prefix path before an ImplementationSpecific one"}): this path is not`,
      );
    }
  }
  return out;
}
