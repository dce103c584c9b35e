/**
 * nextStep beyond the plain rolling update: revisions as ReplicaSets with desired sizes (given or derived),
 * Kubernetes' scale() on scaling events and for paused Deployments, Recreate, rollover, per-revision plans.
 */
import { describe, expect, it } from "vitest";
import { isCoxError } from "../../../operator/src/api/errors.js";
import { nextStep } from "../../../operator/src/rollout/index.js";
import type { RolloutInput, RolloutStep } from "../../../operator/src/rollout/types.js";
import { as, available, createsByRevision, desiredByRevision, input, params, removalsByRevision, sizes, starting, T } from "./builders.js";

interface Case {
  name: string;
  input: RolloutInput;
  want: Partial<Pick<RolloutStep, "create" | "remove" | "complete" | "progressed" | "deadlineExceeded" | "paused" | "requeueAfterMs">> & {
    desired?: Record<string, number>;
    creates?: Record<string, number>;
    removals?: Record<string, string[]>;
    reason?: RegExp;
  };
}

const recreate = (replicas: number) => params(replicas, 0, 0, { strategy: "Recreate" });

const recreateCases: Case[] = [
  {
    name: "Recreate removes every old pod first and creates nothing in that step",
    input: input(recreate(3), "b", available("a", 3)),
    want: { create: 0, remove: ["a-2", "a-1", "a-0"], desired: { b: 0, a: 0 }, progressed: true },
  },
  {
    name: "Recreate waits while an old pod is still terminating, and the wait counts as progress",
    input: input(recreate(3), "b", as(available("a", 1), { terminating: true })),
    want: { create: 0, remove: [], progressed: true, reason: /1 old pod\(s\) to stop/ },
  },
  {
    name: "Recreate creates every new pod once no old pod runs",
    input: input(recreate(3), "b", []),
    want: { create: 3, remove: [], desired: { b: 3 } },
  },
  {
    name: "Recreate does not count failed old pods as running: it removes them and creates the new pods at once",
    input: input(recreate(2), "b", as(available("a", 1), { failed: true, ready: false })),
    want: { create: 2, remove: ["a-0"], creates: { b: 2 } },
  },
  {
    name: "Recreate scales an intermediate revision down too when the template changes again",
    input: input(recreate(2), "c", [...as(available("a", 1), { terminating: true }), ...starting("b", 2)], { revisionOrder: ["a", "b"] }),
    want: { create: 0, remove: ["b-1", "b-0"], desired: { c: 0, b: 0 } },
  },
  {
    name: "Recreate is complete when the new revision is available and no old pod is active",
    input: input(recreate(2), "b", available("b", 2)),
    want: { complete: true, create: 0, remove: [] },
  },
];

const pausedParams = (replicas: number, surge: number, unavailable: number) => params(replicas, surge, unavailable, { paused: true });

const pausedCases: Case[] = [
  {
    name: "a paused Deployment takes no rollout step to a new template",
    input: input(pausedParams(3, 1, 0), "b", available("a", 3), { lastProgressAt: T - 3_600_000 }),
    want: { paused: true, create: 0, remove: [], deadlineExceeded: false, reason: /paused/ },
  },
  {
    name: "a paused Deployment does not look at the clock (no requeue for the deadline)",
    input: input(pausedParams(3, 1, 0), "b", available("a", 3)),
    want: { paused: true, requeueAfterMs: undefined },
  },
  {
    name: "a paused Deployment still gives all replicas to its only active revision when replicas grow",
    input: input(pausedParams(5, 2, 1), "b", available("a", 3), { sizes: sizes(3, 1, { a: 3 }) }),
    want: { paused: true, create: 0, creates: { a: 2 }, desired: { b: 0, a: 5 } },
  },
  {
    name: "a paused Deployment replaces a missing pod of its old revision (every size is kept)",
    input: input(pausedParams(3, 1, 0), "b", available("a", 2), { sizes: sizes(3, 1, { a: 3 }) }),
    want: { paused: true, creates: { a: 1 }, desired: { b: 0, a: 3 } },
  },
  {
    name: "a paused Deployment with a saturated new revision scales the old revisions to 0",
    input: input(pausedParams(2, 1, 0), "b", [...available("a", 1), ...available("b", 2)], { sizes: sizes(2, 1, { a: 1, b: 2 }) }),
    want: { paused: true, desired: { b: 2, a: 0 }, removals: { a: ["a-0"] } },
  },
];

