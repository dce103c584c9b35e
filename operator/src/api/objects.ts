/**
 * The kinds coxswain accepts, their identity (ResourceKey) and the helpers every stage uses to name them.
 */
import type { ConfigMap, Deployment, Namespace, Node } from "./generated/index.js";

export type { ConfigMap, Deployment, Namespace, Node } from "./generated/index.js";

/** Any object coxswain accepts from a repository, after validation and defaulting. */
export type DesiredObject = Namespace | ConfigMap | Deployment | Node;

/** The kind names coxswain accepts, sorted. */
export type Kind = DesiredObject["kind"];

/** apiVersion and scope per accepted kind; the single table that says what coxswain supports. */
export const KINDS: Readonly<Record<Kind, { apiVersion: string; namespaced: boolean; crd: string }>> = {
  ConfigMap: { apiVersion: "v1", namespaced: true, crd: "configmap.yaml" },
  Deployment: { apiVersion: "apps/v1", namespaced: true, crd: "deployment.yaml" },
  Namespace: { apiVersion: "v1", namespaced: false, crd: "namespace.yaml" },
  Node: { apiVersion: "coxswain.io/v1alpha1", namespaced: false, crd: "node.yaml" },
};

/** The namespace namespaced objects land in when metadata.namespace is omitted; never needs declaring. */
export const DEFAULT_NAMESPACE = "default";

/**
 * Identity of an object: "Kind/namespace/name" for namespaced kinds, "Kind/name" for cluster-scoped ones.
 * Plain strings so that they sort, dedupe in Sets and serve as work-queue keys.
 */
export type ResourceKey = string;

/** Returns true when the kind is one coxswain accepts. */
export function isKind(kind: unknown): kind is Kind {
  return typeof kind === "string" && Object.prototype.hasOwnProperty.call(KINDS, kind);
}

/** Builds the key of an object from its parts. */
export function makeKey(kind: Kind, name: string, namespace?: string): ResourceKey {
  return KINDS[kind].namespaced ? `${kind}/${namespace ?? DEFAULT_NAMESPACE}/${name}` : `${kind}/${name}`;
}

/** The key of an object (its namespace defaulted). */
export function keyOf(obj: DesiredObject): ResourceKey {
  return makeKey(obj.kind, obj.metadata.name, obj.metadata.namespace);
}

/** Splits a key back into kind, namespace (undefined when cluster-scoped) and name. */
export function parseKey(key: ResourceKey): { kind: Kind; namespace?: string; name: string } {
  const parts = key.split("/");
  const kind = parts[0];
  if (!isKind(kind)) throw new Error(`not a resource key: ${key}`);
  if (KINDS[kind].namespaced) {
    if (parts.length !== 3) throw new Error(`not a resource key: ${key}`);
    return { kind, namespace: parts[1]!, name: parts[2]! };
  }
  if (parts.length !== 2) throw new Error(`not a resource key: ${key}`);
  return { kind, name: parts[1]! };
}

/** Orders keys the way everything printed, planned or written to Git is ordered: by code unit. */
export function compareKeys(a: ResourceKey, b: ResourceKey): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
