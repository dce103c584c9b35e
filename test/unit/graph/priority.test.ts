import { describe, expect, it } from "vitest";
import type { Workload } from "../../../operator/src/api/objects.js";
import { buildGraph, resolvePriority, type ResolvedPriority } from "../../../operator/src/graph/index.js";
import { deployment, manifest, priorityClass, rollout } from "./fabricate.js";

const PRIORITY = { "coxswain.io/priority": "42" };

describe("resolvePriority", () => {
  const cases: { name: string; classes: ReturnType<typeof priorityClass>[]; workload: Workload; want: ResolvedPriority }[] = [
    {
      name: "takes the value and preemption policy of the named PriorityClass",
      classes: [priorityClass("high", 1000, { preemptionPolicy: "Never" }), priorityClass("default", 7, { globalDefault: true })],
      workload: deployment("web", "default", { priorityClassName: "high", annotations: PRIORITY }),
      want: { value: 1000, preemptionPolicy: "Never", source: "class", className: "high" },
    },
    {
      name: "knows the built-in system classes with Kubernetes' values",
      classes: [],
      workload: rollout("dns", "default", { priorityClassName: "system-node-critical" }),
      want: { value: 2000001000, preemptionPolicy: "PreemptLowerPriority", source: "class", className: "system-node-critical" },
    },
    {
      name: "uses the coxswain.io/priority annotation when the template names no class, before the global default",
      classes: [priorityClass("default", 7, { globalDefault: true })],
      workload: deployment("web", "default", { annotations: PRIORITY }),
      want: { value: 42, preemptionPolicy: "PreemptLowerPriority", source: "annotation" },
    },
    {
      name: "falls back to the global default class, as Kubernetes does for pods without a class",
      classes: [priorityClass("other", 3), priorityClass("default", 7, { globalDefault: true, preemptionPolicy: "Never" })],
      workload: rollout("web", "default"),
      want: { value: 7, preemptionPolicy: "Never", source: "globalDefault", className: "default" },
    },
    {
      name: "is 0 with PreemptLowerPriority when nothing says otherwise",
      classes: [priorityClass("other", 3)],
      workload: deployment("web", "default"),
      want: { value: 0, preemptionPolicy: "PreemptLowerPriority", source: "default" },
    },
  ];

  it.each(cases)("$name", ({ classes, workload, want }) => {
    const { graph } = buildGraph([...classes, workload].map((o) => manifest(o)));
    expect(resolvePriority(graph, workload)).toEqual(want);
  });
});
