/**
 * Blue/green rollouts: the preview beside the active set, promotion (at once, after autoPromotionSeconds,
 * or by the promote annotation), previewReplicaCount, the switch, the scale-down delay, switching back.
 */
import { describe, expect, it } from "vitest";
import { isCoxError } from "../../../operator/src/api/errors.js";
import { blueGreenStep } from "../../../operator/src/rollout/index.js";
import type { BlueGreenInput, BlueGreenParams, BlueGreenResult } from "../../../operator/src/rollout/types.js";
import { as, available, createsByRevision, desiredByRevision, params, removalsByRevision, starting, T } from "./builders.js";

function bg(o: Partial<BlueGreenInput> & Pick<BlueGreenInput, "pods">, b: Partial<BlueGreenParams> = {}): BlueGreenInput {
  return {
    params: params(3, 0, 0),
    blueGreen: { autoPromotionEnabled: true, autoPromotionSeconds: 0, scaleDownDelaySeconds: 30, ...b },
    revision: "b",
    active: "a",
    now: T,
    lastProgressAt: T,
    ...o,
  };
}

interface Case {
  name: string;
  input: BlueGreenInput;
  want: Partial<Pick<BlueGreenResult, "create" | "remove" | "active" | "preview" | "promoted" | "waiting" | "complete" | "progressed" | "deadlineExceeded" | "requeueAfterMs">> & {
    desired?: Record<string, number>;
    creates?: Record<string, number>;
    removals?: Record<string, string[]>;
    scaleDownAt?: Record<string, number>;
    pauseStartedAt?: number | null;
    checkpoint?: boolean;
  };
}

