/**
 * RefusalLog with an injected clock: every refusal counted, one line per client per interval, and a
 * bounded memory of clients.
 */
import { describe, expect, it } from "vitest";
import { RefusalLog } from "../../../operator/src/server/refusals.js";
import { lineLogger } from "../../support/log.js";

function harness(opts: { intervalMs?: number; maxClients?: number } = {}) {
  let t = 0;
  const lines: string[] = [];
  const log = new RefusalLog({ log: lineLogger((l) => lines.push(l)), now: () => t, ...opts });
  return { log, lines, advance: (ms: number) => (t += ms) };
}

describe("RefusalLog", () => {
  it("counts every refusal per reason, every reason present and sorted", () => {
    const h = harness();
    h.log.refused("a", "unauthorized", "401");
    h.log.refused("a", "unauthorized", "401");
    h.log.refused("b", "rateLimited", "429");
    expect(Object.entries(h.log.counts())).toEqual([
      ["incomplete", 0],
      ["rateLimited", 1],
      ["tooLarge", 0],
      ["unauthorized", 2],
    ]);
  });

  it("logs a client's first refusal, then nothing until the interval is over, then one line with what went unlogged", () => {
    const h = harness({ intervalMs: 1_000 });
    h.log.refused("a", "unauthorized", "401 x");
    h.advance(999);
    h.log.refused("a", "tooLarge", "413 y");
    h.log.refused("a", "unauthorized", "401 x");
    expect(h.lines).toHaveLength(1);
    h.advance(1);
    h.log.refused("a", "unauthorized", "401 z");
    expect(h.lines).toHaveLength(2);
    expect(h.lines[1]).toBe("webhook: refused a request from a: 401 z; and 2 more from a since its last line (tooLarge 1, unauthorized 1)");
    h.advance(1_000);
    h.log.refused("a", "unauthorized", "401 z");
    expect(h.lines[2]).toBe("webhook: refused a request from a: 401 z");
  });

  it("remembers at most maxClients clients, forgetting those whose interval is over first", () => {
    const h = harness({ intervalMs: 1_000, maxClients: 3 });
    for (const c of ["a", "b", "c"]) h.log.refused(c, "unauthorized", "401");
    h.advance(1_000);
    h.log.refused("d", "unauthorized", "401");
    expect(h.log.size).toBe(1);
    for (let i = 0; i < 100; i++) h.log.refused(`x${i}`, "unauthorized", "401");
    expect(h.log.size).toBe(3);
    expect(h.log.counts().unauthorized).toBe(104);
  });
});
