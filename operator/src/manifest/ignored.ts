/**
 * Kinds that mean nothing on Docker hosts but sit in the manifests people copy (RBAC next to every
 * Deployment, a NetworkPolicy): read, named in one warning that says why they are
 * ignored, and left out of the commit's objects. Everything else coxswain does not know is an UnknownKind
 * error. The list stops at kinds whose absence changes nothing a workload does on coxswain or makes it
 * only less restricted in a way the warning spells out; LimitRange and ResourceQuota, which would change or
 * refuse pods, stay errors.
 */

/** What coxswain knows about a kind it ignores. */
export interface IgnoredKind {
  /** The apiVersions Kubernetes serves it under today (a removed beta is refused, as Kubernetes does). */
  readonly apiVersions: readonly [string, ...string[]];
  /** Namespaced kinds are named Kind/namespace/name in messages, cluster-scoped ones Kind/name. */
  readonly namespaced: boolean;
  /** Why it is ignored: the end of "<Kind> is ignored: <why>". */
  readonly why: string;
}

const RBAC = "it grants access to the Kubernetes API, and coxswain serves none (pods get no service account token to use it with)";

/** The ignored kinds, by name; `coxswain kinds` and README list them. */
export const IGNORED_KINDS: Readonly<Record<string, IgnoredKind>> = Object.freeze({
  ClusterRole: { apiVersions: ["rbac.authorization.k8s.io/v1"], namespaced: false, why: RBAC },
  ClusterRoleBinding: { apiVersions: ["rbac.authorization.k8s.io/v1"], namespaced: false, why: RBAC },
  NetworkPolicy: {
    apiVersions: ["networking.k8s.io/v1"],
    namespaced: true,
    why: "coxswain does not filter traffic between pods: every pod can reach every Service and node port, so restrict access on the hosts (a firewall)",
  },
  Role: { apiVersions: ["rbac.authorization.k8s.io/v1"], namespaced: true, why: RBAC },
  RoleBinding: { apiVersions: ["rbac.authorization.k8s.io/v1"], namespaced: true, why: RBAC },
  ServiceAccount: {
    apiVersions: ["v1"],
    namespaced: true,
    why: "coxswain serves no Kubernetes API, so a pod needs no identity for it and no token is mounted",
  },
});

/** The IgnoredKind of a kind name, or undefined when coxswain does not ignore it. */
export function ignoredKind(kind: string): IgnoredKind | undefined {
  return Object.hasOwn(IGNORED_KINDS, kind) ? IGNORED_KINDS[kind] : undefined;
}