const cases: Case[] = [
  {
    name: "starts the preview beside the active revision with all replicas",
    input: bg({ pods: available("a", 3) }),
    want: { active: "a", preview: "b", desired: { b: 3, a: 3 }, create: 3, remove: [], promoted: false },
  },
  {
    name: "runs both sets in full: no surge limit holds the preview back",
    input: bg({ pods: [...available("a", 3), ...as(available("x", 3), { terminating: true })] }),
    want: { create: 3 },
  },
  {
    name: "switches traffic at once when the preview is available and auto promotion has no delay",
    input: bg({ pods: [...available("a", 3), ...available("b", 3)] }),
    want: { active: "b", promoted: true, complete: true, progressed: true, remove: [], scaleDownAt: { a: T + 30_000 }, requeueAfterMs: 30_000 },
  },
  {
    name: "keeps the replaced revision running until its scale-down delay ends",
    input: bg({ active: "b", pods: [...available("a", 3), ...available("b", 3)], status: { revision: "b", scaleDownAt: { a: T + 10_000 } } }),
    want: { active: "b", complete: true, remove: [], desired: { b: 3, a: 3 }, requeueAfterMs: 10_000 },
  },
  {
    name: "removes the replaced revision when its scale-down delay has ended",
    input: bg({ active: "b", pods: [...available("a", 3), ...available("b", 3)], status: { revision: "b", scaleDownAt: { a: T } } }),
    want: { active: "b", desired: { b: 3, a: 0 }, removals: { a: ["a-2", "a-1", "a-0"] }, scaleDownAt: {} },
  },
  {
    name: "waits autoPromotionSeconds once the preview is available, without running the progress deadline",
    input: bg({ pods: [...available("a", 3), ...available("b", 3)], lastProgressAt: T - 3_600_000 }, { autoPromotionSeconds: 60 }),
    want: { active: "a", waiting: "pause", pauseStartedAt: T, requeueAfterMs: 60_000, deadlineExceeded: false, promoted: false },
  },
  {
    name: "promotes after autoPromotionSeconds",
    input: bg({ pods: [...available("a", 3), ...available("b", 3)], status: { revision: "b", pauseStartedAt: T - 60_000 } }, { autoPromotionSeconds: 60 }),
    want: { active: "b", promoted: true, pauseStartedAt: null },
  },
  {
    name: "promotes before autoPromotionSeconds when the promote annotation says so",
    input: bg({ pods: [...available("a", 3), ...available("b", 3)], status: { revision: "b", pauseStartedAt: T - 1000 }, promote: 1 }, { autoPromotionSeconds: 60 }),
    want: { active: "b", promoted: true },
  },
  {
    name: "waits for the promote annotation when auto promotion is off",
    input: bg({ pods: [...available("a", 3), ...available("b", 3)] }, { autoPromotionEnabled: false, autoPromotionSeconds: 5 }),
    want: { active: "a", preview: "b", waiting: "promotion", promoted: false, requeueAfterMs: undefined },
  },
  {
    name: "promotes when auto promotion is off and the promote annotation is set",
    input: bg({ pods: [...available("a", 3), ...available("b", 3)], promote: "full" }, { autoPromotionEnabled: false }),
    want: { active: "b", promoted: true },
  },
  {
    name: "does not take promote 0 as a promotion",
    input: bg({ pods: [...available("a", 3), ...available("b", 3)], promote: 0 }, { autoPromotionEnabled: false }),
    want: { active: "a", waiting: "promotion" },
  },
  {
    name: "does not pause before the preview is available",
    input: bg({ pods: [...available("a", 3), ...starting("b", 3)] }, { autoPromotionEnabled: false }),
    want: { active: "a", waiting: undefined, pauseStartedAt: null },
  },
  {
    name: "starts a smaller preview with previewReplicaCount",
    input: bg({ pods: available("a", 3) }, { previewReplicaCount: 1 }),
    want: { desired: { b: 1, a: 3 }, create: 1 },
  },
  {
    name: "scales the preview to all replicas at promotion before switching traffic",
    input: bg({ pods: [...available("a", 3), ...available("b", 1)] }, { previewReplicaCount: 1 }),
    want: { active: "a", promoted: false, checkpoint: true, desired: { b: 3, a: 3 }, create: 2, progressed: true },
  },
  {
    name: "switches traffic once the promoted preview has all replicas available",
    input: bg({ pods: [...available("a", 3), ...available("b", 3)], status: { revision: "b", scaleUpPreviewCheckPoint: true } }, { previewReplicaCount: 1, autoPromotionEnabled: false }),
    want: { active: "b", promoted: true, checkpoint: false },
  },
  {
    name: "derives the preview checkpoint from the pods when the status is lost (never scales a promoted preview back)",
    input: bg({ pods: [...available("a", 3), ...starting("b", 3)] }, { previewReplicaCount: 1, autoPromotionEnabled: false }),
    want: { desired: { b: 3, a: 3 }, remove: [], checkpoint: true },
  },
  {
    name: "switches back at once to a revision still running after its replacement (a rollback is instant)",
    input: bg({ revision: "a", active: "b", pods: [...available("a", 3), ...available("b", 3)], status: { revision: "b", scaleDownAt: { a: T + 20_000 } } }, { autoPromotionEnabled: false }),
    want: { active: "a", promoted: true, scaleDownAt: { b: T + 30_000 } },
  },
  {
    name: "keeps an abandoned preview for the scale-down delay when going back to the active revision",
    input: bg({ revision: "a", active: "a", pods: [...available("a", 3), ...starting("b", 3)] }),
    want: { active: "a", complete: true, remove: [], scaleDownAt: { b: T + 30_000 }, desired: { a: 3, b: 3 } },
  },
  {
    name: "brings the active revision back to all replicas when its pods are gone",
    input: bg({ pods: available("b", 3) }, { autoPromotionEnabled: false }),
    want: { active: "a", desired: { b: 3, a: 3 }, creates: { a: 3 }, waiting: "promotion" },
  },
  {
    name: "makes the first revision active once all its replicas are available",
    input: bg({ active: undefined, pods: available("b", 3) }),
    want: { active: "b", promoted: true, complete: true },
  },
  {
    name: "creates the first revision's pods without waiting for anything",
    input: bg({ active: undefined, pods: [] }),
    want: { create: 3, promoted: false },
  },
  {
    name: "holds every size while spec.paused",
    input: bg({ pods: [...available("a", 3), ...available("b", 3)], paused: true, lastProgressAt: T - 3_600_000 }),
    want: { active: "a", waiting: "paused", promoted: false, create: 0, remove: [], deadlineExceeded: false },
  },
  {
    name: "reports the progress deadline when the preview never becomes available",
    input: bg({ pods: [...as(available("a", 3), { readySince: T - 900_000 }), ...starting("b", 3)], lastProgressAt: T - 600_001 }),
    want: { deadlineExceeded: true, active: "a" },
  },
];

describe("blueGreenStep", () => {
  it.each(cases)("$name", ({ input: i, want }) => {
    const got = blueGreenStep(i);
    const { desired, creates, removals, scaleDownAt, pauseStartedAt, checkpoint, ...rest } = want;
    const defined = Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined));
    expect(got).toMatchObject(defined);
    for (const [k, v] of Object.entries(rest)) if (v === undefined) expect((got as unknown as Record<string, unknown>)[k]).toBeUndefined();
    if (desired) expect(desiredByRevision(got)).toEqual(desired);
    if (creates) expect(createsByRevision(got)).toEqual(creates);
    if (removals) expect(removalsByRevision(got)).toEqual(removals);
    if (scaleDownAt) expect(got.status.scaleDownAt).toEqual(scaleDownAt);
    if (pauseStartedAt === null) expect(got.status.pauseStartedAt).toBeUndefined();
    else if (pauseStartedAt !== undefined) expect(got.status.pauseStartedAt).toBe(pauseStartedAt);
    if (checkpoint !== undefined) expect(got.status.scaleUpPreviewCheckPoint === true).toBe(checkpoint);
    expect(got.status.revision).toBe(i.revision);
  });

  it("throws InvalidArgument for a negative scale-down delay", () => {
    let caught: unknown;
    try {
      blueGreenStep(bg({ pods: [] }, { scaleDownDelaySeconds: -1 }));
    } catch (e) {
      caught = e;
    }
    expect(isCoxError(caught, "InvalidArgument")).toBe(true);
  });
});
