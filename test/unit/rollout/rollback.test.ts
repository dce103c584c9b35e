/**
 * The rollback decision: back to the last stable revision, never to an unproven one, never a rollback of a
 * rollback.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isCoxError } from "../../../operator/src/api/errors.js";
import { decideRollback } from "../../../operator/src/rollout/index.js";
import type { RollbackDecision, RollbackInput } from "../../../operator/src/rollout/types.js";

const failure = { code: "CrashLoopBackOff" as const, message: "1 of 3 updated pod(s) crashed", pods: ["web-b-1"] };

const cases: { name: string; input: RollbackInput; want: Partial<RollbackDecision> }[] = [
  { name: "rolls a failed rollout back to the last stable revision", input: { failed: "b", stable: "a", failedIsRollback: false, failure }, want: { action: "rollback", to: "a" } },
  { name: "pauses when a rollback fails, and never rolls it back", input: { failed: "a", stable: "a", failedIsRollback: true }, want: { action: "pause", code: "RollbackFailed" } },
  { name: "pauses a failed rollback even when another stable revision is known", input: { failed: "b", stable: "a", failedIsRollback: true }, want: { action: "pause", code: "RollbackFailed" } },
  { name: "reports and leaves what runs when there is no stable revision (the first rollout failed)", input: { failed: "b", failedIsRollback: false }, want: { action: "report", code: "RolloutFailed" } },
  { name: "reports and leaves what runs when the failing revision is the stable one itself", input: { failed: "a", stable: "a", failedIsRollback: false }, want: { action: "report", code: "RolloutFailed" } },
];

describe("decideRollback", () => {
  it.each(cases)("$name", ({ input, want }) => {
    const got = decideRollback(input);
    expect(got).toMatchObject(want);
    expect(got.reason.length).toBeGreaterThan(0);
  });

  it("carries the failure into the reason", () => {
    expect(decideRollback({ failed: "b", stable: "a", failedIsRollback: false, failure }).reason).toContain("CrashLoopBackOff");
  });

  it("throws InvalidArgument without a failed revision", () => {
    let caught: unknown;
    try {
      decideRollback({ failed: "", stable: "a", failedIsRollback: false });
    } catch (e) {
      caught = e;
    }
    expect(isCoxError(caught, "InvalidArgument")).toBe(true);
  });

  it("never rolls back a rollback, and only ever goes to the stable revision, never to the failed one (property)", () => {
    const rev = fc.constantFrom("a", "b", "c");
    fc.assert(
      fc.property(rev, fc.option(rev, { nil: undefined }), fc.boolean(), (failed, stable, failedIsRollback) => {
        const input: RollbackInput = { failed, failedIsRollback, ...(stable !== undefined ? { stable } : {}) };
        const d = decideRollback(input);
        if (failedIsRollback) expect(d).toMatchObject({ action: "pause", code: "RollbackFailed" });
        if (d.action === "rollback") {
          expect(d.to).toBe(stable);
          expect(d.to).not.toBe(failed);
        } else expect(failedIsRollback || stable === undefined || stable === failed).toBe(true);
      }),
    );
  });

  it("a chain of failures ends (paused or reported) after at most one rollback (property)", () => {
    // Every rollout fails: the first is rolled back, the rollback fails and pauses.
    fc.assert(
      fc.property(fc.constantFrom("a", "b", "c"), fc.option(fc.constantFrom("a", "b", "c"), { nil: undefined }), (first, stable) => {
        let target: string = first;
        let isRollback = false;
        let rollbacks = 0;
        for (let i = 0; i < 10; i++) {
          const d = decideRollback({ failed: target, failedIsRollback: isRollback, ...(stable !== undefined ? { stable } : {}) });
          if (d.action !== "rollback") return;
          rollbacks += 1;
          target = d.to;
          isRollback = true;
        }
        expect(rollbacks).toBeLessThanOrEqual(1);
        throw new Error("a failing rollout never paused");
      }),
    );
  });
});