const scalingCases: Case[] = [
  {
    name: "a scaling event mid-rollout shares the new replicas proportionally (Kubernetes' example: 10 → 15 gives the old revision 3 and the new one 2)",
    input: input(params(15, 3, 2), "b", [...available("a", 8), ...starting("b", 5)], { sizes: sizes(10, 3, { a: 8, b: 5 }) }),
    want: { desired: { b: 7, a: 11 }, creates: { b: 2, a: 3 }, create: 2, remove: [] },
  },
  {
    name: "a scaling event mid-rollout takes replicas away proportionally, largest revision first (15 → 10)",
    input: input(params(10, 3, 2), "b", [...available("a", 11), ...starting("b", 7)], { sizes: sizes(15, 3, { a: 11, b: 7 }) }),
    want: { desired: { b: 5, a: 8 }, removals: { b: ["b-6", "b-5"], a: ["a-10", "a-9", "a-8"] } },
  },
  {
    name: "a scaling event gives leftovers to the largest revision",
    input: input(params(4, 1, 1), "b", [...available("a", 2), ...starting("b", 1)], { sizes: sizes(3, 1, { a: 2, b: 2 }) }),
    // allowed 5, total 4, +1: fractions round(2·5/4) − 2 = 1 for the first (newer on ties: b), 0 left for a.
    want: { desired: { b: 3, a: 2 } },
  },
  {
    name: "a scaling event to 0 replicas takes every revision to 0",
    input: input(params(0, 0, 0), "b", [...available("a", 2), ...starting("b", 2)], { sizes: sizes(3, 1, { a: 2, b: 2 }) }),
    want: { desired: { b: 0, a: 0 }, create: 0 },
  },
  {
    name: "without given sizes a change of replicas is no scaling event: the rolling update copes with it",
    input: input(params(15, 3, 2), "b", [...available("a", 8), ...starting("b", 5)]),
    want: { desired: { b: 10, a: 8 }, creates: { b: 5 } },
  },
  {
    name: "a scaling event with one active revision gives it every replica",
    input: input(params(6, 2, 1), "a", available("a", 4), { sizes: sizes(4, 1, { a: 4 }) }),
    want: { desired: { a: 6 }, create: 2 },
  },
];

const rolloverCases: Case[] = [
  {
    name: "a rollover removes the intermediate revision's unavailable pods first, then the oldest revision's available ones",
    input: input(params(10, 3, 2), "c", [...available("a", 10), ...starting("b", 3)], { revisionOrder: ["a", "b"] }),
    want: { desired: { c: 0, a: 8, b: 0 }, removals: { a: ["a-9", "a-8"], b: ["b-2", "b-1", "b-0"] }, create: 0 },
  },
  {
    name: "the step after a rollover scales the newest revision up, creating all its pods beside the terminating ones (TerminationStarted, the default)",
    input: input(params(10, 3, 2), "c", [...available("a", 8), ...as(starting("b", 3), { terminating: true })], { revisionOrder: ["a", "b"] }),
    want: { desired: { c: 5, a: 8 }, create: 5, reason: /revision c from 0 to 5/ },
  },
  {
    name: "the step after a rollover scales the newest revision up, creating only what the terminating pods leave of the surge (TerminationComplete)",
    input: input(params(10, 3, 2, { podReplacementPolicy: "TerminationComplete" }), "c", [...available("a", 8), ...as(starting("b", 3), { terminating: true })], { revisionOrder: ["a", "b"] }),
    want: { desired: { c: 5, a: 8 }, create: 2, reason: /revision c from 0 to 5/ },
  },
];

const planCases: Case[] = [
  {
    name: "returns the wanted revision first in the per-revision plan, then old ones oldest first",
    input: input(params(4, 1, 1), "c", [...available("a", 1), ...available("b", 2, 10), ...available("c", 2, 20)]),
    want: { desired: { c: 2, a: 0, b: 1 }, removals: { a: ["a-0"], b: ["b-11"] } },
  },
  {
    name: "counts a new revision's pods that are being created (given sizes ahead of the pods) as not available",
    input: input(params(4, 1, 1), "b", available("a", 4), { sizes: sizes(4, 1, { a: 4, b: 1 }) }),
    // Σ sizes 5 = replicas + surge; maxScaledDown = 5 − 3 − 1 (b's missing pod is unavailable) = 1.
    want: { desired: { b: 1, a: 3 }, creates: { b: 1 }, removals: { a: ["a-3"] } },
  },
];

describe.each([
  ["Recreate", recreateCases],
  ["paused Deployments", pausedCases],
  ["scaling events", scalingCases],
  ["rollover", rolloverCases],
  ["per-revision plans", planCases],
] as const)("nextStep: %s", (_title, cases) => {
  it.each(cases as Case[])("$name", ({ input: i, want }) => {
    const step = nextStep(i);
    const { desired, creates, removals, reason, ...rest } = want;
    expect(step).toMatchObject(Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined)));
    if ("requeueAfterMs" in rest && rest.requeueAfterMs === undefined) expect(step.requeueAfterMs).toBeUndefined();
    if (desired) expect(desiredByRevision(step)).toEqual(desired);
    if (creates) expect(createsByRevision(step)).toEqual(creates);
    if (removals) expect(removalsByRevision(step)).toEqual(removals);
    if (reason) expect(step.reason).toMatch(reason);
    expect(step.revisions[0]!.revision).toBe(i.revision);
  });
});

describe("nextStep sizes", () => {
  it("returns the sizes to pass back, set for the current replicas and surge", () => {
    const step = nextStep(input(params(10, 3, 2), "b", available("a", 10)));
    expect(step.sizes).toEqual({ replicas: 10, maxReplicas: 13, byRevision: { a: 10, b: 3 } });
  });

  it("gives the same step whether the sizes are derived or passed back unchanged", () => {
    const i = input(params(10, 3, 2), "b", [...available("a", 10), ...starting("b", 3)]);
    const derived = nextStep(i);
    const given = nextStep({ ...i, sizes: sizes(10, 3, { a: 10, b: 3 }) });
    expect(given).toEqual(derived);
  });

  it("throws InvalidArgument for a negative or fractional size", () => {
    for (const bad of [-1, 1.5]) {
      let caught: unknown;
      try {
        nextStep(input(params(2, 1, 0), "b", [], { sizes: sizes(2, 1, { b: bad }) }));
      } catch (e) {
        caught = e;
      }
      expect(isCoxError(caught, "InvalidArgument")).toBe(true);
    }
  });
});
