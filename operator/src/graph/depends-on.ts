/**
 * The `coxswain.io/depends-on` annotation: explicit ordering edges written by users.
 *
 * Syntax: comma-separated references, whitespace around entries ignored, empty entries skipped.
 * - "name": a workload in the annotated object's namespace (the common case: web depends on api) — the
 *   object of that name of any kind that makes pods (POD_OWNER_KINDS: the workloads and the bare Pod, the
 *   kinds the coordinated rollout gates); resolveBareName picks it once the whole commit is known, and a
 *   name that several kinds have is ambiguous (an InvalidField error listing them as "Kind/name");
 * - "Kind/name": an object of that kind; namespaced kinds are looked up in the annotated object's namespace;
 * - "Kind/namespace/name": a namespaced object anywhere.
 * A cluster-scoped object has no namespace to resolve relative references against, so on Namespace and Node
 * objects references to namespaced kinds must spell the namespace out.
 */
import { KINDS, POD_OWNER_KINDS, isKind, makeKey, type Kind, type ResourceKey } from "../api/objects.js";
import { listOf } from "../manifest/issue.js";

/** The annotation that declares explicit dependencies. */
export const DEPENDS_ON_ANNOTATION = "coxswain.io/depends-on";

/**
 * One entry of the annotation: resolved to a key, a bare name still to resolve among the kinds that make
 * pods (resolveBareName), or the reason it is not a valid reference.
 */
export type DependsOnEntry = { entry: string; key: ResourceKey } | { entry: string; bare: { name: string; namespace: string } } | { entry: string; error: string };

const SUPPORTED = (Object.keys(KINDS) as Kind[]).sort().join(", ");
const SYNTAX = `expected "name" (a ${listOf(POD_OWNER_KINDS)} in the same namespace), "Kind/name" or "Kind/namespace/name" with Kind one of ${SUPPORTED}`;

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
    if (namespace === undefined) return { entry, error: relativeError(entry, "<Kind>") };
    return { entry, bare: { name: parts[0]!, namespace } };
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

/** What a bare name resolves to in a commit: one key, or an error with its code. */
export type BareNameResolution = { key: ResourceKey } | { code: "MissingReference" | "InvalidField"; error: string };

/**
 * A bare depends-on name among the objects of a commit (`has`): the one object of that name and namespace
 * of a kind that makes pods (POD_OWNER_KINDS); none is a MissingReference, several an InvalidField error
 * that lists them as "Kind/name", sorted by kind.
 */
export function resolveBareName(bare: { name: string; namespace: string }, has: (key: ResourceKey) => boolean): BareNameResolution {
  const found = POD_OWNER_KINDS.filter((kind) => has(makeKey(kind, bare.name, bare.namespace)));
  if (found.length === 1) return { key: makeKey(found[0]!, bare.name, bare.namespace) };
  if (found.length === 0) {
    return {
      code: "MissingReference",
      error: `depends-on entry "${bare.name}" names no workload in namespace "${bare.namespace}": expected a ${listOf(POD_OWNER_KINDS)} of that name in this commit`,
    };
  }
  const candidates = found.map((kind) => `${kind}/${bare.name}`);
  return { code: "InvalidField", error: `depends-on entry "${bare.name}" is ambiguous: ${listOf(candidates, "and")} exist in namespace "${bare.namespace}"; expected one of ${listOf(candidates.map((c) => `"${c}"`))}` };
}

function relativeError(entry: string, kind: Kind | "<Kind>"): string {
  const name = entry.split("/").pop()!;
  return `depends-on entry "${entry}" is relative to a namespace, but the annotated object is cluster-scoped: ` + `expected "${kind}/<namespace>/${name}"`;
}
