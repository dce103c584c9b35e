/**
 * A StatefulSet's step (rollout/statefulset.ts), table-driven: OrderedReady and Parallel creation and
 * scale-down, RollingUpdate from the highest ordinal down to the partition, OnDelete, minReadySeconds, and
 * at most one pod per ordinal.
 */
import { describe, expect, it } from "vitest";
import { ordinalOf, statefulSetStep } from "../../../operator/src/rollout/index.js";
import type { StatefulPod, StatefulSetInput } from "../../../operator/src/rollout/statefulset.js";

const T = 1_700_000_000_000;

/** Pods written "web-0:new" (ready), "web-1:new?" (not ready), "web-2:old~" (terminating). */
function pods(spec: string): StatefulPod[] {
  return spec
    .split(" ")
    .filter((s) => s !== "")
    .map((s) => {
      const [name, rest] = s.split(":") as [string, string];
      const terminating = rest.endsWith("~");
      const notReady = rest.endsWith("?") || terminating;
      const revision = rest.replace(/[~?]$/, "");
      return { name, revision, terminating, ready: !notReady, ...(notReady ? {} : { readySince: T - 60_000 }) };
    });
}

function input(o: Partial<StatefulSetInput> & { spec: string }): StatefulSetInput {
  const { spec, ...rest } = o;
  return {
    name: "web",
    replicas: 3,
    podManagementPolicy: "OrderedReady",
    updateStrategy: "RollingUpdate",
    partition: 0,
    updateRevision: "new",
    currentRevision: "old",
    minReadySeconds: 0,
    now: T,
    pods: pods(spec),
    ...rest,
  };
}

interface Case {
  name: string;
  in: Partial<StatefulSetInput> & { spec: string };
  create: string[];
  delete: string[];
  complete: boolean;
}

