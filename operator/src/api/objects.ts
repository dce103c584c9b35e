/**
 * The kinds coxswain accepts, their identity (ResourceKey) and the helpers every stage uses to name them.
 */
import type { ConfigMap, CronJob, Deployment, Ingress, Job, Namespace, Node, PersistentVolumeClaim, PriorityClass, Rollout, Secret, Service } from "./generated/index.js";

export type { ConfigMap, CronJob, Deployment, Ingress, Job, Namespace, Node, PersistentVolumeClaim, PriorityClass, Rollout, Secret, Service } from "./generated/index.js";

/** Any object coxswain accepts from a repository, after validation and defaulting. */
export type DesiredObject = Namespace | ConfigMap | Secret | CronJob | Deployment | Job | Rollout | Node | PriorityClass | Service | Ingress | PersistentVolumeClaim;

/** The kind names coxswain accepts. */
export type Kind = DesiredObject["kind"];

/** What KINDS says about one kind. */
export interface KindInfo {
  /**
   * The apiVersions a manifest may use for this kind, the canonical one first. Most kinds have one; Rollout
   * is accepted as Argo Rollouts' argoproj.io/v1alpha1 and as coxswain.io/v1alpha1. The key of an object
   * does not depend on which one it was written with.
   */
  readonly apiVersions: readonly [string, ...string[]];
  /** The canonical apiVersion (apiVersions[0]); the group of the CRD file. */
  readonly apiVersion: string;
  /** Namespaced kinds are keyed Kind/namespace/name, cluster-scoped ones Kind/name. */
  readonly namespaced: boolean;
  /** The schema file under crds/. */
  readonly crd: string;
}

function kind(apiVersions: readonly [string, ...string[]], namespaced: boolean, crd: string): KindInfo {
  return Object.freeze({ apiVersions: Object.freeze(apiVersions) as readonly [string, ...string[]], apiVersion: apiVersions[0], namespaced, crd });
}

/** apiVersions and scope per accepted kind; the single table that says what coxswain supports. */
export const KINDS: Readonly<Record<Kind, KindInfo>> = Object.freeze({
  ConfigMap: kind(["v1"], true, "configmap.yaml"),
  CronJob: kind(["batch/v1"], true, "cronjob.yaml"),
  Deployment: kind(["apps/v1"], true, "deployment.yaml"),
  Ingress: kind(["networking.k8s.io/v1"], true, "ingress.yaml"),
  Job: kind(["batch/v1"], true, "job.yaml"),
  Namespace: kind(["v1"], false, "namespace.yaml"),
  Node: kind(["coxswain.io/v1alpha1"], false, "node.yaml"),
  PersistentVolumeClaim: kind(["v1"], true, "persistentvolumeclaim.yaml"),
  PriorityClass: kind(["scheduling.k8s.io/v1"], false, "priorityclass.yaml"),
  Rollout: kind(["argoproj.io/v1alpha1", "coxswain.io/v1alpha1"], true, "rollout.yaml"),
  Secret: kind(["v1"], true, "secret.yaml"),
  Service: kind(["v1"], true, "service.yaml"),
});

/** The workload kinds: objects with a pod template that controllers turn into pods (a Job's run to completion). */
export type Workload = Deployment | Job | Rollout;

/** The kinds whose objects are workloads, sorted. */
export const WORKLOAD_KINDS: readonly Workload["kind"][] = Object.freeze(["Deployment", "Job", "Rollout"]);

/** True for the WORKLOAD_KINDS: objects with a pod template at spec.template. */
export function isWorkload(obj: DesiredObject): obj is Workload {
  return (WORKLOAD_KINDS as readonly string[]).includes(obj.kind);
}

/**
 * The Job a CronJob's run is: named `name` (the CronJob's own by default) in the CronJob's namespace, with the
 * jobTemplate's labels and annotations; its spec IS the jobTemplate's spec (the same object, not a copy).
 */
export function cronJobAsJob(cj: CronJob, name: string = cj.metadata.name): Job {
  const meta = cj.spec.jobTemplate.metadata;
  return {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: { name, ...(cj.metadata.namespace !== undefined ? { namespace: cj.metadata.namespace } : {}), ...(meta?.labels ? { labels: meta.labels } : {}), ...(meta?.annotations ? { annotations: meta.annotations } : {}) },
    spec: cj.spec.jobTemplate.spec,
  };
}

/**
 * An object's pod template as a workload's: a workload itself, or a CronJob seen as its Job (cronJobAsJob),
 * with `path` turning the workload's field paths (spec.template…) into the object's (spec.jobTemplate.spec.template…).
 * What checks pod templates (references, pull Secrets, policy) goes through this, so a CronJob gets every check.
 */
export function podTemplated(obj: DesiredObject): { workload: Workload; path<T extends string | number>(p: readonly T[]): (T | string)[] } | undefined {
  if (isWorkload(obj)) return { workload: obj, path: (p) => [...p] };
  if (obj.kind === "CronJob") return { workload: cronJobAsJob(obj), path: (p) => (p[0] === "spec" ? ["spec", "jobTemplate", ...p] : [...p]) };
  return undefined;
}

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

/** "apps/v1", or "argoproj.io/v1alpha1 or coxswain.io/v1alpha1": a kind's apiVersions for messages. */
export function describeApiVersions(kind: Kind): string {
  return KINDS[kind].apiVersions.join(" or ");
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
