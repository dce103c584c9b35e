/**
 * The kinds coxswain accepts, their identity (ResourceKey) and the helpers every stage uses to name them.
 */
import type {
  ConfigMap,
  CronJob,
  DaemonSet,
  Deployment,
  HorizontalPodAutoscaler,
  Ingress,
  Job,
  Namespace,
  Node,
  PersistentVolumeClaim,
  Pod,
  PodDisruptionBudget,
  PriorityClass,
  ReplicaSet,
  ReplicationController,
  Rollout,
  Secret,
  Service,
  StatefulSet,
} from "./generated/index.js";

import type { PodTemplateSpec } from "./generated/common.js";
import type { ObjectMeta } from "./meta.js";

export type {
  ConfigMap,
  CronJob,
  DaemonSet,
  Deployment,
  HorizontalPodAutoscaler,
  Ingress,
  Job,
  Namespace,
  Node,
  PersistentVolumeClaim,
  Pod,
  PodDisruptionBudget,
  PriorityClass,
  ReplicaSet,
  ReplicationController,
  Rollout,
  Secret,
  Service,
  StatefulSet,
} from "./generated/index.js";

/** Any object coxswain accepts from a repository, after validation and defaulting. */
export type DesiredObject =
  | Namespace
  | ConfigMap
  | Secret
  | CronJob
  | DaemonSet
  | Deployment
  | Job
  | ReplicaSet
  | ReplicationController
  | Rollout
  | Node
  | PriorityClass
  | Service
  | Ingress
  | PersistentVolumeClaim
  | Pod
  | PodDisruptionBudget
  | StatefulSet
  | HorizontalPodAutoscaler;

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
  DaemonSet: kind(["apps/v1"], true, "daemonset.yaml"),
  Deployment: kind(["apps/v1"], true, "deployment.yaml"),
  HorizontalPodAutoscaler: kind(["autoscaling/v2"], true, "horizontalpodautoscaler.yaml"),
  Ingress: kind(["networking.k8s.io/v1"], true, "ingress.yaml"),
  Job: kind(["batch/v1"], true, "job.yaml"),
  Namespace: kind(["v1"], false, "namespace.yaml"),
  Node: kind(["coxswain.io/v1alpha1"], false, "node.yaml"),
  PersistentVolumeClaim: kind(["v1"], true, "persistentvolumeclaim.yaml"),
  Pod: kind(["v1"], true, "pod.yaml"),
  PodDisruptionBudget: kind(["policy/v1"], true, "poddisruptionbudget.yaml"),
  PriorityClass: kind(["scheduling.k8s.io/v1"], false, "priorityclass.yaml"),
  ReplicaSet: kind(["apps/v1"], true, "replicaset.yaml"),
  ReplicationController: kind(["v1"], true, "replicationcontroller.yaml"),
  Rollout: kind(["argoproj.io/v1alpha1", "coxswain.io/v1alpha1"], true, "rollout.yaml"),
  Secret: kind(["v1"], true, "secret.yaml"),
  Service: kind(["v1"], true, "service.yaml"),
  StatefulSet: kind(["apps/v1"], true, "statefulset.yaml"),
});

/** The workload kinds: objects with a pod template at spec.template that controllers turn into pods (a Job's run to completion). */
export type Workload = DaemonSet | Deployment | Job | ReplicaSet | ReplicationController | Rollout | StatefulSet;

/** The kinds whose objects are workloads, sorted. */
export const WORKLOAD_KINDS: readonly Workload["kind"][] = Object.freeze(["DaemonSet", "Deployment", "Job", "ReplicaSet", "ReplicationController", "Rollout", "StatefulSet"]);

/** True for the WORKLOAD_KINDS: objects with a pod template at spec.template. */
export function isWorkload(obj: DesiredObject): obj is Workload {
  return (WORKLOAD_KINDS as readonly string[]).includes(obj.kind);
}

/**
 * A bare Pod seen as the owner of a pod template: its labels and annotations as the template's metadata, its
 * spec as the template's spec (the same objects, not copies). Template planning, the graph's references,
 * the policy and the scheduler read a Pod through this view, the one way they read a workload's template.
 */
export interface PodView {
  kind: "Pod";
  metadata: ObjectMeta;
  spec: { template: PodTemplateSpec };
}

/** What owns a pod template: a workload, or a bare Pod seen through its view. */
export type TemplateOwner = Workload | PodView;

/** The kinds that make pods: the workloads and the bare Pod, sorted. They roll out and are gated (sync/gate.ts). */
export const POD_OWNER_KINDS: readonly TemplateOwner["kind"][] = Object.freeze([...WORKLOAD_KINDS, "Pod" as const].sort());

/** The template owner an object is: a workload itself, a Pod's view (podView); undefined for other kinds. */
export function templateOwnerOf(obj: DesiredObject): TemplateOwner | undefined {
  return isWorkload(obj) ? obj : obj.kind === "Pod" ? podView(obj) : undefined;
}

/** The view of a bare Pod as a template owner (see PodView). */
export function podView(pod: Pod): PodView {
  const meta = pod.metadata;
  return {
    kind: "Pod",
    metadata: meta,
    spec: { template: { metadata: { ...(meta.labels ? { labels: meta.labels } : {}), ...(meta.annotations ? { annotations: meta.annotations } : {}) }, spec: pod.spec } },
  };
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
    metadata: {
      name,
      ...(cj.metadata.namespace !== undefined ? { namespace: cj.metadata.namespace } : {}),
      ...(meta?.labels ? { labels: meta.labels } : {}),
      ...(meta?.annotations ? { annotations: meta.annotations } : {}),
    },
    spec: cj.spec.jobTemplate.spec,
  };
}

/**
 * A path into an owner's template as the path of the object's own field: unchanged for a workload;
 * spec.template.spec.… → spec.… and spec.template.metadata.… → metadata.… for a Pod (file:line of its field).
 */
export function ownerPath<T extends string | number>(owner: TemplateOwner, path: readonly T[]): T[] {
  if (owner.kind !== "Pod" || path[0] !== "spec" || path[1] !== "template") return [...path];
  return path[2] === "spec" ? (["spec", ...path.slice(3)] as T[]) : path.slice(2);
}

/**
 * An object's pod template as a template owner's, with `path` turning the owner's field paths (spec.template…)
 * into the object's own: a workload itself; a bare Pod through its view (spec.…, metadata.…); a CronJob seen as
 * its Job (cronJobAsJob: spec.jobTemplate.spec.template…). What checks pod templates (references, pull Secrets,
 * policy) goes through this, so every kind that makes pods gets every check at its own lines.
 */
export function podTemplated(obj: DesiredObject): { owner: TemplateOwner; path<T extends string | number>(p: readonly T[]): (T | string)[] } | undefined {
  const owner = templateOwnerOf(obj);
  if (owner) return { owner, path: (p) => ownerPath(owner, p) };
  if (obj.kind === "CronJob") return { owner: cronJobAsJob(obj), path: (p) => (p[0] === "spec" ? ["spec", "jobTemplate", ...p] : [...p]) };
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
  return typeof kind === "string" && Object.hasOwn(KINDS, kind);
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
