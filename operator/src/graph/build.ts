/**
 * buildGraph: a commit's validated objects → the desired-state graph plus the reference and ordering
 * problems that schema validation cannot see (they need the whole commit): undeclared namespaces, missing
 * ConfigMaps or keys, depends-on naming nothing, and dependency cycles.
 */
import type { ErrorCode } from "../api/errors.js";
import { DEFAULT_NAMESPACE, KINDS, compareKeys, keyOf, makeKey, type ResourceKey } from "../api/objects.js";
import { compareDiagnostics, type Diagnostic, type ManifestObject } from "../manifest/types.js";
import { DEPENDS_ON_ANNOTATION, parseDependsOn } from "./depends-on.js";
import { DesiredGraph, type GraphEdge } from "./graph.js";
import { formatFieldPath, type PathSegment } from "../manifest/paths.js";

/** A path into an object: property names and array indexes, outermost first. */
type FieldPath = readonly PathSegment[];

/** The result of building a graph: the graph (always built) and diagnostics sorted by position. */
export interface GraphBuild {
  graph: DesiredGraph;
  /** Errors block the commit; the graph is still returned so that `plan` can show what it could. */
  diagnostics: Diagnostic[];
}

/**
 * Builds the desired-state graph of one commit.
 *
 * Edges (dependency → dependent): a declared Namespace → every object in it; a ConfigMap → every
 * Deployment with an env valueFrom.configMapKeyRef to it (optional refs too, when the ConfigMap exists);
 * each `coxswain.io/depends-on` entry → the annotated object.
 *
 * Diagnostics (all errors, each at the offending field): MissingReference for a namespace other than
 * "default" without a Namespace object, a non-optional configMapKeyRef to a ConfigMap or key that does not
 * exist, a depends-on entry naming an object not in the commit; InvalidField for a malformed depends-on
 * entry; DependencyCycle once per cycle (at the first object of the cycle, on the field that declares its
 * dependency on the next); DuplicateObject when two objects share a key (the loader normally drops those;
 * the first by file, line, col is kept). The output does not depend on the order of `objects`.
 */
export function buildGraph(objects: readonly ManifestObject[]): GraphBuild {
  const diagnostics: Diagnostic[] = [];
  const report = (m: ManifestObject, code: ErrorCode, path: FieldPath, message: string): void => {
    diagnostics.push({ ...m.locate(path), code, severity: "error", field: formatFieldPath(path), message });
  };

  const sorted = [...objects].sort(
    (a, b) => compareKeys(keyOf(a.object), keyOf(b.object)) || comparePositions(a.source, b.source),
  );
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

  for (const [key, m] of byKey) {
    const obj = m.object;
    const namespace = KINDS[obj.kind].namespaced ? (obj.metadata.namespace ?? DEFAULT_NAMESPACE) : undefined;

    if (namespace !== undefined) {
      const nsKey = makeKey("Namespace", namespace);
      if (byKey.has(nsKey)) addEdge(nsKey, key, ["metadata", "namespace"]);
      else if (namespace !== DEFAULT_NAMESPACE) {
        report(m, "MissingReference", ["metadata", "namespace"],
          `namespace "${namespace}" is not declared: expected a Namespace object named "${namespace}" in this commit ` +
            `(only "${DEFAULT_NAMESPACE}" exists without one)`);
      }
    }

    if (obj.kind === "Deployment") {
      obj.spec.template.spec.containers.forEach((container, ci) => {
        (container.env ?? []).forEach((env, ei) => {
          const ref = env.valueFrom?.configMapKeyRef;
          if (!ref) return;
          const base = ["spec", "template", "spec", "containers", ci, "env", ei, "valueFrom", "configMapKeyRef"];
          const cmKey = makeKey("ConfigMap", ref.name, namespace);
          const cm = byKey.get(cmKey)?.object;
          if (cm?.kind === "ConfigMap") {
            addEdge(cmKey, key, [...base, "name"]);
            const data = cm.data ?? {};
            if (!ref.optional && !Object.prototype.hasOwnProperty.call(data, ref.key)) {
              const have = Object.keys(data).sort();
              report(m, "MissingReference", [...base, "key"],
                `ConfigMap "${ref.name}" in namespace "${namespace}" has no key "${ref.key}" ` +
                  `(keys: ${have.length ? have.join(", ") : "none"}): expected one of its keys, or optional: true`);
            }
          } else if (!ref.optional) {
            report(m, "MissingReference", [...base, "name"],
              `ConfigMap "${ref.name}" is not declared in namespace "${namespace}": expected a ConfigMap of that name ` +
                `in this commit, or optional: true`);
          }
        });
      });
    }

    const dependsOn = obj.metadata.annotations?.[DEPENDS_ON_ANNOTATION];
    if (dependsOn !== undefined) {
      const path = ["metadata", "annotations", DEPENDS_ON_ANNOTATION];
      for (const entry of parseDependsOn(dependsOn, namespace)) {
        if ("error" in entry) report(m, "InvalidField", path, entry.error);
        else if (byKey.has(entry.key)) addEdge(entry.key, key, path);
        else {
          report(m, "MissingReference", path,
            `depends-on entry "${entry.entry}" names ${entry.key}, which is not in this commit: ` +
              `expected an object of that kind, namespace and name`);
        }
      }
    }
  }

  const graph = new DesiredGraph(
    [...byKey.values()].map((m) => ({ object: m.object, source: m.source })),
    [...edges.values()].map((e) => e.edge),
  );

  for (const cycle of graph.cycles()) {
    const first = cycle[0]!;
    const next = cycle[1 % cycle.length]!;
    const path = edges.get(`${next}\n${first}`)!.path;
    const listed = [...cycle, first].join(" → ");
    report(byKey.get(first)!, "DependencyCycle", path,
      `dependency cycle: ${listed} (each depends on the next): expected dependencies without cycles`);
  }

  diagnostics.sort(compareDiagnostics);
  return { graph, diagnostics };
}

function comparePositions(a: { file: string; line: number; col: number }, b: typeof a): number {
  if (a.file !== b.file) return a.file < b.file ? -1 : 1;
  return a.line - b.line || a.col - b.col;
}
