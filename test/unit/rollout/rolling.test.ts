import { describe, expect, it } from "vitest";
import { isCoxError } from "../../../operator/src/api/errors.js";
import { nextStep } from "../../../operator/src/rollout/index.js";
import type { RolloutInput, RolloutStep } from "../../../operator/src/rollout/types.js";
import { as, available, input, params, starting, T } from "./builders.js";

interface Case {
  name: string;
  input: RolloutInput;
  want: Partial<Pick<RolloutStep, "create" | "remove" | "complete" | "progressed" | "deadlineExceeded" | "requeueAfterMs">> & {
    counts?: Partial<RolloutStep["counts"]>;
  };
}

const rolling: Case[] = [
  {
    name: "10 replicas at 25%/25% first creates 3 new pods, which is not progress until one becomes available",
    input: input(params(10, 3, 2), "b", available("a", 10)),
    want: { create: 3, remove: [], progressed: false, complete: false },
  },
  {
    name: "10 replicas at 25%/25% then removes the 2 most recently ready old pods while the 3 new ones start",
    input: input(params(10, 3, 2), "b", [...available("a", 10), ...starting("b", 3)]),
    want: { create: 0, remove: ["a-9", "a-8"], progressed: true },
  },
  {
    name: "3 replicas at 25%/25% surges one pod",
    input: input(params(3, 1, 0), "b", available("a", 3)),
    want: { create: 1, remove: [] },
  },
  {
    name: "3 replicas at 25%/25% removes no old pod while the new one is not available",
    input: input(params(3, 1, 0), "b", [...available("a", 3), ...starting("b", 1)]),
    want: { create: 0, remove: [], progressed: false },
  },
  {
    name: "3 replicas at 25%/25% removes an old pod once the new one is available",
    input: input(params(3, 1, 0), "b", [...available("a", 3), ...available("b", 1)]),
    want: { create: 0, remove: ["a-2"], progressed: true },
  },
  {
    name: "removes unavailable old pods before available ones, newest first",
    input: input(params(4, 1, 1), "b", [...available("a", 2), ...starting("a", 2, 2), ...available("b", 1)]),
    want: { create: 0, remove: ["a-3", "a-2"] },
  },
  {
    name: "removes at most maxScaledDown unavailable old pods (active − minAvailable − new unavailable)",
    input: input(params(4, 1, 1), "b", [...starting("a", 4), ...starting("b", 1, 10)]),
    want: { create: 0, remove: ["a-3"] },
  },
  {
    name: "re-uses the pods of a revision it rolls back to and removes the surplus of the other",
    input: input(params(3, 1, 0), "a", [...available("b", 3, 10), ...available("a", 1)], { revisionOrder: ["b", "a"] }),
    want: { create: 0, remove: ["b-12"], counts: { updated: 1, available: 4 } },
  },
  {
    name: "removes old pods of the oldest revision first",
    input: input(params(4, 1, 1), "c", [...available("a", 1), ...available("b", 2, 10), ...available("c", 2, 20)]),
    want: { create: 0, remove: ["a-0", "b-11"] },
  },
  {
    name: "takes the revision order from revisionOrder over pod age",
    input: input(params(4, 1, 1), "c", [...available("a", 1), ...available("b", 2, 10), ...available("c", 2, 20)], {
      revisionOrder: ["b", "a", "c"],
    }),
    want: { create: 0, remove: ["b-11", "b-10"] },
  },
  {
    name: "does not create while terminating pods still fill the surge budget, with podReplacementPolicy TerminationComplete",
    input: input(params(3, 1, 0, { podReplacementPolicy: "TerminationComplete" }), "b", [...available("a", 3), ...as(available("a", 1, 3), { terminating: true })]),
    want: { create: 0, remove: [] },
  },
  {
    name: "creates beside a terminating pod by default (TerminationStarted): it is being replaced already",
    input: input(params(3, 1, 0), "b", [...available("a", 3), ...as(available("a", 1, 3), { terminating: true })]),
    want: { create: 1, remove: [] },
  },
  {
    name: "does not count a failed terminating pod against the surge budget",
    input: input(params(3, 1, 0), "b", [...available("a", 3), ...as(available("a", 1, 3), { terminating: true, failed: true, ready: false })]),
    want: { create: 1, remove: [] },
  },
  {
    name: "with maxSurge 0 removes an old pod first",
    input: input(params(3, 0, 1), "b", available("a", 3)),
    want: { create: 0, remove: ["a-2"] },
  },
  {
    name: "with maxSurge 0 and TerminationComplete waits while the removed old pod is still terminating, and waiting for it is progress",
    input: input(params(3, 0, 1, { podReplacementPolicy: "TerminationComplete" }), "b", [...available("a", 2), ...as(available("a", 1, 2), { terminating: true })]),
    want: { create: 0, remove: [], progressed: true },
  },
  {
    name: "with maxSurge 0 creates the new pod while the removed old one is still terminating, by default",
    input: input(params(3, 0, 1), "b", [...available("a", 2), ...as(available("a", 1, 2), { terminating: true })]),
    want: { create: 1, remove: [] },
  },
  {
    name: "with maxSurge 0 creates the new pod once the old one is gone",
    input: input(params(3, 0, 1), "b", available("a", 2)),
    want: { create: 1, remove: [] },
  },
  {
    name: "scales surplus new pods down first when replicas drop mid-rollout, and nothing else in that step",
    input: input(params(2, 1, 0), "b", [...available("a", 3), ...available("b", 3)]),
    want: { create: 0, remove: ["b-2"] },
  },
];