const cases: Case[] = [
  // OrderedReady: one ordinal at a time, each after the one before is Running and Ready.
  { name: "ordered: empty set creates ordinal 0 only", in: { spec: "" }, create: ["web-0@new"], delete: [], complete: false },
  { name: "ordered: waits while ordinal 0 is not ready", in: { spec: "web-0:new?" }, create: [], delete: [], complete: false },
  { name: "ordered: ordinal 1 after ordinal 0 is ready", in: { spec: "web-0:new" }, create: ["web-1@new"], delete: [], complete: false },
  { name: "ordered: a missing middle ordinal is created first", in: { spec: "web-0:new web-2:new" }, create: ["web-1@new"], delete: [], complete: false },
  { name: "ordered: all ready is complete", in: { spec: "web-0:new web-1:new web-2:new" }, create: [], delete: [], complete: true },
  { name: "ordered: a terminating pod holds its ordinal", in: { spec: "web-0:new~ web-1:new web-2:new" }, create: [], delete: [], complete: false },
  // Parallel: everything at once.
  { name: "parallel: creates every ordinal", in: { spec: "", podManagementPolicy: "Parallel" }, create: ["web-0@new", "web-1@new", "web-2@new"], delete: [], complete: false },
  { name: "parallel: does not wait for an unready ordinal", in: { spec: "web-0:new?", podManagementPolicy: "Parallel" }, create: ["web-1@new", "web-2@new"], delete: [], complete: false },
  { name: "parallel: removes every condemned pod", in: { spec: "web-0:new web-1:new web-2:new", replicas: 1, podManagementPolicy: "Parallel" }, create: [], delete: ["web-2", "web-1"], complete: false },
  // Scale-down: the highest ordinal first, one at a time.
  { name: "ordered: scale 3→1 removes ordinal 2 first", in: { spec: "web-0:new web-1:new web-2:new", replicas: 1 }, create: [], delete: ["web-2"], complete: false },
  { name: "ordered: then waits for it to stop", in: { spec: "web-0:new web-1:new web-2:new~", replicas: 1 }, create: [], delete: [], complete: false },
  { name: "ordered: then removes ordinal 1", in: { spec: "web-0:new web-1:new", replicas: 1 }, create: [], delete: ["web-1"], complete: false },
  { name: "ordered: no scale-down while another pod is unready", in: { spec: "web-0:new? web-1:new", replicas: 1 }, create: [], delete: [], complete: false },
  { name: "ordered: scaled down to 1 is complete", in: { spec: "web-0:new", replicas: 1 }, create: [], delete: [], complete: true },
  // RollingUpdate: highest ordinal down, one at a time, waiting for Ready.
  { name: "rolling: deletes the highest outdated ordinal", in: { spec: "web-0:old web-1:old web-2:old" }, create: [], delete: ["web-2"], complete: false },
  { name: "rolling: recreates it with the update revision", in: { spec: "web-0:old web-1:old" }, create: ["web-2@new"], delete: [], complete: false },
  { name: "rolling: waits for the updated pod to be ready", in: { spec: "web-0:old web-1:old web-2:new?" }, create: [], delete: [], complete: false },
  { name: "rolling: then the next ordinal down", in: { spec: "web-0:old web-1:old web-2:new" }, create: [], delete: ["web-1"], complete: false },
  { name: "rolling: done when every ordinal is updated", in: { spec: "web-0:new web-1:new web-2:new" }, create: [], delete: [], complete: true },
  { name: "rolling: an unready pod of another revision is replaced, not waited for (a rollback)", in: { spec: "web-0:new web-1:bad? web-2:bad?" }, create: [], delete: ["web-1"], complete: false },
  { name: "rolling: below the partition an unready pod is waited for", in: { spec: "web-0:old? web-1:new web-2:new", partition: 1 }, create: [], delete: [], complete: false },
  { name: "rolling: below the partition an unready pod of a third revision goes back to the current one", in: { spec: "web-0:bad? web-1:new web-2:new", partition: 1 }, create: [], delete: ["web-0"], complete: false },
  { name: "onDelete: an unready pod is waited for, never deleted", in: { spec: "web-0:bad? web-1:old web-2:old", updateStrategy: "OnDelete" }, create: [], delete: [], complete: false },
  { name: "parallel: an unready pod of another revision is replaced once", in: { spec: "web-0:new web-1:new web-2:bad?", podManagementPolicy: "Parallel" }, create: [], delete: ["web-2"], complete: false },
  // Partition: only ordinals at or above it are updated; below it, the current revision is kept and recreated.
  { name: "partition 2: updates ordinal 2", in: { spec: "web-0:old web-1:old web-2:old", partition: 2 }, create: [], delete: ["web-2"], complete: false },
  { name: "partition 2: ordinal 1 stays old", in: { spec: "web-0:old web-1:old web-2:new", partition: 2 }, create: [], delete: [], complete: true },
  { name: "partition 2: a lost ordinal 1 comes back old", in: { spec: "web-0:old web-2:new", partition: 2 }, create: ["web-1@old"], delete: [], complete: false },
  { name: "partition ≥ replicas: nothing is updated", in: { spec: "web-0:old web-1:old web-2:old", partition: 5 }, create: [], delete: [], complete: true },
  // OnDelete: nothing is deleted for an update; a pod gone comes back on the update revision.
  { name: "onDelete: old pods stay", in: { spec: "web-0:old web-1:old web-2:old", updateStrategy: "OnDelete" }, create: [], delete: [], complete: true },
  { name: "onDelete: a deleted pod comes back updated", in: { spec: "web-0:old web-2:old", updateStrategy: "OnDelete" }, create: ["web-1@new"], delete: [], complete: false },
  // Names that are not ordinals, and a second pod of an ordinal.
  { name: "strays are deleted", in: { spec: "web-0:new web-1:new web-2:new web-x:new" }, create: [], delete: ["web-x"], complete: false },
  {
    name: "a new set takes the update revision everywhere",
    in: { spec: "", currentRevision: undefined, partition: 2, podManagementPolicy: "Parallel" },
    create: ["web-0@new", "web-1@new", "web-2@new"],
    delete: [],
    complete: false,
  },
];

