/**
 * The one back-off helper: the figures of each back-off coxswain uses (Kubernetes' exact ones without jitter),
 * and the guarantees every caller relies on — never above the cap or the nominal delay, jitter only takes off.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { backoffDelay } from "../../../operator/src/api/backoff.js";
import { DEFAULT_BACKOFF } from "../../../operator/src/engine/queue.js";
import { JOB_BACKOFF } from "../../../operator/src/rollout/job.js";
import { RESTART_BACKOFF } from "../../../operator/src/runtime/health.js";

const never = () => 0; // takes nothing off: the nominal delay

describe("backoffDelay", () => {
  it.each([
    { name: "the kubelet's crash loop waits 10 s doubling to 5 min", backoff: RESTART_BACKOFF, delays: [0, 10_000, 20_000, 40_000, 80_000, 160_000, 300_000, 300_000] },
    { name: "a Job's pod-failure back-off waits 10 s doubling to 6 min", backoff: JOB_BACKOFF, delays: [0, 10_000, 20_000, 40_000, 80_000, 160_000, 320_000, 360_000] },
    { name: "the work queue waits 250 ms doubling to 60 s", backoff: DEFAULT_BACKOFF, delays: [0, 250, 500, 1_000, 2_000, 4_000, 8_000, 16_000] },
    { name: "a remote that is down is retried after 1 s doubling to 60 s", backoff: { initialMs: 1_000, maxMs: 60_000 }, delays: [0, 1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000] },
  ])("$name", ({ backoff, delays }) => {
    expect(delays.map((_, attempt) => backoffDelay(backoff, attempt, never))).toEqual(delays);
  });

  it("waits nothing before attempt 0 or less, and the cap for any attempt past it, however large", () => {
    const b = { initialMs: 250, maxMs: 60_000, jitter: 0.2 };
    expect([-3, 0].map((a) => backoffDelay(b, a, () => 0.5))).toEqual([0, 0]);
    expect(backoffDelay(b, 5_000, never)).toBe(60_000);
    expect(backoffDelay(b, Number.MAX_SAFE_INTEGER, never)).toBe(60_000);
  });

  it("takes off at most jitter of the delay, and never adds to it", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 60 }),
        fc.integer({ min: 1, max: 10_000 }),
        fc.integer({ min: 0, max: 1_000_000 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (attempt, initialMs, extra, jitter, random) => {
          const b = { initialMs, maxMs: initialMs + extra, jitter };
          const d = Math.min(b.maxMs, initialMs * 2 ** (attempt - 1));
          const ms = backoffDelay(b, attempt, () => random);
          expect(ms).toBeLessThanOrEqual(d);
          expect(ms).toBeGreaterThanOrEqual(Math.floor(d * (1 - jitter)));
        },
      ),
    );
  });

  it("spreads the delays of many keys across the jitter range", () => {
    const values = Array.from({ length: 1_000 }, (_, i) => backoffDelay(DEFAULT_BACKOFF, 4, () => i / 1_000));
    const d = 250 * 8;
    expect(Math.min(...values)).toBeLessThan(d * (1 - DEFAULT_BACKOFF.jitter) + 5);
    expect(Math.max(...values)).toBe(d);
  });
});
