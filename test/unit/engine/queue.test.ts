import fc from "fast-check";
import { afterEach, describe, expect, it, vi } from "vitest";
import { CoxError } from "../../../operator/src/api/errors.js";
import { WorkQueue, type ErrorOutcome, type WorkQueueOptions } from "../../../operator/src/engine/queue.js";
import { ControlledHandler, FakeClock, flush } from "./support.js";

function setup(opts: Partial<WorkQueueOptions> = {}) {
  const clock = new FakeClock();
  const errors: { key: string; code: string; outcome: ErrorOutcome }[] = [];
  const queue = new WorkQueue({
    concurrency: 1,
    clock,
    random: () => 0,
    onError: (key, err, outcome) => errors.push({ key, code: err.code, outcome }),
    ...opts,
  });
  const handler = new ControlledHandler();
  return { clock, queue, handler, errors };
}

describe("WorkQueue", () => {
  it("runs a key added many times while queued only once", async () => {
    const { queue, handler } = setup();
    for (let i = 0; i < 100; i++) queue.add("a");
    expect(queue.len()).toBe(1);
    queue.start(handler.handle);
    await flush();
    for (let i = 0; i < 100; i++) queue.add("a");
    await handler.finishRun(handler.runs[0]!);
    await handler.finishRun(handler.runs[1]!);
    await queue.onIdle();
    expect(handler.counts()).toEqual({ a: 2 });
  });

  it("runs a key added while it is processed exactly once more afterwards, never concurrently", async () => {
    const { queue, handler } = setup({ concurrency: 4 });
    queue.start(handler.handle);
    queue.add("a");
    await flush();
    expect(queue.processing()).toBe(1);
    for (let i = 0; i < 5; i++) queue.add("a");
    await flush();
    expect(handler.runs).toHaveLength(1); // not started again while in flight
    expect(queue.len()).toBe(0); // a dirty key is not counted as waiting
    await handler.finishRun(handler.runs[0]!);
    expect(handler.runs).toHaveLength(2);
    await handler.finishRun(handler.runs[1]!);
    await queue.onIdle();
    expect(handler.counts()).toEqual({ a: 2 });
    expect(handler.maxPerKey).toBe(1);
  });

  it("runs keys in the order they were added", async () => {
    const { queue } = setup();
    const seen: string[] = [];
    for (const k of ["c", "a", "b", "a"]) queue.add(k);
    queue.start(async (k) => void seen.push(k));
    await queue.onIdle();
    expect(seen).toEqual(["c", "a", "b"]);
  });

  it("never runs more keys at once than its concurrency", async () => {
    const { queue, handler } = setup({ concurrency: 3 });
    queue.start(handler.handle);
    for (let i = 0; i < 10; i++) queue.add(`k${i}`);
    await flush();
    expect(queue.processing()).toBe(3);
    expect(queue.len()).toBe(7);
    while (handler.pending().length > 0) await handler.finishRun(handler.pending()[0]!);
    await queue.onIdle();
    expect(handler.maxInFlight).toBe(3);
    expect(Object.keys(handler.counts())).toHaveLength(10);
  });

  it("retries a failing key with doubling delays up to the maximum", async () => {
    const { clock, queue, handler, errors } = setup({ backoff: { initialMs: 100, maxMs: 1_000, jitter: 0 } });
    queue.start(handler.handle);
    queue.add("a");
    await flush();
    for (let i = 0; i < 6; i++) {
      const run = handler.pending()[0]!;
      await handler.failRun(run, new CoxError("NodeUnreachable", "engine down"));
      expect(queue.failures("a")).toBe(i + 1);
      await clock.advance(clock.scheduled.at(-1)! - 1);
      expect(handler.pending()).toHaveLength(0); // not before its delay
      await clock.advance(1);
      expect(handler.pending()).toHaveLength(1);
    }
    expect(clock.scheduled).toEqual([100, 200, 400, 800, 1_000, 1_000]);
    expect(errors.map((e) => e.outcome)).toEqual(clock.scheduled.map((ms, i) => ({ retry: "transient", failures: i + 1, requeueAfterMs: ms })));
  });

  it("forgets a key's failures when it succeeds", async () => {
    const { clock, queue, handler } = setup({ backoff: { initialMs: 100, maxMs: 1_000, jitter: 0 } });
    queue.start(handler.handle);
    queue.add("a");
    await flush();
    await handler.failRun(handler.pending()[0]!, new Error("boom"));
    await clock.advance(100);
    await handler.failRun(handler.pending()[0]!, new Error("boom"));
    expect(queue.failures("a")).toBe(2);
    await clock.advance(200);
    await handler.finishRun(handler.pending()[0]!);
    expect(queue.failures("a")).toBe(0);
    queue.add("a");
    await flush();
    await handler.failRun(handler.pending()[0]!, new Error("boom"));
    expect(clock.scheduled).toEqual([100, 200, 100]);
  });

  it("treats errors that are not CoxErrors as transient, reporting them as RuntimeCallFailed", async () => {
    const { queue, handler, errors } = setup();
    queue.start(handler.handle);
    queue.add("a");
    await flush();
    await handler.failRun(handler.pending()[0]!, new TypeError("bug"));
    expect(errors).toEqual([{ key: "a", code: "RuntimeCallFailed", outcome: { retry: "transient", failures: 1, requeueAfterMs: 250 } }]);
    expect(queue.delayed()).toBe(1);
  });

  it("does not requeue a key whose error is stalled, and reports it", async () => {
    const { clock, queue, handler, errors } = setup();
    queue.start(handler.handle);
    queue.add("a");
    await flush();
    await handler.failRun(handler.pending()[0]!, new CoxError("DependencyCycle", "a → b → a"));
    await clock.advance(24 * 3_600_000);
    expect(handler.runs).toHaveLength(1);
    expect(queue.delayed()).toBe(0);
    expect(queue.failures("a")).toBe(0);
    expect(errors).toEqual([{ key: "a", code: "DependencyCycle", outcome: { retry: "stalled", failures: 0 } }]);
  });

  it("requeues a key whose error is waiting after the delay the error names, or the default", async () => {
    const { clock, queue, handler, errors } = setup({ waitingDelayMs: 3_000 });
    queue.start(handler.handle);
    queue.add("a");
    await flush();
    await handler.failRun(handler.pending()[0]!, new CoxError("Unschedulable", "0/1 nodes", { requeueAfterMs: 1_500 }));
    await clock.advance(1_499);
    expect(handler.pending()).toHaveLength(0);
    await clock.advance(1);
    expect(handler.pending()).toHaveLength(1);
    await handler.failRun(handler.pending()[0]!, new CoxError("BranchNotFound", "no branch yet"));
    await clock.advance(2_999);
    expect(handler.pending()).toHaveLength(0);
    await clock.advance(1);
    expect(handler.pending()).toHaveLength(1);
    expect(queue.failures("a")).toBe(0);
    expect(errors.map((e) => e.outcome)).toEqual([
      { retry: "waiting", failures: 0, requeueAfterMs: 1_500 },
      { retry: "waiting", failures: 0, requeueAfterMs: 3_000 },
    ]);
  });

  it("requeues a key after the delay its successful run asks for", async () => {
    const { clock, queue, handler } = setup();
    queue.start(handler.handle);
    queue.add("a");
    await flush();
    await handler.finishRun(handler.pending()[0]!, { requeueAfterMs: 10_000 });
    await clock.advance(9_999);
    expect(handler.runs).toHaveLength(1);
    await clock.advance(1);
    expect(handler.runs).toHaveLength(2);
  });

  it("keeps the earliest of several delayed adds of a key and runs it once", async () => {
    const { clock, queue, handler } = setup();
    queue.start(handler.handle);
    queue.addAfter("a", 1_000);
    queue.addAfter("a", 500);
    queue.addAfter("a", 800);
    expect(queue.delayed()).toBe(1);
    await clock.advance(499);
    expect(handler.runs).toHaveLength(0);
    await clock.advance(1);
    expect(handler.runs).toHaveLength(1);
    await handler.finishRun(handler.runs[0]!);
    await clock.advance(10_000);
    expect(handler.runs).toHaveLength(1);
  });

  it("adds at once when asked to add after no delay", async () => {
    const { queue, handler } = setup();
    queue.addAfter("a", 0);
    queue.addAfter("b", -5);
    expect(queue.len()).toBe(2);
    queue.start(handler.handle);
    await flush();
    expect(handler.runs.map((r) => r.key)).toEqual(["a"]);
  });

  it("processes every queued key, dirty ones included, when shut down with drain, and then accepts nothing", async () => {
    const { clock, queue, handler } = setup();
    queue.start(handler.handle);
    for (const k of ["a", "b", "c"]) queue.add(k);
    queue.addAfter("later", 1_000);
    await flush();
    queue.add("a"); // dirty: added while a runs
    const done = queue.shutdown({ drain: true });
    queue.add("d");
    expect(queue.delayed()).toBe(0);
    let finished = false;
    void done.then(() => (finished = true));
    while (handler.pending().length > 0) {
      expect(finished).toBe(false);
      await handler.finishRun(handler.pending()[0]!, { requeueAfterMs: 5 });
    }
    await done;
    await clock.advance(10_000);
    expect(handler.runs.map((r) => r.key)).toEqual(["a", "b", "c", "a"]);
    expect(queue.closed).toBe(true);
  });

  it("drops queued keys but waits for the ones in flight when shut down without drain", async () => {
    const { queue, handler } = setup({ concurrency: 2 });
    queue.start(handler.handle);
    for (const k of ["a", "b", "c", "d"]) queue.add(k);
    await flush();
    queue.add("a");
    const done = queue.shutdown({ drain: false });
    expect(queue.len()).toBe(0);
    let finished = false;
    void done.then(() => (finished = true));
    await handler.finishRun(handler.runs[0]!);
    expect(finished).toBe(false);
    await handler.finishRun(handler.runs[1]!);
    await done;
    expect(handler.runs.map((r) => r.key)).toEqual(["a", "b"]);
  });

  it("shuts down at once when it was never started", async () => {
    const { queue } = setup();
    queue.add("a");
    await queue.shutdown({ drain: true });
    expect(queue.len()).toBe(0);
  });

  it("keeps working when the error reporter throws", async () => {
    const { queue, handler } = setup({
      onError: () => {
        throw new Error("logger broke");
      },
    });
    queue.start(handler.handle);
    queue.add("a");
    queue.add("b");
    await flush();
    await handler.failRun(handler.pending()[0]!, new CoxError("InvalidField", "bad"));
    await handler.finishRun(handler.pending()[0]!);
    await queue.onIdle();
    expect(handler.runs.map((r) => r.key)).toEqual(["a", "b"]);
  });

  it("refuses a concurrency below one, a bad backoff, and a second start", () => {
    for (const opts of [{ concurrency: 0 }, { concurrency: 1.5 }, { concurrency: 1, backoff: { jitter: 2 } }, { concurrency: 1, backoff: { initialMs: 10, maxMs: 5 } }]) {
      expect(() => new WorkQueue(opts)).toThrow(expect.objectContaining({ code: "InvalidArgument" }));
    }
    const q = new WorkQueue({ concurrency: 1 });
    q.start(async () => {});
    expect(() => q.start(async () => {})).toThrow(expect.objectContaining({ code: "InvalidArgument" }));
  });

  describe("with the default clock", () => {
    afterEach(() => void vi.useRealTimers());

    it("fires delayed adds on the global timers, so fake timers drive it", async () => {
      vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "performance"] });
      const q = new WorkQueue({ concurrency: 1 });
      const seen: string[] = [];
      q.start(async (k) => void seen.push(k));
      q.addAfter("a", 5_000);
      q.addAfter("a", 2_000);
      await vi.advanceTimersByTimeAsync(1_999);
      expect(seen).toEqual([]);
      await vi.advanceTimersByTimeAsync(1);
      await q.onIdle();
      expect(seen).toEqual(["a"]);
      await vi.advanceTimersByTimeAsync(10_000);
      expect(seen).toEqual(["a"]);
      await q.shutdown({ drain: false });
    });
  });
});

