/**
 * Rules of the networking.k8s.io/v1 Ingress kind beyond its schema (Kubernetes' ValidateIngressSpec, plus
 * what coxswain needs to route), and the readings of an Ingress that later stages share (its class, the
 * path a request is matched against). What is reported how (see also crds/ingress.yaml):
 * - errors (InvalidField): an Ingress with neither defaultBackend nor rules; a backend without a Service,
 *   with both or neither of a port's number and name, a Service name that is not a DNS-1035 label or a
 *   port name that is not an IANA service name; a host that is not a DNS name (or "*." and one), or is an
 *   IP address; an Exact or Prefix path that is not absolute and clean (no "//", "/./", "/../", "%2f",
 *   not ending in "/." or "/.."), an ImplementationSpecific path that is not empty or absolute, and any
 *   path with a character no request path can hold; a TLS entry without secretName (coxswain has no
 *   default certificate); spec.ingressClassName and the kubernetes.io/ingress.class
 *   annotation both set (as in Kubernetes);
 * - warnings (InvalidField): a class other than "coxswain" (the Ingress is ignored: another controller's),
 *   a path that routes the same as an earlier one of the same Ingress (the earlier one wins), an
 *   ImplementationSpecific path with regular-expression characters (coxswain matches it as a prefix).
 * Rules that need other objects (the backend Services and their ports, the TLS Secrets, conflicts between
 * Ingresses) live in graph/ingresses.ts.
 */
import { isIP } from "node:net";
import type { Ingress } from "../api/objects.js";
import type { IngressBackend } from "../api/generated/index.js";
import { fieldError, showValue, type Issue } from "./issue.js";
import type { PathSegment } from "./paths.js";
import { ianaServiceNameProblem, isServiceName } from "./service.js";

/** The ingress class coxswain serves; an Ingress without a class is served too (coxswain is the default class). */
const COXSWAIN_INGRESS_CLASS = "coxswain";

/** The class annotation Kubernetes had before spec.ingressClassName, still read by controllers. */
const INGRESS_CLASS_ANNOTATION = "kubernetes.io/ingress.class";

/** A DNS-1123 subdomain (Kubernetes' IsDNS1123Subdomain, at most 253 characters). */
const DNS_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** What a request path can hold as sent (RFC 3986 pchar, "/" and %XX escapes). */
const URL_PATH = /^(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/]|%[0-9A-Fa-f]{2})*$/;

/** Kubernetes refuses these in Exact and Prefix paths (they would match differently after normalization). */
const INVALID_PATH_SEQUENCES = ["//", "/./", "/../", "%2f", "%2F"] as const;
const INVALID_PATH_SUFFIXES = ["/..", "/."] as const;

/** Characters that make an ImplementationSpecific path look like a regular expression (other controllers read it so). */
const REGEX_CHARACTERS = /[\^$*+?()[\]{}|\\]/;

type Path = readonly PathSegment[];

/** The class an Ingress names (spec.ingressClassName, else the kubernetes.io/ingress.class annotation), or undefined. */
export function ingressClassOf(ingress: Ingress): string | undefined {
  return ingress.spec.ingressClassName ?? ingress.metadata.annotations?.[INGRESS_CLASS_ANNOTATION];
}

/** True when coxswain serves the Ingress: its class is "coxswain", or it names none. */
export function isServedIngress(ingress: Ingress): boolean {
  const c = ingressClassOf(ingress);
  return c === undefined || c === COXSWAIN_INGRESS_CLASS;
}

/**
 * How a path is matched: Exact as written; Prefix (and ImplementationSpecific, which coxswain reads as
 * Prefix) without its trailing "/"s, "" for "/" (and for an empty ImplementationSpecific path), so that
 * "/foo" and "/foo/" are the same prefix and match "/foo", "/foo/" and "/foo/…" but not "/foobar".
 */
export function routedPath(path: string | undefined, pathType: "Exact" | "Prefix" | "ImplementationSpecific"): { match: "Exact" | "Prefix"; path: string } {
  if (pathType === "Exact") return { match: "Exact", path: path ?? "" };
  return { match: "Prefix", path: (path ?? "").replace(/\/+$/, "") };
}

/** Why `host` is not a host an Ingress rule or TLS entry may name, or undefined. */
function hostProblem(host: string, ipAllowed: boolean): string | undefined {
  if (!ipAllowed && isIP(host) !== 0) return "must be a DNS name, not an IP address, as in Kubernetes";
  const name = host.startsWith("*.") ? host.slice(2) : host;
  if (host.length > 253 || !DNS_NAME.test(name)) {
    return host.includes("*")
      ? `a wildcard host must be "*." followed by a DNS name, as in Kubernetes (lowercase letters, digits, '-' and '.'; "*" only as the whole first label) (got ${showValue(host)})`
      : `must be a DNS name, as in Kubernetes: lowercase letters, digits, '-' and '.', each part starting and ending with a letter or digit, at most 253 characters (got ${showValue(host)})`;
  }
  return undefined;
}

