/**
 * The per-client token bucket: a burst is allowed at once, then requests at the sustained rate; clients
 * do not share buckets; the retry delay says when the next request is allowed; memory stays bounded.
 */
import { describe, expect, it } from "vitest";
import { RateLimiter } from "../../../operator/src/server/rate.js";

describe("RateLimiter", () => {
  it("allows a burst, refuses the next request, and allows it again after the announced delay", () => {
    let now = 1_000_000;
    const rl = new RateLimiter({ perSecond: 2, burst: 3, now: () => now });
    expect([rl.take("a"), rl.take("a"), rl.take("a")].every((d) => d.allowed)).toBe(true);
    const refused = rl.take("a");
    expect(refused).toEqual({ allowed: false, retryAfterMs: 500 });
    now += 499;
    expect(rl.take("a").allowed).toBe(false);
    now += 500;
    expect(rl.take("a").allowed).toBe(true);
  });

  it("sustains the configured rate over a long run", () => {
    let now = 0;
    const rl = new RateLimiter({ perSecond: 5, burst: 1, now: () => now });
    let allowed = 0;
    for (let ms = 0; ms < 10_000; ms += 10) {
      now = ms;
      if (rl.take("a").allowed) allowed++;
    }
    expect(allowed).toBeGreaterThanOrEqual(49);
    expect(allowed).toBeLessThanOrEqual(51);
  });

  it("keeps one bucket per client", () => {
    const rl = new RateLimiter({ perSecond: 1, burst: 1, now: () => 0 });
    expect(rl.take("a").allowed).toBe(true);
    expect(rl.take("a").allowed).toBe(false);
    expect(rl.take("b").allowed).toBe(true);
  });

  it("tracks at most maxClients clients", () => {
    let now = 0;
    const rl = new RateLimiter({ perSecond: 1, burst: 2, maxClients: 100, now: () => now });
    for (let i = 0; i < 1_000; i++) {
      now += 1;
      rl.take(`client-${i}`);
    }
    expect(rl.size).toBeLessThanOrEqual(100);
  });

  it("defaults the burst to twice the rate", () => {
    const rl = new RateLimiter({ perSecond: 3, now: () => 0 });
    let allowed = 0;
    while (rl.take("a").allowed) allowed++;
    expect(allowed).toBe(6);
  });
});