describe("WorkQueue and the event loop", () => {
  it("lets a timer fire while two keys that finish at once keep adding each other", async () => {
    const queue = new WorkQueue({ concurrency: 1 });
    let runs = 0;
    let runsWhenTheTimerFired: number | undefined;
    setTimeout(() => (runsWhenTheTimerFired = runs), 0);
    const done = new Promise<void>((resolve) => {
      // Each reconcile adds the other key and finishes without I/O: chained in microtasks, the timer above
      // would only fire after all 100,000 runs.
      queue.start(async (key) => {
        runs++;
        if (runs < 100_000) queue.add(key === "a" ? "b" : "a");
        else resolve();
      });
    });
    queue.add("a");
    await done;
    expect(runsWhenTheTimerFired).toBeDefined(); // it fired while the keys kept adding each other
    expect(runsWhenTheTimerFired!).toBeLessThan(100_000);
    await queue.shutdown({ drain: false });
  });
});

describe("WorkQueue property", () => {
  type Op = { t: "add"; k: string } | { t: "finish"; i: number; how: "ok" | "stalled" | "requeue" };
  const opArb: fc.Arbitrary<Op> = fc.oneof(
    fc.record({ t: fc.constant("add" as const), k: fc.constantFrom("a", "b", "c", "d") }),
    fc.record({ t: fc.constant("finish" as const), i: fc.nat(7), how: fc.constantFrom("ok" as const, "stalled" as const, "requeue" as const) }),
  );

  it("never runs a key twice at once and runs every added key at least once after its last add", async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 3 }), fc.array(opArb, { maxLength: 40 }), async (concurrency, ops) => {
        let tick = 0;
        const clock = new FakeClock();
        const handler = new ControlledHandler(() => ++tick);
        const queue = new WorkQueue({ concurrency, clock, random: () => 0.5 });
        queue.start(handler.handle);
        const lastAdd = new Map<string, number>();
        const finishWith = async (i: number, how: string) => {
          const run = handler.pending()[i % handler.pending().length]!;
          if (how === "stalled") await handler.failRun(run, new CoxError("InvalidField", "bad"));
          else await handler.finishRun(run, how === "requeue" ? { requeueAfterMs: 50 } : undefined);
        };
        for (const op of ops) {
          if (op.t === "add") {
            lastAdd.set(op.k, ++tick);
            queue.add(op.k);
            await flush(1);
          } else if (handler.pending().length > 0) {
            await finishWith(op.i, op.how);
          }
          expect(handler.total()).toBeLessThanOrEqual(concurrency);
        }
        // Let everything settle: finish all runs, fire delayed adds, until nothing is left.
        for (let guard = 0; guard < 1_000 && (handler.pending().length > 0 || queue.delayed() > 0); guard++) {
          if (handler.pending().length > 0) await finishWith(0, "ok");
          else await clock.advance(50);
        }
        await queue.onIdle();
        expect(handler.pending()).toHaveLength(0);
        expect(handler.maxPerKey).toBeLessThanOrEqual(1);
        expect(handler.maxInFlight).toBeLessThanOrEqual(concurrency);
        for (const [k, at] of lastAdd) expect(handler.runs.some((r) => r.key === k && r.seq > at)).toBe(true);
        await queue.shutdown({ drain: false });
      }),
      { numRuns: 200 },
    );
  });
});