/** Rules for an Ingress beyond its schema (see the file comment). */
export function ingressIssues(ingress: Ingress): Issue[] {
  const issues: Issue[] = [];
  const spec = ingress.spec;
  const warn = (path: Path, message: string): void => {
    issues.push({ code: "InvalidField", severity: "warning", path: [...path], at: "value", message });
  };

  const annotated = ingress.metadata.annotations?.[INGRESS_CLASS_ANNOTATION];
  if (spec.ingressClassName !== undefined && annotated !== undefined) {
    issues.push(
      fieldError("InvalidField", ["metadata", "annotations", INGRESS_CLASS_ANNOTATION], "can not be set when spec.ingressClassName is also set, as in Kubernetes: name the class once, in spec.ingressClassName"),
    );
  } else {
    const cls = ingressClassOf(ingress);
    if (cls !== undefined && cls !== COXSWAIN_INGRESS_CLASS) {
      const at = spec.ingressClassName !== undefined ? ["spec", "ingressClassName"] : ["metadata", "annotations", INGRESS_CLASS_ANNOTATION];
      warn(at, `ingress class ${showValue(cls)} is not coxswain's, so this Ingress is ignored (coxswain serves class "${COXSWAIN_INGRESS_CLASS}" and Ingresses without a class)`);
    }
  }

  if (spec.defaultBackend === undefined && (spec.rules ?? []).length === 0) {
    issues.push(fieldError("InvalidField", ["spec"], "must have a defaultBackend or at least one rule, as in Kubernetes"));
  }
  if (spec.defaultBackend !== undefined) issues.push(...backendIssues(spec.defaultBackend, ["spec", "defaultBackend"]));

  const valid = new Set<string>();
  (spec.rules ?? []).forEach((rule, i) => {
    const rulePath = ["spec", "rules", i];
    if (rule.host !== undefined) {
      const problem = hostProblem(rule.host, false);
      if (problem) issues.push(fieldError("InvalidField", [...rulePath, "host"], problem));
    }
    (rule.http?.paths ?? []).forEach((p, j) => {
      const at = [...rulePath, "http", "paths", j];
      issues.push(...backendIssues(p.backend, [...at, "backend"]));
      const problem = pathProblem(p.path, p.pathType);
      if (problem) {
        issues.push(fieldError("InvalidField", [...at, "path"], problem));
        return;
      }
      valid.add(`${i}/${j}`);
      if (p.pathType === "ImplementationSpecific" && p.path !== undefined && REGEX_CHARACTERS.test(p.path)) {
        warn([...at, "path"], `coxswain matches an ImplementationSpecific path as a Prefix path, not as a regular expression: ${showValue(p.path)} matches only requests that start with it element by element`);
      }
    });
  });
  // Paths of this Ingress that route the same requests: the one compareClaims puts first is used.
  const groups = new Map<string, IngressPathClaim[]>();
  for (const c of ingressPathClaims(ingress)) {
    if (valid.has(`${c.rule}/${c.index}`)) groups.set(c.key, [...(groups.get(c.key) ?? []), c]);
  }
  for (const list of groups.values()) {
    const [used, ...others] = [...list].sort(compareClaims);
    for (const c of others) {
      warn(
        ["spec", "rules", c.rule, "http", "paths", c.index, "path"],
        `routes the same requests as rules[${used!.rule}].http.paths[${used!.index}] (same host, ${c.match === "Exact" ? "Exact path" : "prefix"}), which is used instead: this path never is`,
      );
    }
  }

  (spec.tls ?? []).forEach((t, i) => {
    const at = ["spec", "tls", i];
    (t.hosts ?? []).forEach((h, j) => {
      const problem = hostProblem(h, true);
      if (problem) issues.push(fieldError("InvalidField", [...at, "hosts", j], problem));
    });
    if (t.secretName === undefined || t.secretName === "") {
      issues.push(
        fieldError(
          "InvalidField",
          [...at, "secretName"],
          "is required: a TLS entry without secretName uses the controller's default certificate, and coxswain has none; name a kubernetes.io/tls Secret of this namespace",
        ),
      );
    }
  });
  return issues;
}

