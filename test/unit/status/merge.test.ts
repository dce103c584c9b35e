/**
 * The three-way merge of status trees used when another writer moved the status branch, and the store's
 * generic files and notes: no record of either side is lost, ours win where both changed a file, their
 * changes and removals are adopted where we did not touch the file; plan files live outside the record
 * layout; plan notes yield to commit records' notes.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CoxError } from "../../../operator/src/api/errors.js";
import type { TreeFile } from "../../../operator/src/source/types.js";
import { commitPath, mergeStatusTrees, noteText, parsePlan, planName, planPath, renderPlan, renderStatusTree, StatusStore } from "../../../operator/src/status/store.js";
import type { CommitRecord, PlanRecord } from "../../../operator/src/status/types.js";

const f = (path: string, content: string): TreeFile => ({ path, content });

describe("mergeStatusTrees", () => {
  it.each([
    ["keeps a file only we added", [], [f("a", "ours")], [], [f("a", "ours")], []],
    ["adds a file only they added", [], [], [f("b", "theirs")], [f("b", "theirs")], [{ path: "b", content: "theirs" }]],
    ["keeps ours when both added the same path", [], [f("a", "ours")], [f("a", "theirs")], [f("a", "ours")], []],
    ["keeps ours when both changed a file", [f("a", "base")], [f("a", "ours")], [f("a", "theirs")], [f("a", "ours")], []],
    ["takes their change of a file we did not touch", [f("a", "base")], [f("a", "base")], [f("a", "theirs")], [f("a", "theirs")], [{ path: "a", content: "theirs" }]],
    ["takes their removal of a file we did not touch", [f("a", "base")], [f("a", "base")], [], [], [{ path: "a" }]],
    ["keeps our removal of a file they did not touch", [f("a", "base")], [], [f("a", "base")], [], []],
    ["keeps our removal of a file they changed (ours wins)", [f("a", "base")], [], [f("a", "theirs")], [], []],
    ["keeps our change of a file they removed", [f("a", "base")], [f("a", "ours")], [], [f("a", "ours")], []],
  ] as [string, TreeFile[], TreeFile[], TreeFile[], TreeFile[], { path: string; content?: string }[]][])("%s", (_what, base, ours, theirs, files, adopted) => {
    expect(mergeStatusTrees(base, ours, theirs)).toEqual({ files, adopted });
  });

  const tree = fc
    .uniqueArray(fc.tuple(fc.constantFrom("a", "b", "c", "d", "e", "f"), fc.constantFrom("1", "2", "3")), { selector: (t) => t[0], maxLength: 6 })
    .map((entries) => entries.map(([path, content]) => f(path, content)));

  it("loses no path that only one side has (with an empty base), and returns sorted paths", () => {
    fc.assert(
      fc.property(tree, tree, (ours, theirs) => {
        const { files } = mergeStatusTrees([], ours, theirs);
        const paths = files.map((x) => x.path);
        expect(paths).toEqual([...new Set([...ours, ...theirs].map((x) => x.path))].sort());
        for (const o of ours) expect(files).toContainEqual(o);
      }),
    );
  });

  it("is ours when they changed nothing, and theirs when we changed nothing", () => {
    fc.assert(
      fc.property(tree, tree, (base, other) => {
        const sorted = (t: TreeFile[]) => [...t].sort((a, b) => (a.path < b.path ? -1 : 1));
        expect(mergeStatusTrees(base, other, base).files).toEqual(sorted(other));
        expect(mergeStatusTrees(base, base, other).files).toEqual(sorted(other));
      }),
    );
  });

  it("applying the adopted changes to ours gives the merged tree", () => {
    fc.assert(
      fc.property(tree, tree, tree, (base, ours, theirs) => {
        const { files, adopted } = mergeStatusTrees(base, ours, theirs);
        const m = new Map(ours.map((x) => [x.path, x.content]));
        for (const a of adopted) {
          if (a.content === undefined) m.delete(a.path);
          else m.set(a.path, a.content);
        }
        expect([...m.entries()].map(([path, content]) => f(path, content)).sort((a, b) => (a.path < b.path ? -1 : 1))).toEqual(files);
      }),
    );
  });
});

const record = (oid: string, phase: CommitRecord["phase"], message = "m"): CommitRecord => ({
  commit: oid,
  branch: "main",
  subject: "s",
  phase,
  message,
  changes: [],
  errors: [],
  timings: { seen: "2024-01-01T00:00:00.000Z" },
});

describe("StatusStore files and notes", () => {
  it("renders the same tree incrementally as renderStatusTree does from a snapshot", () => {
    const store = new StatusStore();
    store.setCommit(record("a".repeat(40), "Pending"));
    store.setCommit(record("a".repeat(40), "Succeeded"));
    store.setCommit(record("b".repeat(40), "Failed"));
    store.setFile(planPath("pr/login"), "plan: 1\n");
    store.removeCommit("b".repeat(40));
    expect(store.renderedTree()).toEqual(renderStatusTree(store.snapshot()));
    expect(store.renderedTree().map((x) => x.path)).toEqual([commitPath("a".repeat(40)), "plans/pr/login.yaml"]);
  });

  it("puts plans under plans/ by branch or pull request name", () => {
    expect(planPath("pr/login")).toBe("plans/pr/login.yaml");
    expect(planPath("pull/12")).toBe("plans/pull/12.yaml");
    for (const bad of ["", "../x", "pr//a", ".git"]) expect(() => planPath(bad)).toThrow(CoxError);
  });

  it("sets, lists and removes files, and refuses record paths", () => {
    const store = new StatusStore();
    store.setFile("plans/pull/2.yaml", "b\n");
    store.setFile("plans/pr/a.yaml", "a\n");
    expect(store.filePaths("plans/")).toEqual(["plans/pr/a.yaml", "plans/pull/2.yaml"]);
    expect(store.getFile("plans/pr/a.yaml")).toBe("a\n");
    const v = store.version;
    store.removeFile("plans/pr/a.yaml");
    store.removeFile("plans/pr/a.yaml");
    expect(store.version).toBe(v + 1);
    expect(store.filePaths()).toEqual(["plans/pull/2.yaml"]);
    expect(() => store.setFile("summary.yaml", "x")).toThrow(CoxError);
    expect(() => store.setFile(commitPath("c".repeat(40)), "x")).toThrow(CoxError);
  });

  it("wants a commit record's note over a plan note on the same commit", () => {
    const store = new StatusStore();
    store.setNote("a".repeat(40), "coxswain plan: 1 create\n\n");
    store.setNote("b".repeat(40), "coxswain plan: valid");
    store.setCommit(record("b".repeat(40), "Succeeded", "3/3 ready"));
    expect([...store.wantedNotes()]).toEqual([
      ["a".repeat(40), "coxswain plan: 1 create"],
      ["b".repeat(40), noteText(record("b".repeat(40), "Succeeded", "3/3 ready"))],
    ]);
  });

  it("applies another writer's files to the records", () => {
    const store = new StatusStore();
    store.setCommit(record("a".repeat(40), "Succeeded"));
    const theirs = new StatusStore();
    theirs.setCommit(record("c".repeat(40), "Failed"));
    const problems = store.applyFiles([...theirs.renderedTree(), { path: "plans/pr/x.yaml", content: "x\n" }, { path: commitPath("a".repeat(40)) }, { path: commitPath("d".repeat(40)), content: "not: [yaml\n" }]);
    expect(problems.map((p) => p.path)).toEqual([commitPath("d".repeat(40))]);
    expect(store.commits().map((c) => c.commit)).toEqual(["c".repeat(40)]);
    expect(store.getFile("plans/pr/x.yaml")).toBe("x\n");
    // What could not be read stays verbatim.
    expect(store.renderedTree().map((x) => x.path)).toContain(commitPath("d".repeat(40)));
  });
});

describe("records with the fields of later issues", () => {
  it("keeps rollback, quarantine, revert, rewritten-history and plan fields of a commit, in a fixed order", () => {
    const store = new StatusStore();
    const rec: CommitRecord = {
      ...record("a".repeat(40), "RolledBack"),
      plan: "plans/pr-12.yaml",
      historyRewritten: true,
      revert: { message: "revert pushed", commit: "b".repeat(40), state: "Pushed" },
      rollback: { reason: "probes never passed", code: "ProgressDeadlineExceeded", to: "c".repeat(40) },
      quarantined: true,
    };
    store.setCommit(rec);
    const text = store.renderedTree()[0]!.content;
    const keys = [...text.matchAll(/^(\w+):/gm)].map((m) => m[1]);
    expect(keys).toEqual(["commit", "branch", "subject", "phase", "message", "changes", "errors", "timings", "quarantined", "rollback", "revert", "historyRewritten", "plan"]);
    expect(text).toContain(`rollback:\n  to: ${"c".repeat(40)}\n  code: ProgressDeadlineExceeded\n`);
    expect(store.getCommit("a".repeat(40))).toEqual(rec);
  });

  it("keeps the strategy state of a workload and the stable commit and quarantine of the summary, sorted", () => {
    const store = new StatusStore();
    store.setWorkload({
      kind: "Deployment",
      namespace: "default",
      name: "web",
      revision: "r2",
      commit: "a".repeat(40),
      replicas: { desired: 1, current: 1, updated: 1, ready: 1, available: 1 },
      pods: [{ name: "p", node: "n", revision: "r2", ready: false, endpoints: [], state: "CrashLoopBackOff", restarts: 3 }],
      conditions: [],
      events: [],
      revisions: [
        { number: 3, revision: "r2", commit: "a".repeat(40) },
        { number: 1, revision: "r1", commit: "b".repeat(40) },
      ],
      stable: { revision: "r1", commit: "b".repeat(40) },
      strategy: "Canary",
      canary: { step: 1, steps: 4, weight: 25 },
      paused: false,
    });
    store.setSummary({
      repository: "r",
      branch: "main",
      path: ".",
      quarantined: ["f".repeat(40), "e".repeat(40), "f".repeat(40)],
      stable: "b".repeat(40),
      workloads: { total: 1, ready: 0, progressing: 1, failed: 0 },
      nodes: [{ name: "n", ready: true, pods: 1, cordoned: true }],
    });
    const w = store.getWorkload("Deployment", "default", "web")!;
    expect(w.revisions!.map((r) => r.number)).toEqual([1, 3]);
    expect(w.pods[0]).toEqual({ name: "p", node: "n", revision: "r2", ready: false, endpoints: [], restarts: 3, state: "CrashLoopBackOff" });
    expect(w.canary).toEqual({ step: 1, steps: 4, weight: 25 });
    const summary = store.summary()!;
    expect(Object.keys(summary)).toEqual(["repository", "branch", "path", "stable", "quarantined", "workloads", "nodes"]);
    expect(summary.quarantined).toEqual(["e".repeat(40), "f".repeat(40)]);
    expect(summary.nodes[0]!.cordoned).toBe(true);
  });

  it("keeps fields it does not know, after the known ones, sorted", () => {
    const store = new StatusStore();
    store.setCommit({ ...record("a".repeat(40), "Succeeded"), zeta: 1, alpha: { b: 2 } } as CommitRecord);
    const text = store.renderedTree()[0]!.content;
    expect(text.indexOf("alpha:")).toBeGreaterThan(text.indexOf("timings:"));
    expect(text.indexOf("zeta:")).toBeGreaterThan(text.indexOf("alpha:"));
  });
});

describe("plans", () => {
  it("are named after the branch or the pull request", () => {
    expect(planName({ kind: "branch", name: "pr/login" })).toBe("pr-login");
    expect(planName({ kind: "pull", name: "pull/12", number: 12 })).toBe("pr-12");
    expect(planName({ kind: "pull", name: "merge-requests/7", number: 7 })).toBe("pr-7");
    expect(planPath(planName({ kind: "branch", name: "pr/login" }))).toBe("plans/pr-login.yaml");
  });

  it("render the same bytes whatever order fields and placements come in, and read back", () => {
    const plan: PlanRecord = {
      valid: false,
      commit: "a".repeat(40),
      ref: "refs/pull/12/head",
      base: "b".repeat(40),
      errors: [
        { message: "m2", code: "SchemaViolation", file: "b.yaml", line: 2 },
        { code: "UnknownKind", message: "m1", file: "a.yaml", line: 9 },
      ],
      changes: [
        { key: "ConfigMap/default/c", action: "update", fields: ["data.b", "data.a"] },
        {
          action: "create",
          key: "Deployment/default/web",
          fields: [],
          rollsTo: { replicas: 2, revision: "r1" },
          placements: [
            { pod: "web-2", fits: false, message: "0/1 nodes are available: 1 Insufficient cpu." },
            { pod: "web-1", node: "n1", fits: true },
          ],
        },
      ],
    };
    const text = renderPlan(plan);
    expect(renderPlan(JSON.parse(JSON.stringify(plan)) as PlanRecord)).toBe(text);
    expect(text.indexOf("ConfigMap/default/c")).toBeLessThan(text.indexOf("Deployment/default/web")); // apply order kept
    expect(text.indexOf("pod: web-1")).toBeLessThan(text.indexOf("pod: web-2"));
    expect(text.indexOf("a.yaml")).toBeLessThan(text.indexOf("b.yaml"));
    const back = parsePlan(text);
    expect(renderPlan(back)).toBe(text);
    expect(back.changes[0]!.fields).toEqual(["data.a", "data.b"]);
    expect(() => parsePlan("just: text\n")).toThrow(CoxError);
  });
});
