import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  KINDS,
  POD_OWNER_KINDS,
  WORKLOAD_KINDS,
  cronJobAsJob,
  describeApiVersions,
  isKind,
  isWorkload,
  makeKey,
  ownerPath,
  parseKey,
  podTemplated,
  templateOwnerOf,
  type CronJob,
  type DesiredObject,
  type Kind,
  type Pod,
} from "../../../operator/src/api/objects.js";

const kinds = Object.keys(KINDS) as Kind[];

describe("KINDS", () => {
  it("lists every kind coxswain accepts", () => {
    expect([...kinds].sort()).toEqual([
      "ConfigMap",
      "CronJob",
      "DaemonSet",
      "Deployment",
      "HorizontalPodAutoscaler",
      "Ingress",
      "Job",
      "Namespace",
      "Node",
      "PersistentVolumeClaim",
      "Pod",
      "PodDisruptionBudget",
      "PriorityClass",
      "ReplicaSet",
      "ReplicationController",
      "Rollout",
      "Secret",
      "Service",
      "StatefulSet",
    ]);
  });

  it("accepts Rollout under Argo's group and coxswain's, Argo's first", () => {
    expect(KINDS.Rollout.apiVersions).toEqual(["argoproj.io/v1alpha1", "coxswain.io/v1alpha1"]);
    expect(describeApiVersions("Rollout")).toBe("argoproj.io/v1alpha1 or coxswain.io/v1alpha1");
    expect(describeApiVersions("Deployment")).toBe("apps/v1");
  });

  it("cannot be changed", () => {
    expect(() => ((KINDS as Record<string, unknown>).NetworkPolicy = {})).toThrow(TypeError);
    expect(() => (KINDS.Rollout.apiVersions as unknown as string[]).push("x")).toThrow(TypeError);
  });

  it("names the workload kinds, and isWorkload agrees", () => {
    expect(WORKLOAD_KINDS).toEqual(["DaemonSet", "Deployment", "Job", "ReplicaSet", "ReplicationController", "Rollout", "StatefulSet"]);
    for (const kind of kinds) expect(isWorkload({ kind } as DesiredObject)).toBe(WORKLOAD_KINDS.includes(kind as never));
  });

  it("makes pods of the workloads and the bare Pod, which is read through its template view at its own paths", () => {
    expect(POD_OWNER_KINDS).toEqual(["DaemonSet", "Deployment", "Job", "Pod", "ReplicaSet", "ReplicationController", "Rollout", "StatefulSet"]);
    const pod: Pod = { apiVersion: "v1", kind: "Pod", metadata: { name: "t", labels: { a: "b" } }, spec: { containers: [{ name: "c", image: "i" }] } };
    const view = templateOwnerOf(pod)!;
    expect(view).toEqual({ kind: "Pod", metadata: pod.metadata, spec: { template: { metadata: { labels: { a: "b" } }, spec: pod.spec } } });
    expect(view.spec.template.spec).toBe(pod.spec);
    expect(ownerPath(view, ["spec", "template", "spec", "containers", 0, "image"])).toEqual(["spec", "containers", 0, "image"]);
    expect(ownerPath(view, ["spec", "template", "metadata", "labels"])).toEqual(["metadata", "labels"]);
    expect(templateOwnerOf({ kind: "ConfigMap", apiVersion: "v1", metadata: { name: "c" } } as DesiredObject)).toBeUndefined();
  });
});

describe("keys of every kind", () => {
  const nameArb = fc.stringMatching(/^[a-z0-9]([-a-z0-9.]{0,20}[a-z0-9])?$/);
  it("round-trip through makeKey and parseKey, namespaced kinds with their namespace", () => {
    fc.assert(
      fc.property(fc.constantFrom(...kinds), nameArb, fc.stringMatching(/^[a-z0-9]{1,10}$/), (kind, name, ns) => {
        expect(isKind(kind)).toBe(true);
        const key = makeKey(kind, name, ns);
        const parsed = parseKey(key);
        expect(parsed.kind).toBe(kind);
        expect(parsed.name).toBe(name);
        expect(parsed.namespace).toBe(KINDS[kind].namespaced ? ns : undefined);
        expect(key.split("/")).toHaveLength(KINDS[kind].namespaced ? 3 : 2);
      }),
    );
  });

  it("put namespaced kinds without a namespace in default", () => {
    expect(makeKey("Secret", "s")).toBe("Secret/default/s");
    expect(makeKey("Rollout", "r")).toBe("Rollout/default/r");
    expect(makeKey("PriorityClass", "p", "ignored")).toBe("PriorityClass/p");
  });

  it("reject keys of unknown kinds or with the wrong number of parts", () => {
    for (const bad of ["NetworkPolicy/default/x", "Rollout/x", "PriorityClass/a/b", "", "Secret"]) expect(() => parseKey(bad), bad).toThrow();
    for (const bad of ["NetworkPolicy", "service", "", 1, null, "toString"]) expect(isKind(bad), String(bad)).toBe(false);
  });

  it("sees a CronJob's jobTemplate as the Job of a run, and maps its pod template's paths under spec.jobTemplate", () => {
    const template: CronJob["spec"]["jobTemplate"]["spec"]["template"] = { metadata: {}, spec: { restartPolicy: "Never", containers: [{ name: "c", image: "i" }] } };
    const cj: CronJob = {
      apiVersion: "batch/v1",
      kind: "CronJob",
      metadata: { name: "report", namespace: "shop", labels: { of: "the-cronjob" } },
      spec: { schedule: "@daily", jobTemplate: { metadata: { labels: { app: "report" } }, spec: { template } } },
    };
    const job = cronJobAsJob(cj, "report-29946330");
    expect(job).toEqual({ apiVersion: "batch/v1", kind: "Job", metadata: { name: "report-29946330", namespace: "shop", labels: { app: "report" } }, spec: cj.spec.jobTemplate.spec });
    expect(job.spec).toBe(cj.spec.jobTemplate.spec);
    const t = podTemplated(cj)!;
    expect(t.owner.metadata.name).toBe("report");
    expect(t.path(["spec", "template", "spec", "containers", 0])).toEqual(["spec", "jobTemplate", "spec", "template", "spec", "containers", 0]);
    expect(t.path(["metadata", "name"])).toEqual(["metadata", "name"]);
    expect(podTemplated({ kind: "ConfigMap" } as DesiredObject)).toBeUndefined();
  });
});
