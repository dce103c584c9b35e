/**
 * buildGraph: a commit's validated objects → the desired-state graph plus the reference and ordering
 * problems that schema validation cannot see (they need the whole commit): undeclared namespaces, missing
 * ConfigMaps or keys, missing PriorityClasses, a Node's TLS Secret, depends-on naming nothing, more than one
 * global default PriorityClass, dependency cycles and dependencies in a later sync wave, the rules of
 * Services against Nodes and workloads (services.ts), of Ingresses against Services and Secrets
 * (ingresses.ts), and of Rollouts against the Services they name (rollout-services.ts).
 */
import { X509Certificate, createPrivateKey, type KeyObject } from "node:crypto";
import type { ErrorCode } from "../api/errors.js";
import { DEFAULT_NAMESPACE, KINDS, compareKeys, keyOf, makeKey, podTemplated, type ResourceKey, type Secret } from "../api/objects.js";
import { BUILTIN_PRIORITY_CLASSES } from "../manifest/cluster.js";
import { secretKeys, secretValue } from "../manifest/secret.js";
import { statefulClaimNames } from "../manifest/statefulset.js";
import { compareDiagnostics, type Diagnostic, type ManifestObject } from "../manifest/types.js";
import { autoscalerReferences } from "./autoscalers.js";
import { DEPENDS_ON_ANNOTATION, parseDependsOn, resolveBareName } from "./depends-on.js";
import { DesiredGraph, type GraphEdge } from "./graph.js";
import { disruptionBudgetGraph } from "./disruption-budgets.js";
import { ingressDiagnostics } from "./ingresses.js";
import { pullSecretDiagnostics } from "./pull-secrets.js";
import { podReferences } from "./pod-references.js";
import { rolloutServiceDiagnostics } from "./rollout-services.js";
import { serviceDiagnostics } from "./services.js";
import { volumeReferences } from "./volume-references.js";
import { formatFieldPath, type PathSegment } from "../manifest/paths.js";

/** A path into an object: property names and array indexes, outermost first. */
type FieldPath = readonly PathSegment[];

/** The keys a Node's TLS Secret must hold, PEM-encoded. */
const NODE_TLS_KEYS: readonly string[] = ["ca.crt", "tls.crt", "tls.key"];

/** The result of building a graph: the graph (always built) and diagnostics sorted by position. */
export interface GraphBuild {
  graph: DesiredGraph;
  /** Errors block the commit; the graph is still returned so that `plan` can show what it could. */
  diagnostics: Diagnostic[];
}