/** A backend names a Service (a DNS-1035 label) and exactly one of its port's number and name (an IANA service name). */
function backendIssues(backend: IngressBackend, path: Path): Issue[] {
  const service = backend.service;
  if (service === undefined) return [fieldError("InvalidField", path, "must name a service (name and port), as in Kubernetes")];
  const issues: Issue[] = [];
  if (!isServiceName(service.name)) {
    issues.push(
      fieldError(
        "InvalidField",
        [...path, "service", "name"],
        `must be a Service name, a DNS-1035 label, as in Kubernetes: at most 63 lowercase letters, digits and '-', starting with a letter (got ${showValue(service.name)})`,
      ),
    );
  }
  const { name, number } = service.port;
  if (name !== undefined && number !== undefined) {
    issues.push(fieldError("InvalidField", [...path, "service", "port"], "must have either number or name, not both, as in Kubernetes"));
  } else if (name === undefined && number === undefined) {
    issues.push(fieldError("InvalidField", [...path, "service", "port"], "must have a number or a name, as in Kubernetes"));
  } else if (name !== undefined) {
    const problem = ianaServiceNameProblem(name);
    if (problem) issues.push(fieldError("InvalidField", [...path, "service", "port", "name"], `a port name must be an IANA service name, as in Kubernetes: ${problem} (got ${showValue(name)})`));
  }
  return issues;
}

/** Why a path of this pathType cannot be routed, or undefined. */
function pathProblem(path: string | undefined, pathType: "Exact" | "Prefix" | "ImplementationSpecific"): string | undefined {
  if (pathType === "ImplementationSpecific" && (path === undefined || path === "")) return undefined;
  if (path === undefined || !path.startsWith("/")) {
    return `must be an absolute path (starting with "/") for pathType ${pathType}, as in Kubernetes (got ${path === undefined ? "nothing" : showValue(path)})`;
  }
  if (pathType !== "ImplementationSpecific") {
    const sequence = INVALID_PATH_SEQUENCES.find((s) => path.includes(s));
    if (sequence) return `must not contain '${sequence}', as in Kubernetes (got ${showValue(path)})`;
    const suffix = INVALID_PATH_SUFFIXES.find((s) => path.endsWith(s));
    if (suffix) return `cannot end with '${suffix}', as in Kubernetes (got ${showValue(path)})`;
  }
  if (!URL_PATH.test(path)) {
    if (pathType === "ImplementationSpecific" && REGEX_CHARACTERS.test(path)) {
      return `coxswain matches an ImplementationSpecific path as a Prefix path, not as a regular expression, and no request path holds ${showValue(path)}: write the prefix the expression stands for`;
    }
    return `must be a URL path as requests send it: letters, digits, "-._~!$&'()*+,;=:@/" and %XX escapes; no request could match ${showValue(path)}`;
  }
  return undefined;
}

/**
 * One path of an Ingress as routing sees it: the host group it belongs to, how it matches, where it is
 * declared. Two claims with the same key route the same requests; compareClaims says which one is used.
 */
export interface IngressPathClaim {
  /** "namespace/name" of the Ingress. */
  ingress: string;
  rule: number;
  index: number;
  host?: string;
  pathType: "Exact" | "Prefix" | "ImplementationSpecific";
  /** See routedPath. */
  match: "Exact" | "Prefix";
  path: string;
  /** Host, match and routed path: equal keys route the same requests. */
  key: string;
}

/**
 * The claim of one path: `path` and `pathType` as written, at rules[rule].http.paths[index] of the Ingress
 * "namespace/name" `ingress`. The one place a claim's key is made, so validation and routing agree on it.
 */
export function pathClaim(ingress: string, rule: number, index: number, host: string | undefined, path: string | undefined, pathType: IngressPathClaim["pathType"]): IngressPathClaim {
  const r = routedPath(path, pathType);
  return {
    ingress,
    rule,
    index,
    ...(host !== undefined ? { host } : {}),
    pathType,
    match: r.match,
    path: r.path,
    key: `${host ?? ""}\n${r.match}\n${r.path}`,
  };
}

/** Every path of an Ingress, in declaration order, as claims (see IngressPathClaim). */
export function ingressPathClaims(ingress: Ingress): IngressPathClaim[] {
  const id = `${ingress.metadata.namespace ?? "default"}/${ingress.metadata.name}`;
  return (ingress.spec.rules ?? []).flatMap((rule, i) => (rule.http?.paths ?? []).map((p, j) => pathClaim(id, i, j, rule.host, p.path, p.pathType)));
}

/**
 * Orders claims with the same key, the one that is used first: an Exact or Prefix path before an
 * ImplementationSpecific one (Kubernetes' rule for paths that match equally), then by Ingress
 * namespace/name, then in declaration order. Kubernetes leaves conflicts between Ingresses to the
 * controller; coxswain's order depends on nothing but the objects, so every node and every run agrees.
 */
export function compareClaims(a: IngressPathClaim, b: IngressPathClaim): number {
  const rank = (c: IngressPathClaim): number => (c.pathType === "ImplementationSpecific" ? 1 : 0);
  return rank(a) - rank(b) || (a.ingress < b.ingress ? -1 : a.ingress > b.ingress ? 1 : 0) || a.rule - b.rule || a.index - b.index;
}
