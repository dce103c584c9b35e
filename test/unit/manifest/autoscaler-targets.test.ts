/**
 * What a HorizontalPodAutoscaler may target: every kind coxswain runs that has Kubernetes' scale subresource
 * (Deployment, ReplicaSet, ReplicationController, Rollout, StatefulSet) — an edge target → autoscaler, no
 * diagnostic —, and none other: a DaemonSet, Job, CronJob or Pod target is an InvalidField error at the
 * file:line of scaleTargetRef.kind that names the kinds allowed.
 */
import { describe, expect, it } from "vitest";
import { buildGraph } from "../../../operator/src/graph/index.js";
import { AUTOSCALE_TARGET_KINDS } from "../../../operator/src/manifest/autoscaler.js";
import { loadManifests } from "../../../operator/src/manifest/index.js";

const TEMPLATE = `  template:
    metadata: {labels: {app: web}}
    spec:
      restartPolicy: RESTART
      containers: [{name: web, image: "web:1"}]
`;

/** A minimal object of each kind named web, with the pod template its kind has. */
const OBJECTS: Record<string, string> = {
  Deployment: `apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  selector: {matchLabels: {app: web}}\n${TEMPLATE}`,
  ReplicaSet: `apiVersion: apps/v1\nkind: ReplicaSet\nmetadata: {name: web}\nspec:\n  selector: {matchLabels: {app: web}}\n${TEMPLATE}`,
  ReplicationController: `apiVersion: v1\nkind: ReplicationController\nmetadata: {name: web}\nspec:\n  selector: {app: web}\n${TEMPLATE}`,
  Rollout: `apiVersion: argoproj.io/v1alpha1\nkind: Rollout\nmetadata: {name: web}\nspec:\n  selector: {matchLabels: {app: web}}\n  strategy: {canary: {}}\n${TEMPLATE}`,
  StatefulSet: `apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: web}\nspec:\n  serviceName: web\n  selector: {matchLabels: {app: web}}\n${TEMPLATE}`,
  DaemonSet: `apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: web}\nspec:\n  selector: {matchLabels: {app: web}}\n${TEMPLATE}`,
  Job: `apiVersion: batch/v1\nkind: Job\nmetadata: {name: web}\nspec:\n${TEMPLATE.replace("RESTART", "Never")}`,
  CronJob: `apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: web}\nspec:\n  schedule: "*/5 * * * *"\n  jobTemplate:\n    spec:\n${TEMPLATE.replace("RESTART", "Never").replace(/^/gm, "    ")}`,
  Pod: `apiVersion: v1\nkind: Pod\nmetadata: {name: web, labels: {app: web}}\nspec:\n  containers: [{name: web, image: "web:1"}]\n`,
};

function hpa(kind: string): string {
  return `apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: web}
spec:
  scaleTargetRef: {kind: ${kind}, name: web}
  maxReplicas: 4
`;
}

function load(kind: string) {
  const set = loadManifests([
    { path: "web.yaml", content: OBJECTS[kind]!.replace("RESTART", "Always") },
    { path: "hpa.yaml", content: hpa(kind) },
  ]);
  const built = buildGraph(set.objects);
  return { diagnostics: [...set.diagnostics, ...built.diagnostics].filter((d) => d.severity === "error"), graph: built.graph };
}

describe("what an autoscaler may target", () => {
  it("is the kinds with a scale subresource, sorted", () => {
    expect(AUTOSCALE_TARGET_KINDS).toEqual(["Deployment", "ReplicaSet", "ReplicationController", "Rollout", "StatefulSet"]);
  });

  it.each([...AUTOSCALE_TARGET_KINDS])("a %s: accepted, with the edge target → autoscaler", (kind) => {
    const { diagnostics, graph } = load(kind);
    expect(diagnostics).toEqual([]);
    expect(graph.dependentsOf(`${kind}/default/web`)).toContain("HorizontalPodAutoscaler/default/web");
  });

  it.each(["DaemonSet", "Job", "CronJob", "Pod"])("a %s: InvalidField at hpa.yaml:5 spec.scaleTargetRef.kind, naming every kind allowed", (kind) => {
    const { diagnostics } = load(kind);
    expect(diagnostics.map((d) => ({ code: d.code, file: d.file, line: d.line, field: d.field }))).toEqual([{ code: "InvalidField", file: "hpa.yaml", line: 5, field: "spec.scaleTargetRef.kind" }]);
    for (const allowed of AUTOSCALE_TARGET_KINDS) expect(diagnostics[0]!.message).toContain(allowed);
  });
});