/**
 * Builds the desired-state graph of one commit.
 *
 * Edges (dependency → dependent): a declared Namespace → every object in it; a ConfigMap or Secret → every workload
 * (every kind that makes pods) whose containers read it (env valueFrom.configMapKeyRef or secretKeyRef, envFrom;
 * optional refs too, when it exists: pod-references.ts), or mounts it as a configMap or secret volume
 * (volume-references.ts); a PersistentVolumeClaim → every workload that mounts it; a PriorityClass → every workload whose pod template names it; a Secret → every Node whose
 * spec.tls.secretRef names it; a workload with a scale subresource → the HorizontalPodAutoscaler that scales it; a StatefulSet's headless Service (spec.serviceName) and claims in Git named as its claim
 * templates name them → the StatefulSet, when present; a PodDisruptionBudget → every workload whose pod template
 * its selector matches (disruption-budgets.ts, which warns about a budget that guards none); each
 * `coxswain.io/depends-on` entry → the annotated object.
 *
 * Diagnostics (errors unless said otherwise, each at the offending field): MissingReference for a namespace other than
 * "default" without a Namespace object, a non-optional env reference to a ConfigMap, Secret or key that does
 * not exist (pod-references.ts, which also warns about envFrom keys that are skipped), a non-optional configMap or secret
 * volume whose object or listed key does not exist, a persistentVolumeClaim volume whose claim is not declared, a priorityClassName that is neither declared nor built in, a Node TLS Secret that is not in the
 * commit, a depends-on entry naming an object not in the commit; SecretInvalid for a Node TLS Secret without
 * ca.crt, tls.crt and tls.key as PEM (a certificate, a certificate, and the certificate's private key);
 * InvalidField for a malformed or ambiguous depends-on entry, for an env reference to a value holding a NUL
 * byte or (a Secret's) not UTF-8 (no environment can hold one; the value is never shown), and for a second PriorityClass with globalDefault
 * (in key order); DependencyCycle once per cycle (at the first object of the cycle, on the field that
 * declares its dependency on the next) and once per edge whose dependency is in a later sync wave than its
 * dependent (at the dependent's field that declares the edge); DuplicateObject when two objects share a key
 * (the loader normally drops those; the first by file, line, col is kept); and serviceDiagnostics'
 * (services.ts: nodePorts outside a node's portRange or in two Services are errors, a selector or targetPort
 * that matches no workload's pods is a warning) and ingressDiagnostics' (ingresses.ts: a backend Service or
 * port, or a TLS Secret, that is not in the commit or not usable is an error; conflicts between Ingresses
 * are warnings) and rolloutServiceDiagnostics' (rollout-services.ts: a Service a Rollout names that is not
 * in its namespace, headless, or does not select its pods, or that two fields name, is an error) and
 * pullSecretDiagnostics' (pull-secrets.ts: an imagePullSecrets entry naming no Secret, or no usable pull
 * Secret) and autoscalerReferences' (autoscalers.ts: a scaleTargetRef naming no workload of the commit, or
 * one another autoscaler scales). No
 * message contains a Secret value. The output does not
 * depend on the order of `objects`.
 */
