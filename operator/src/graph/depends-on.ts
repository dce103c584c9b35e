/**
 * The `coxswain.io/depends-on` annotation: explicit ordering edges written by users.
 *
 * Syntax: comma-separated references, whitespace around entries ignored, empty entries skipped.
 * - "name": a workload in the annotated object's namespace (the common case: web depends on api) — the
 *   Deployment of that name, or the Rollout when there is no such Deployment (buildGraph resolves this: it
 *   needs the whole commit; parseDependsOn returns the Deployment key);
 * - "Kind/name": an object of that kind; namespaced kinds are looked up in the annotated object's namespace;
 * - "Kind/namespace/name": a namespaced object anywhere.
 * A cluster-scoped object has no namespace to resolve relative references against, so on Namespace and Node
 * objects references to namespaced kinds must spell the namespace out.
 */
import { KINDS, isKind, makeKey, type Kind, type ResourceKey } from "../api/objects.js";

/** The annotation that declares explicit dependencies. */
export const DEPENDS_ON_ANNOTATION = "coxswain.io/depends-on";

/** One entry of the annotation, resolved to a key, or the reason it is not a valid reference. */
export type DependsOnEntry = { entry: string; key: ResourceKey } | { entry: string; error: string };

const SUPPORTED = (Object.keys(KINDS) as Kind[]).sort().join(", ");
const SYNTAX = `expected "name" (a Deployment or Rollout in the same namespace), "Kind/name" or "Kind/namespace/name" with Kind one of ${SUPPORTED}`;

/**
 * Parses the annotation's value as written on an object in `namespace` (undefined for cluster-scoped objects).
 * Entries come back in the order written; duplicates are kept (the graph dedupes edges).
 */
export function parseDependsOn(value: string, namespace: string | undefined): DependsOnEntry[] {
  const out: DependsOnEntry[] = [];
  for (const raw of value.split(",")) {
    const entry = raw.trim();
    if (entry === "") continue;
    out.push(resolve(entry, namespace));
  }
  return out;
}

function resolve(entry: string, namespace: string | undefined): DependsOnEntry {
  const parts = entry.split("/");
  if (parts.some((p) => p === "" || /\s/.test(p)) || parts.length > 3) {
    return { entry, error: `depends-on entry "${entry}" is not a reference: ${SYNTAX}` };
  }
  if (parts.length === 1) {
    if (namespace === undefined) return { entry, error: relativeError(entry, "Deployment") };
    return { entry, key: makeKey("Deployment", parts[0]!, namespace) };
  }
  const kind = parts[0]!;
  if (!isKind(kind)) {
    return { entry, error: `depends-on entry "${entry}" names kind "${kind}": ${SYNTAX}` };
  }
  const namespaced = KINDS[kind].namespaced;
  if (parts.length === 2) {
    if (!namespaced) return { entry, key: makeKey(kind, parts[1]!) };
    if (namespace === undefined) return { entry, error: relativeError(entry, kind) };
    return { entry, key: makeKey(kind, parts[1]!, namespace) };
  }
  if (!namespaced) {
    return { entry, error: `depends-on entry "${entry}": ${kind} is cluster-scoped; expected "${kind}/${parts[2]}"` };
  }
  return { entry, key: makeKey(kind, parts[2]!, parts[1]!) };
}

function relativeError(entry: string, kind: Kind): string {
  const name = entry.split("/").pop()!;
  return (
    `depends-on entry "${entry}" is relative to a namespace, but the annotated object is cluster-scoped: ` +
    `expected "${kind}/<namespace>/${name}"`
  );
}