const scaling: Case[] = [
  {
    name: "scales the current revision up when replicas grow",
    input: input(params(5, 2, 1), "b", available("b", 3)),
    want: { create: 2, remove: [], complete: false },
  },
  {
    name: "scales the current revision down removing not-ready pods first, then the newest",
    input: input(params(2, 1, 0), "b", [...as(available("b", 3), { readySince: T - 50_000 }), ...as(starting("b", 1, 3), { createdAt: T - 999_999 })]),
    want: { create: 0, remove: ["b-3", "b-2"] },
  },
  {
    name: "removes the most recently ready pod before an older-ready one even if it was created earlier",
    input: input(params(1, 1, 0), "b", [
      { name: "b-old", revision: "b", createdAt: T - 90_000, terminating: false, failed: false, ready: true, readySince: T - 1000 },
      { name: "b-new", revision: "b", createdAt: T - 80_000, terminating: false, failed: false, ready: true, readySince: T - 70_000 },
    ]),
    want: { remove: ["b-old"] },
  },
  {
    name: "is complete when all replicas are updated and available",
    input: input(params(3, 1, 0), "b", available("b", 3)),
    want: { create: 0, remove: [], complete: true, deadlineExceeded: false, counts: { replicas: 3, updated: 3, available: 3, unavailable: 0 } },
  },
  {
    name: "is complete while old pods are still terminating",
    input: input(params(3, 1, 0), "b", [...available("b", 3), ...as(available("a", 2), { terminating: true })]),
    want: { complete: true, remove: [], counts: { replicas: 3, updated: 3 } },
  },
  {
    name: "scales to zero by removing every pod",
    input: input(params(0, 0, 0), "b", [...available("a", 1), ...available("b", 2)]),
    want: { create: 0, remove: ["b-1", "b-0"] },
  },
  {
    name: "is complete at zero replicas with no pods",
    input: input(params(0, 0, 0), "b", []),
    want: { create: 0, remove: [], complete: true },
  },
];

const failures: Case[] = [
  {
    name: "replaces a failed new pod in the same step without counting it as progress",
    input: input(params(3, 1, 0), "b", [...available("b", 2), ...as(starting("b", 1, 2), { failed: true })], { lastProgressAt: T - 1000 }),
    want: { create: 1, remove: ["b-2"], progressed: false, complete: false, counts: { replicas: 2, updated: 2 } },
  },
  {
    name: "plans the same creations again when the pods never appeared, without counting them as progress",
    input: input({ ...params(3, 1, 0), progressDeadlineSeconds: 15 }, "b", available("a", 3), { lastProgressAt: T - 20_000 }),
    want: { create: 1, remove: [], progressed: false, complete: false, deadlineExceeded: true },
  },
  {
    name: "removes failed old pods at once without counting it as progress",
    input: input(params(3, 1, 0), "b", [...available("b", 3), ...as(available("a", 1), { failed: true, ready: false })], {
      lastProgressAt: T - 1000,
    }),
    want: { create: 0, remove: ["a-0"], progressed: false, complete: false },
  },
  {
    name: "never removes a terminating pod twice",
    input: input(params(1, 1, 0), "b", [...available("b", 1), ...as(available("a", 1), { terminating: true, failed: true, ready: false })]),
    want: { remove: [], complete: true },
  },
];