export function buildGraph(objects: readonly ManifestObject[]): GraphBuild {
  const diagnostics: Diagnostic[] = [];
  const report = (m: ManifestObject, code: ErrorCode, path: FieldPath, message: string): void => {
    diagnostics.push({ ...m.locate(path), code, severity: "error", field: formatFieldPath(path), message });
  };

  const sorted = [...objects].sort((a, b) => compareKeys(keyOf(a.object), keyOf(b.object)) || comparePositions(a.source, b.source));
  const byKey = new Map<ResourceKey, ManifestObject>();
  for (const m of sorted) {
    const key = keyOf(m.object);
    const first = byKey.get(key);
    if (first) {
      const at = `${first.source.file}:${first.source.line}`;
      report(m, "DuplicateObject", [], `${key} is already declared at ${at}: expected each object once`);
      continue;
    }
    byKey.set(key, m);
  }

  // Edge (from → to) → the field of `to` that declares it; the first declaration wins (objects and fields
  // are visited in a fixed order).
  const edges = new Map<string, { edge: GraphEdge; path: FieldPath }>();
  const addEdge = (from: ResourceKey, to: ResourceKey, path: FieldPath): void => {
    const id = `${from}\n${to}`;
    if (!edges.has(id)) edges.set(id, { edge: { from, to }, path });
  };

  let globalDefault: ResourceKey | undefined;
  for (const [key, m] of byKey) {
    const obj = m.object;
    const namespace = KINDS[obj.kind].namespaced ? (obj.metadata.namespace ?? DEFAULT_NAMESPACE) : undefined;

    if (namespace !== undefined) {
      const nsKey = makeKey("Namespace", namespace);
      if (byKey.has(nsKey)) addEdge(nsKey, key, ["metadata", "namespace"]);
      else if (namespace !== DEFAULT_NAMESPACE) {
        report(
          m,
          "MissingReference",
          ["metadata", "namespace"],
          `namespace "${namespace}" is not declared: expected a Namespace object named "${namespace}" in this commit ` + `(only "${DEFAULT_NAMESPACE}" exists without one)`,
        );
      }
    }

    // A workload's pod template, a bare Pod's spec through its view, a CronJob's jobTemplate: the same edges,
    // at the object's own paths.
    const templated = podTemplated(obj);
    if (templated) {
      const { owner, path: own } = templated;
      const podSpec = owner.spec.template.spec;
      const refs = podReferences(owner, namespace!, (k) => byKey.get(k)?.object);
      for (const e of refs.edges) addEdge(e.from, key, own(e.path));
      for (const p of refs.problems) diagnostics.push({ ...m.locate(own(p.path)), code: p.code, severity: p.severity, field: formatFieldPath(own(p.path)), message: p.message });

      // configMap, secret and persistentVolumeClaim volumes (volume-references.ts).
      for (const ref of volumeReferences(owner, namespace ?? DEFAULT_NAMESPACE, (k) => byKey.get(k)?.object)) {
        if ("dependency" in ref) addEdge(ref.dependency, key, own(ref.path));
        else report(m, "MissingReference", own(ref.path), ref.missing);
      }

      const className = podSpec.priorityClassName;
      if (className !== undefined && !Object.hasOwn(BUILTIN_PRIORITY_CLASSES, className)) {
        const pcKey = makeKey("PriorityClass", className);
        const path = own(["spec", "template", "spec", "priorityClassName"]);
        if (byKey.has(pcKey)) addEdge(pcKey, key, path);
        else {
          const builtins = Object.keys(BUILTIN_PRIORITY_CLASSES).sort().join(", ");
          report(
            m,
            "MissingReference",
            path,
            `PriorityClass "${className}" is not declared: expected a PriorityClass of that name in this commit ` + `(Kubernetes rejects pods that name a missing class; built in: ${builtins})`,
          );
        }
      }
    }

    if (obj.kind === "StatefulSet") {
      // Its headless Service (the pods' stable names) and claims in Git that its claim templates name, when present.
      const serviceKey = obj.spec.serviceName ? makeKey("Service", obj.spec.serviceName, namespace) : undefined;
      if (serviceKey !== undefined && byKey.has(serviceKey)) addEdge(serviceKey, key, ["spec", "serviceName"]);
      for (let o = 0; o < (obj.spec.replicas ?? 1); o++) {
        statefulClaimNames(obj, o).forEach((claim, i) => {
          const claimKey = makeKey("PersistentVolumeClaim", claim, namespace);
          if (byKey.has(claimKey)) addEdge(claimKey, key, ["spec", "volumeClaimTemplates", i]);
        });
      }
    }

    if (obj.kind === "Node" && obj.spec.tls) {
      const ref = obj.spec.tls.secretRef;
      const secretNamespace = ref.namespace ?? DEFAULT_NAMESPACE;
      const secretKey = makeKey("Secret", ref.name, secretNamespace);
      const path = ["spec", "tls", "secretRef", "name"];
      const secret = byKey.get(secretKey)?.object;
      if (secret?.kind === "Secret") {
        addEdge(secretKey, key, path);
        const problem = tlsSecretProblem(secret);
        if (problem) report(m, "SecretInvalid", path, `Secret "${ref.name}" in namespace "${secretNamespace}" ${problem}`);
      } else {
        report(
          m,
          "MissingReference",
          path,
          `Secret "${ref.name}" is not declared in namespace "${secretNamespace}": expected a Secret of that name in this commit ` + `holding ${NODE_TLS_KEYS.join(", ")} for ${obj.spec.endpoint}`,
        );
      }
    }

    if (obj.kind === "PriorityClass" && obj.globalDefault === true) {
      if (globalDefault === undefined) globalDefault = key;
      else {
        report(m, "InvalidField", ["globalDefault"], `${globalDefault} is already the global default: at most one PriorityClass may have globalDefault: true (as in Kubernetes)`);
      }
    }

    const dependsOn = obj.metadata.annotations?.[DEPENDS_ON_ANNOTATION];
    if (dependsOn !== undefined) {
      const path = ["metadata", "annotations", DEPENDS_ON_ANNOTATION];
      for (const entry of parseDependsOn(dependsOn, namespace)) {
        if ("error" in entry) {
          report(m, "InvalidField", path, entry.error);
          continue;
        }
        if ("bare" in entry) {
          // A bare name is a workload in the same namespace, of any kind that makes pods.
          const resolved = resolveBareName(entry.bare, (k) => byKey.has(k));
          if ("key" in resolved) addEdge(resolved.key, key, path);
          else report(m, resolved.code, path, resolved.error);
          continue;
        }
        const target = entry.key;
        if (byKey.has(target)) addEdge(target, key, path);
        else {
          report(m, "MissingReference", path, `depends-on entry "${entry.entry}" names ${target}, which is not in this commit: ` + `expected an object of that kind, namespace and name`);
        }
      }
    }
  }

  // HorizontalPodAutoscalers: target → autoscaler, a missing target or a second autoscaler of one (autoscalers.ts).
  const scaled = autoscalerReferences([...byKey.values()], (k) => byKey.has(k));
  for (const e of scaled.edges) addEdge(e.from, e.to, e.path);
  for (const p of scaled.problems) report(p.object, p.code, p.path, p.message);

  diagnostics.push(...serviceDiagnostics([...byKey.values()]));
  diagnostics.push(...ingressDiagnostics([...byKey.values()]));
  diagnostics.push(...rolloutServiceDiagnostics([...byKey.values()]));
  diagnostics.push(...pullSecretDiagnostics([...byKey.values()]));
  const budgets = disruptionBudgetGraph([...byKey.values()]);
  for (const e of budgets.edges) addEdge(e.from, e.to, e.path);
  diagnostics.push(...budgets.diagnostics);

  const graph = new DesiredGraph(
    [...byKey.values()].map((m) => ({ object: m.object, source: m.source })),
    [...edges.values()].map((e) => e.edge),
  );

  for (const cycle of graph.cycles()) {
    const first = cycle[0]!;
    const next = cycle[1 % cycle.length]!;
    const path = edges.get(`${next}\n${first}`)!.path;
    const listed = [...cycle, first].join(" → ");
    report(byKey.get(first)!, "DependencyCycle", path, `dependency cycle: ${listed} (each depends on the next): expected dependencies without cycles`);
  }

  for (const { from, to } of graph.waveConflicts()) {
    const wf = graph.waveOf(from);
    const wt = graph.waveOf(to);
    report(
      byKey.get(to)!,
      "DependencyCycle",
      edges.get(`${from}\n${to}`)!.path,
      `${to} (sync-wave ${wt}) depends on ${from} (sync-wave ${wf}), a later wave: waves apply lower first, so the ` +
        `dependency and the waves contradict each other; expected ${from} in wave ${wt} or lower, or ${to} in wave ${wf} or higher`,
    );
  }

  diagnostics.sort(compareDiagnostics);
  return { graph, diagnostics };
}