describe("statefulSetStep", () => {
  it.each(cases)("$name", (c) => {
    const step = statefulSetStep(input(c.in));
    expect(step.create.map((x) => `${x.name}@${x.revision}`)).toEqual(c.create);
    expect(step.delete).toEqual(c.delete);
    expect(step.complete).toBe(c.complete);
    expect(step.progressed).toBe(c.create.length + c.delete.length > 0);
  });

  it("minReadySeconds: a pod ready for less is not available, and the step says when to look again", () => {
    const p = pods("web-0:new web-1:new web-2:new").map((x, i) => ({ ...x, readySince: i === 2 ? T - 4_000 : T - 60_000 }));
    const step = statefulSetStep({ ...input({ spec: "" }), pods: p, minReadySeconds: 10 });
    expect(step.complete).toBe(false);
    expect(step.counts).toEqual({ replicas: 3, ready: 3, available: 2, updated: 3 });
    expect(step.requeueAfterMs).toBe(6_000);
    const later = statefulSetStep({ ...input({ spec: "" }), pods: p, minReadySeconds: 10, now: T + 6_000 });
    expect(later.complete).toBe(true);
  });

  it("rolling update waits for minReadySeconds before the next ordinal", () => {
    const p = pods("web-0:old web-1:old web-2:new").map((x) => (x.name === "web-2" ? { ...x, readySince: T - 1_000 } : x));
    const step = statefulSetStep({ ...input({ spec: "" }), pods: p, minReadySeconds: 5 });
    expect(step.delete).toEqual([]);
    expect(step.requeueAfterMs).toBe(4_000);
  });

  it("drain: moves the highest ordinal on a draining node, one at a time, only while every pod is ready", () => {
    const draining = ["web-0", "web-2"];
    expect(statefulSetStep({ ...input({ spec: "web-0:new web-1:new web-2:new" }), draining }).delete).toEqual(["web-2"]);
    expect(statefulSetStep({ ...input({ spec: "web-0:new web-1:new web-2:new~" }), draining: ["web-0"] }).delete).toEqual([]);
    expect(statefulSetStep({ ...input({ spec: "web-0:new web-1:new?" }), replicas: 2, draining }).delete).toEqual([]);
    const last = statefulSetStep({ ...input({ spec: "web-0:new web-1:new web-2:new" }), draining: ["web-0"] });
    expect([last.delete, last.complete]).toEqual([["web-0"], false]);
  });

  it("only the drain's move is an eviction (budgets may hold it); the set's own deletions are not", () => {
    expect(statefulSetStep({ ...input({ spec: "web-0:new web-1:new web-2:new" }), draining: ["web-0", "web-2"] }).evict).toBe("web-2");
    // A rolling update of a pod on a draining node deletes it as the set's own update: no eviction.
    const update = statefulSetStep({ ...input({ spec: "web-0:new web-1:new web-2:old" }), draining: ["web-2"] });
    expect([update.delete, update.evict]).toEqual([["web-2"], undefined]);
    // Scaling down a draining ordinal: the set's own deletion too.
    const down = statefulSetStep({ ...input({ spec: "web-0:new web-1:new web-2:new" }), replicas: 2, draining: ["web-2"] });
    expect([down.delete, down.evict]).toEqual([["web-2"], undefined]);
  });

  it("ordinalOf reads only <set>-<ordinal>", () => {
    expect(ordinalOf("web", "web-12")).toBe(12);
    expect(ordinalOf("web", "web-01")).toBeUndefined();
    expect(ordinalOf("web", "web-a")).toBeUndefined();
    expect(ordinalOf("web", "webx-1")).toBeUndefined();
    expect(ordinalOf("web-1", "web-1-0")).toBe(0);
  });
});
