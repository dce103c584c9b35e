/**
 * Revision history: numbers (a known template is re-used and moves to max + 1), records, and
 * revisionHistoryLimit pruning (oldest first, never a revision that still has pods, never the current one).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isCoxError } from "../../../operator/src/api/errors.js";
import { nextRevisionNumber, pruneHistory, recordRevision, sameSizes } from "../../../operator/src/rollout/index.js";
import type { RevisionRecord } from "../../../operator/src/rollout/types.js";

const h = (...entries: [number, string][]): RevisionRecord[] => entries.map(([revision, hash]) => ({ revision, hash, commit: `c-${hash}-${revision}` }));

describe("nextRevisionNumber", () => {
  it.each([
    { name: "gives the first revision number 1", history: [], hash: "a", want: 1 },
    { name: "gives a new template max + 1", history: h([1, "a"], [2, "b"]), hash: "c", want: 3 },
    { name: "moves a known template to max + 1 (a rollback re-uses its revision)", history: h([1, "a"], [2, "b"]), hash: "a", want: 3 },
    { name: "keeps the number of the current revision", history: h([1, "a"], [2, "b"]), hash: "b", want: 2 },
    { name: "counts from the highest number, not the count of records", history: h([4, "a"], [9, "b"]), hash: "c", want: 10 },
  ])("$name", ({ history, hash, want }) => {
    expect(nextRevisionNumber(history, hash)).toBe(want);
  });

  it.each([
    { name: "a duplicate number", history: h([1, "a"], [1, "b"]) },
    { name: "a duplicate hash", history: h([1, "a"], [2, "a"]) },
    { name: "a number below 1", history: h([0, "a"]) },
  ])("throws InvalidArgument for $name", ({ history }) => {
    let caught: unknown;
    try {
      nextRevisionNumber(history, "x");
    } catch (e) {
      caught = e;
    }
    expect(isCoxError(caught, "InvalidArgument")).toBe(true);
  });
});

describe("recordRevision", () => {
  it("adds a new template with its commit", () => {
    expect(recordRevision(h([1, "a"]), "b", "c2")).toEqual([...h([1, "a"]), { revision: 2, hash: "b", commit: "c2" }]);
  });

  it("moves a known template to max + 1 with the commit that brought it back", () => {
    expect(recordRevision(h([1, "a"], [2, "b"]), "a", "revert")).toEqual([...h([2, "b"]), { revision: 3, hash: "a", commit: "revert" }]);
  });

  it("keeps the record of the current revision as it is (a commit that changed no template)", () => {
    const history = h([1, "a"], [2, "b"]);
    expect(recordRevision(history, "b", "later")).toEqual(history);
  });

  it("does not modify its input", () => {
    const history = h([1, "a"], [2, "b"]);
    const before = structuredClone(history);
    recordRevision(history, "a", "x");
    expect(history).toEqual(before);
  });

  it("keeps numbers unique, makes the recorded template the highest, and orders history by when each template was last current (property)", () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom("a", "b", "c", "d", "e"), { minLength: 1, maxLength: 30 }), (hashes) => {
        let history: RevisionRecord[] = [];
        const lastCurrent: string[] = [];
        hashes.forEach((hash, i) => {
          const before = history;
          const expected = nextRevisionNumber(before, hash);
          history = recordRevision(before, hash, `c${i}`);
          const max = Math.max(...before.map((r) => r.revision), 0);
          const own = before.find((r) => r.hash === hash);
          expect(expected).toBe(own && own.revision === max ? max : max + 1);
          expect(history.at(-1)).toMatchObject({ hash, revision: expected });
          expect(new Set(history.map((r) => r.revision)).size).toBe(history.length);
          expect(new Set(history.map((r) => r.hash)).size).toBe(history.length);
          const at = lastCurrent.indexOf(hash);
          if (at >= 0) lastCurrent.splice(at, 1);
          lastCurrent.push(hash);
        });
        expect(history.map((r) => r.hash)).toEqual(lastCurrent);
      }),
    );
  });
});

describe("pruneHistory", () => {
  it.each([
    { name: "keeps everything within the limit", history: h([1, "a"], [2, "b"], [3, "c"]), limit: 2, pods: [], pruned: [] },
    { name: "drops the oldest revisions beyond the limit", history: h([1, "a"], [2, "b"], [3, "c"], [4, "d"]), limit: 1, pods: [], pruned: ["a", "b"] },
    { name: "never drops the current revision, even with limit 0", history: h([1, "a"], [2, "b"]), limit: 0, pods: [], pruned: ["a"] },
    { name: "skips a revision that still has pods (and does not drop a newer one instead)", history: h([1, "a"], [2, "b"], [3, "c"], [4, "d"]), limit: 1, pods: ["a"], pruned: ["b"] },
    { name: "orders by revision number, not by position", history: h([7, "x"], [2, "y"], [5, "z"]), limit: 1, pods: [], pruned: ["y"] },
  ])("$name", ({ history, limit, pods, pruned }) => {
    const got = pruneHistory(history, limit, pods);
    expect(got.pruned.map((r) => r.hash)).toEqual(pruned);
    expect(got.kept.map((r) => r.hash).sort()).toEqual(
      history
        .map((r) => r.hash)
        .filter((x) => !pruned.includes(x))
        .sort(),
    );
    expect(got.kept.map((r) => r.revision)).toEqual([...got.kept.map((r) => r.revision)].sort((a, b) => a - b));
  });

  it("throws InvalidArgument for a negative limit", () => {
    let caught: unknown;
    try {
      pruneHistory(h([1, "a"]), -1, []);
    } catch (e) {
      caught = e;
    }
    expect(isCoxError(caught, "InvalidArgument")).toBe(true);
  });

  it("keeps the current revision, every revision with pods, and at least `limit` old ones; drops only the oldest (property)", () => {
    const hashes = ["a", "b", "c", "d", "e", "f", "g", "h"];
    fc.assert(
      fc.property(fc.shuffledSubarray(hashes, { minLength: 1 }), fc.integer({ min: 0, max: 8 }), fc.subarray(hashes), (order, limit, withPods) => {
        const history = order.map((hash, i) => ({ revision: i + 1, hash, commit: `c${i}` }));
        const { kept, pruned } = pruneHistory(history, limit, withPods);
        expect(kept.length + pruned.length).toBe(history.length);
        expect(kept.at(-1)?.hash).toBe(order.at(-1));
        for (const r of pruned) expect(withPods).not.toContain(r.hash);
        expect(kept.length - 1).toBeGreaterThanOrEqual(Math.min(limit, history.length - 1));
        // Every dropped revision is older than every kept old revision without pods.
        const keptOld = kept.slice(0, -1).filter((r) => !withPods.includes(r.hash));
        for (const p of pruned) for (const k of keptOld) expect(p.revision).toBeLessThan(k.revision);
      }),
    );
  });
});

describe("sameSizes (what tells the workload controller a step changed only sizes)", () => {
  const s = (byRevision: Record<string, number>, replicas = 2, maxReplicas = 2) => ({ replicas, maxReplicas, byRevision });
  it.each([
    { name: "equal sizes are the same", a: s({ r1: 2 }), b: s({ r1: 2 }), same: true },
    { name: "a revision at 0 counts as absent", a: s({ r1: 2, r2: 0 }), b: s({ r1: 2 }), same: true },
    { name: "a revision scaled down is a change", a: s({ r1: 2 }), b: s({ r1: 1, r2: 0 }), same: false },
    { name: "another spec.replicas is a change", a: s({ r1: 2 }), b: s({ r1: 2 }, 3, 3), same: false },
    { name: "no sizes before is a change", a: undefined, b: s({ r1: 2 }), same: false },
  ])("$name", ({ a, b, same }) => {
    expect(sameSizes(a, b)).toBe(same);
  });
});