/**
 * What is wrong with a Secret used for a Node's TLS, or undefined: each of ca.crt, tls.crt and tls.key present
 * and PEM (certificates and a private key), and the key belonging to tls.crt. Names keys, never values.
 */
export function tlsSecretProblem(secret: Secret): string | undefined {
  const have = secretKeys(secret);
  const missing = NODE_TLS_KEYS.filter((k) => !have.includes(k));
  if (missing.length > 0) {
    return `has no ${missing.join(", ")} (keys: ${have.length ? have.join(", ") : "none"}): expected ${NODE_TLS_KEYS.join(", ")}, PEM-encoded`;
  }
  const certs: Record<string, X509Certificate> = {};
  for (const k of ["ca.crt", "tls.crt"]) {
    try {
      certs[k] = new X509Certificate(secretValue(secret, k)!);
    } catch {
      return `holds a ${k} that is not a PEM certificate: expected "-----BEGIN CERTIFICATE-----" …`;
    }
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(secretValue(secret, "tls.key")!);
  } catch {
    return `holds a tls.key that is not a PEM private key (an encrypted key cannot be used): expected "-----BEGIN PRIVATE KEY-----" or an RSA/EC key`;
  }
  if (!certs["tls.crt"]!.checkPrivateKey(key)) return "holds a tls.key that is not the private key of its tls.crt: expected the key pair of the client certificate";
  return undefined;
}

function comparePositions(a: { file: string; line: number; col: number }, b: typeof a): number {
  if (a.file !== b.file) return a.file < b.file ? -1 : 1;
  return a.line - b.line || a.col - b.col;
}
