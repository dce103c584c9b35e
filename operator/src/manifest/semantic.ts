/**
 * Rules beyond the schema (InvalidField) and the defaults a JSON schema cannot express, per kind. Both run
 * only on objects that passed schema validation (with the schema's defaults filled in), so the data has the
 * shapes the generated types describe. The rules themselves live next to their subject: pod.ts (pod
 * templates), workload.ts (DaemonSet, Deployment, Pod, ReplicaSet, ReplicationController, Rollout, StatefulSet), job.ts,
 * cronjob.ts, cluster.ts (Node, PriorityClass), secret.ts, service.ts, ingress.ts, claim.ts, disruption.ts, autoscaler.ts,
 * annotations.ts.
 */
import { DEFAULT_NAMESPACE, KINDS, isWorkload, type ConfigMap, type DesiredObject, type Namespace } from "../api/objects.js";
import { annotationIssues } from "./annotations.js";
import { autoscalerIssues } from "./autoscaler.js";
import { claimIssues } from "./claim.js";
import { applyCronJobDefaults, cronJobIssues } from "./cronjob.js";
import { nodeIssues, priorityClassIssues } from "./cluster.js";
import { disruptionBudgetIssues } from "./disruption.js";
import { ingressIssues } from "./ingress.js";
import { applyJobDefaults, jobIssues } from "./job.js";
import { fieldError, showValue, type Issue } from "./issue.js";
import { mergeStringData, secretIssues } from "./secret.js";
import { applyServiceDefaults, serviceIssues } from "./service.js";
import { applyPodDefaults, applyWorkloadDefaults, daemonSetIssues, deploymentIssues, podIssues, replicaSetIssues, rolloutIssues, statefulSetIssues } from "./workload.js";

/** Kubernetes refuses ConfigMaps whose data exceed 1 MiB. */
const MAX_CONFIGMAP_BYTES = 1024 * 1024;

/**
 * Applies the defaults the schema cannot express, in place, as Kubernetes' defaulting does:
 * - namespaced objects without metadata.namespace land in "default";
 * - Namespaces: spec.finalizers is dropped, and the spec with it when nothing else is in it (reported by
 *   namespaceIssues unless it is what the server sets), so an exported Namespace is the one written by hand;
 * - workloads: see applyWorkloadDefaults (strategy, canary surge, requests from limits);
 * - Secrets: stringData is merged into data (base64), as the API server stores it;
 * - Services: see applyServiceDefaults (targetPort, session affinity; fields reported as ignored are dropped).
 */
export function applyDefaults(obj: DesiredObject): void {
  if (KINDS[obj.kind].namespaced && obj.metadata.namespace === undefined) obj.metadata.namespace = DEFAULT_NAMESPACE;
  if (obj.kind === "Namespace") dropFinalizers(obj);
  else if (obj.kind === "Job") applyJobDefaults(obj);
  else if (isWorkload(obj)) applyWorkloadDefaults(obj);
  else if (obj.kind === "Pod") applyPodDefaults(obj);
  else if (obj.kind === "CronJob") applyCronJobDefaults(obj);
  else if (obj.kind === "Secret") mergeStringData(obj);
  else if (obj.kind === "Service") applyServiceDefaults(obj);
}

/** Rules beyond the schema for one object; InvalidField errors and warnings. Run before applyDefaults. */
export function semanticIssues(obj: DesiredObject): Issue[] {
  return [...kindIssues(obj), ...annotationIssues(obj)];
}

function kindIssues(obj: DesiredObject): Issue[] {
  switch (obj.kind) {
    case "CronJob":
      return cronJobIssues(obj);
    case "DaemonSet":
      return daemonSetIssues(obj);
    case "Deployment":
      return deploymentIssues(obj);
    case "Job":
      return jobIssues(obj);
    case "Rollout":
      return rolloutIssues(obj);
    case "Node":
      return nodeIssues(obj);
    case "Namespace":
      return namespaceIssues(obj);
    case "ConfigMap":
      return configMapIssues(obj);
    case "Secret":
      return secretIssues(obj);
    case "PriorityClass":
      return priorityClassIssues(obj);
    case "Service":
      return serviceIssues(obj);
    case "Ingress":
      return ingressIssues(obj);
    case "PersistentVolumeClaim":
      return claimIssues(obj);
    case "HorizontalPodAutoscaler":
      return autoscalerIssues(obj);
    case "PodDisruptionBudget":
      return disruptionBudgetIssues(obj);
    case "StatefulSet":
      return statefulSetIssues(obj);
    case "Pod":
      return podIssues(obj);
    case "ReplicaSet":
    case "ReplicationController":
      return replicaSetIssues(obj);
  }
}

function dropFinalizers(ns: Namespace): void {
  if (ns.spec?.finalizers === undefined) return;
  delete ns.spec.finalizers;
  if (Object.keys(ns.spec).length === 0) delete ns.spec;
}

/** The finalizers the API server gives every Namespace (kubectl get -o yaml writes them). */
const SERVER_FINALIZERS = ["kubernetes"];

function namespaceIssues(ns: Namespace): Issue[] {
  const issues: Issue[] = [];
  const name = ns.metadata.name;
  if (name.length > 63 || name.includes(".")) {
    issues.push(fieldError("InvalidField", ["metadata", "name"], `a Namespace name must be a DNS-1123 label: at most 63 characters, no '.' (got ${showValue(name)})`));
  }
  const finalizers = ns.spec?.finalizers;
  if (finalizers !== undefined && !(finalizers.length === SERVER_FINALIZERS.length && finalizers.every((f, i) => f === SERVER_FINALIZERS[i]))) {
    issues.push({ code: "InvalidField", severity: "warning", path: ["spec", "finalizers"], at: "value", message: `${showValue(finalizers)} is ignored: coxswain runs no finalizers` });
  }
  return issues;
}

function configMapIssues(cm: ConfigMap): Issue[] {
  let size = 0;
  for (const [k, v] of Object.entries(cm.data ?? {})) size += Buffer.byteLength(k) + Buffer.byteLength(v);
  if (size <= MAX_CONFIGMAP_BYTES) return [];
  return [fieldError("InvalidField", ["data"], `must hold at most ${MAX_CONFIGMAP_BYTES} bytes, as in Kubernetes (got ${size})`)];
}