const timing: Case[] = [
  {
    name: "counts a pod as available only after minReadySeconds and asks to look again when it matures",
    input: input(params(1, 1, 0, { minReadySeconds: 10 }), "b", [{ name: "b-0", revision: "b", createdAt: T - 9000, terminating: false, failed: false, ready: true, readySince: T - 4000 }]),
    want: { complete: false, counts: { ready: 1, available: 0, unavailable: 1 }, requeueAfterMs: 6001 },
  },
  {
    name: "counts a ready pod of unknown ready time as not available when minReadySeconds is set",
    input: input(params(1, 1, 0, { minReadySeconds: 10 }), "b", [{ name: "b-0", revision: "b", createdAt: T - 90_000, terminating: false, failed: false, ready: true }]),
    want: { complete: false, counts: { available: 0 } },
  },
  {
    name: "reports the deadline exceeded when nothing progressed for longer than progressDeadlineSeconds",
    input: input(params(1, 1, 0, { progressDeadlineSeconds: 60 }), "b", [...available("a", 1), ...starting("b", 1)], {
      lastProgressAt: T - 60_001,
    }),
    want: { create: 0, remove: [], progressed: false, deadlineExceeded: true, complete: false },
  },
  {
    name: "does not report the deadline at exactly progressDeadlineSeconds and looks again just after",
    input: input(params(1, 1, 0, { progressDeadlineSeconds: 60 }), "b", [...available("a", 1), ...starting("b", 1)], {
      lastProgressAt: T - 60_000,
    }),
    want: { deadlineExceeded: false, requeueAfterMs: 1 },
  },
  {
    name: "does not report the deadline for a complete rollout",
    input: input(params(1, 1, 0, { progressDeadlineSeconds: 60 }), "b", available("b", 1), { lastProgressAt: T - 600_000 }),
    want: { complete: true, deadlineExceeded: false },
  },
  {
    name: "counts a pod that became available since lastProgressAt as progress",
    input: input(params(2, 1, 0, { minReadySeconds: 10 }), "b", [...available("b", 1), { name: "b-1", revision: "b", createdAt: T - 20_000, terminating: false, failed: false, ready: true, readySince: T - 10_500 }], {
      lastProgressAt: T - 1000,
    }),
    want: { progressed: true, complete: true },
  },
  {
    name: "does not count readiness before minReadySeconds as progress",
    input: input(params(2, 1, 0, { minReadySeconds: 10 }), "b", [...available("b", 1), { name: "b-1", revision: "b", createdAt: T - 20_000, terminating: false, failed: false, ready: true, readySince: T - 500 }], {
      lastProgressAt: T - 1000,
    }),
    want: { progressed: false, complete: false },
  },
];

describe.each([
  ["a rolling update", rolling],
  ["plain scaling", scaling],
  ["failed and terminating pods", failures],
  ["availability and deadlines", timing],
] as const)("nextStep: %s", (_title, cases) => {
  it.each(cases as Case[])("$name", ({ input: i, want }) => {
    const step = nextStep(i);
    const { counts, ...rest } = want;
    expect(step).toMatchObject(rest);
    if (counts) expect(step.counts).toMatchObject(counts);
    expect(step.reason.length).toBeGreaterThan(0);
  });
});

describe("nextStep input checks", () => {
  it("throws InvalidArgument for two pods with the same name", () => {
    let caught: unknown;
    try {
      nextStep(input(params(2, 1, 0), "b", [...available("b", 1), ...available("b", 1)]));
    } catch (e) {
      caught = e;
    }
    expect(isCoxError(caught, "InvalidArgument")).toBe(true);
  });

  it("throws InvalidArgument for negative parameters", () => {
    let caught: unknown;
    try {
      nextStep(input(params(-1, 1, 0), "b", []));
    } catch (e) {
      caught = e;
    }
    expect(isCoxError(caught, "InvalidArgument")).toBe(true);
  });

  it("does not mutate its input", () => {
    const i = input(params(10, 3, 2), "b", [...available("a", 10), ...starting("b", 3)], { revisionOrder: ["a", "b"] });
    const before = structuredClone(i);
    nextStep(i);
    expect(i).toEqual(before);
  });
});
