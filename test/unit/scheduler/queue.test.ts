import { describe, expect, it } from "vitest";
import { isCoxError } from "../../../operator/src/api/errors.js";
import { SchedulingQueue } from "../../../operator/src/scheduler/index.js";

/** A queue on a clock the test moves by hand. */
function setup(opts: { initialBackoffMs?: number; maxBackoffMs?: number; maxUnschedulableMs?: number } = {}) {
  let now = 1_000_000;
  const q = new SchedulingQueue<string>({ ...opts, now: () => now });
  return {
    q,
    advance(ms: number) {
      now += ms;
    },
    /** Pops everything ready, in order. */
    drain(): string[] {
      const out: string[] = [];
      for (let x = q.pop(); x !== undefined; x = q.pop()) out.push(x.id);
      return out;
    },
  };
}

describe("SchedulingQueue order", () => {
  it("pops higher priority first, then the pod that has waited longest, then insertion order", () => {
    const { q, advance, drain } = setup();
    q.add("low-old", 0, "");
    advance(10);
    q.add("high-new", 100, "");
    q.add("low-new", 0, "");
    q.add("mid", 50, "");
    expect(q.activeOrder()).toEqual(["high-new", "mid", "low-old", "low-new"]);
    expect(drain()).toEqual(["high-new", "mid", "low-old", "low-new"]);
  });

  it("re-sorts a queued pod whose priority changes", () => {
    const { q, drain } = setup();
    q.add("a", 0, "");
    q.add("b", 0, "");
    q.add("b", 10, "v2");
    expect(q.get("b")!.data).toBe("v2");
    expect(drain()).toEqual(["b", "a"]);
  });

  it("counts an attempt per pop and forgets a pod marked done", () => {
    const { q } = setup();
    q.add("a", 0, "");
    expect(q.pop()!.attempts).toBe(1);
    q.done("a");
    expect(q.state("a")).toBeUndefined();
    expect(q.sizes()).toEqual({ active: 0, backoff: 0, unschedulable: 0, inFlight: 0 });
  });
});

describe("SchedulingQueue backoff", () => {
  it("backs off 1 s doubling per attempt up to 10 s", () => {
    const { q } = setup();
    expect([1, 2, 3, 4, 5, 6].map((n) => q.backoffDuration(n))).toEqual([1000, 2000, 4000, 8000, 10000, 10000]);
  });

  it("keeps a failed pod in backoff until its backoff ends, then flush() makes it active", () => {
    const { q, advance, drain } = setup();
    q.add("a", 0, "");
    q.pop();
    q.retry("a");
    expect(q.state("a")).toBe("backoff");
    advance(999);
    expect(q.flush()).toBe(0);
    expect(drain()).toEqual([]);
    advance(1);
    expect(q.flush()).toBe(1);
    expect(drain()).toEqual(["a"]);
  });

  it("doubles the backoff after each failed attempt", () => {
    const { q, advance } = setup();
    q.add("a", 0, "");
    const waits: number[] = [];
    for (let attempt = 0; attempt < 5; attempt++) {
      q.pop();
      q.retry("a");
      let waited = 0;
      while (q.state("a") === "backoff") {
        advance(500);
        waited += 500;
        q.flush();
      }
      waits.push(waited);
    }
    expect(waits).toEqual([1000, 2000, 4000, 8000, 10000]);
  });

  it("tells when the next backoff ends", () => {
    const { q } = setup();
    expect(q.nextFlushAt()).toBeUndefined();
    q.add("a", 0, "");
    q.pop();
    q.retry("a");
    expect(q.nextFlushAt()).toBe(1_000_000 + 1000);
  });

  it("rejects a maximum backoff below the initial one with InvalidArgument", () => {
    let caught: unknown;
    try {
      new SchedulingQueue({ initialBackoffMs: 2000, maxBackoffMs: 1000 });
    } catch (e) {
      caught = e;
    }
    expect(isCoxError(caught, "InvalidArgument")).toBe(true);
  });
});

describe("SchedulingQueue unschedulable pool", () => {
  it("parks an unschedulable pod until the fleet changes", () => {
    const { q, advance, drain } = setup();
    q.add("a", 0, "");
    q.pop();
    q.unschedulable("a", ["NodeResourcesFit"]);
    expect(q.state("a")).toBe("unschedulable");
    advance(60_000);
    q.flush();
    expect(drain()).toEqual([]);
    expect(q.moveAllToActive("NodeAdded")).toBe(1);
    expect(drain()).toEqual(["a"]);
  });

  it("moves a pod whose backoff has not ended to backoff, not straight to active", () => {
    const { q, advance, drain } = setup();
    q.add("a", 0, "");
    q.pop();
    q.unschedulable("a", ["NodeResourcesFit"]);
    advance(300);
    q.moveAllToActive("PodRemoved");
    expect(q.state("a")).toBe("backoff");
    advance(700);
    q.flush();
    expect(drain()).toEqual(["a"]);
  });

  it("moves only the pods an event can help", () => {
    const { q, advance } = setup();
    for (const id of ["fit", "taint", "spread", "unknown"]) q.add(id, 0, "");
    for (let x = q.pop(); x !== undefined; x = q.pop()) {
      const plugins = { fit: ["NodeResourcesFit"], taint: ["TaintToleration"], spread: ["PodTopologySpread", "TaintToleration"], unknown: [] }[x.id]!;
      q.unschedulable(x.id, plugins);
    }
    advance(5_000);
    expect(q.moveAllToActive("PodRemoved")).toBe(3);
    expect(q.activeOrder().sort()).toEqual(["fit", "spread", "unknown"]);
    expect(q.state("taint")).toBe("unschedulable");
    expect(q.moveAllToActive("NodeChanged")).toBe(1);
    expect(q.state("taint")).toBe("active");
  });

  it("flushes pods unschedulable for more than 5 minutes", () => {
    const { q, advance, drain } = setup();
    q.add("a", 0, "");
    q.pop();
    q.unschedulable("a", ["TaintToleration"]);
    advance(300_000);
    q.flush();
    expect(drain()).toEqual([]);
    expect(q.nextFlushAt()).toBe(1_000_000 + 300_001);
    advance(1);
    q.flush();
    expect(drain()).toEqual(["a"]);
  });

  it("sends a pod that fails while an event arrived during its attempt to backoff, not the pool", () => {
    const { q } = setup();
    q.add("a", 0, "");
    q.pop();
    q.moveAllToActive("NodeAdded");
    q.unschedulable("a", ["NodeResourcesFit"]);
    expect(q.state("a")).toBe("backoff");
  });

  it("moves an updated pod out of the pool (the update may make it fit)", () => {
    const { q, advance } = setup();
    q.add("a", 0, "v1");
    q.pop();
    q.unschedulable("a", ["NodeAffinity"]);
    advance(2_000);
    q.add("a", 0, "v2");
    expect(q.state("a")).toBe("active");
    expect(q.get("a")!.data).toBe("v2");
  });

  it("ignores unschedulable() and retry() for pods that are not in flight, and delete() of unknown ids", () => {
    const { q } = setup();
    q.add("a", 0, "");
    q.unschedulable("a");
    q.retry("a");
    q.delete("zz");
    expect(q.state("a")).toBe("active");
  });
});
