/**
 * The status tree is a pure function of the records. Golden cases live in
 * test/fixtures/status/render/<case>/{state.yaml, expected/**} (discovered automatically); properties
 * cover order independence, read-back and the note line; StatusStore keeps copies and counts real changes.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { commitPath, noteText, parseStatusTree, renderStatusTree, StatusStore, workloadPath, type StatusState } from "../../../operator/src/status/store.js";
import type { CommitPhase, CommitRecord, SummaryRecord, WorkloadRecord } from "../../../operator/src/status/types.js";

const FIXTURES = fileURLToPath(new URL("../../fixtures/status/render/", import.meta.url));

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? filesUnder(p) : [p];
  });
}

function loadCase(name: string): { state: StatusState; expected: { path: string; content: string }[] } {
  const raw = parse(readFileSync(join(FIXTURES, name, "state.yaml"), "utf8")) as Partial<StatusState>;
  const state: StatusState = {
    commits: raw.commits ?? [],
    workloads: raw.workloads ?? [],
    extra: [],
    ...(raw.summary ? { summary: raw.summary } : {}),
  };
  const expectedDir = join(FIXTURES, name, "expected");
  const expected = filesUnder(expectedDir)
    .map((p) => ({ path: relative(expectedDir, p).split("\\").join("/"), content: readFileSync(p, "utf8") }))
    .sort((a, b) => (a.path < b.path ? -1 : 1));
  return { state, expected };
}

const CASES = readdirSync(FIXTURES).sort();

describe("renderStatusTree on the fixture cases", () => {
  it("finds the fixture cases", () => {
    expect(CASES.length).toBeGreaterThanOrEqual(3);
  });

  it.each(CASES)("renders %s exactly as its expected tree", (name) => {
    const { state, expected } = loadCase(name);
    expect(renderStatusTree(state)).toEqual(expected);
  });

  it.each(CASES)("reads %s back into records that render the same tree", (name) => {
    const { state, expected } = loadCase(name);
    const { state: back, problems } = parseStatusTree(expected);
    expect(problems).toEqual([]);
    expect(renderStatusTree(back)).toEqual(expected);
    expect(back.commits.map((c) => c.commit).sort()).toEqual(state.commits.map((c) => c.commit).sort());
  });
});

// ---------------------------------------------------------------- generated records

const hex40 = fc.stringMatching(/^[0-9a-f]{40}$/);
const name = fc.stringMatching(/^[a-z][a-z0-9-]{0,12}$/);
const text = fc.string({ maxLength: 40 });
const time = fc.integer({ min: 1_700_000_000_000, max: 1_800_000_000_000 }).map((ms) => new Date(ms).toISOString());
const phase = fc.constantFrom<CommitPhase>("Pending", "Invalid", "Progressing", "Succeeded", "Failed", "Superseded");

const commitRecord: fc.Arbitrary<CommitRecord> = fc.record({
  commit: hex40,
  branch: name,
  subject: text,
  phase,
  message: text,
  changes: fc.array(text, { maxLength: 5 }),
  errors: fc.array(fc.record({ code: name, message: text, file: name, line: fc.nat(500), col: fc.nat(80), field: name }, { requiredKeys: ["code", "message"] }), { maxLength: 4 }),
  timings: fc.record({ seen: time, applied: time, finished: time, durationMs: fc.nat() }, { requiredKeys: ["seen"] }),
});

const workloadRecord: fc.Arbitrary<WorkloadRecord> = fc.record({
  kind: fc.constantFrom("Deployment", "Rollout", "Node"),
  namespace: fc.oneof(name, fc.constant("")),
  name,
  revision: fc.stringMatching(/^[0-9a-f]{9}$/),
  commit: hex40,
  replicas: fc.record({ desired: fc.nat(50), current: fc.nat(50), updated: fc.nat(50), ready: fc.nat(50), available: fc.nat(50) }),
  pods: fc.uniqueArray(fc.record({ name, node: name, revision: fc.stringMatching(/^[0-9a-f]{9}$/), ready: fc.boolean(), endpoints: fc.array(text, { maxLength: 3 }) }), { maxLength: 5, selector: (p) => p.name }),
  conditions: fc.uniqueArray(
    fc.record({
      type: name,
      status: fc.constantFrom("True" as const, "False" as const, "Unknown" as const),
      reason: name,
      message: text,
      lastTransitionTime: time,
    }),
    { maxLength: 4, selector: (c) => c.type },
  ),
  events: fc.array(fc.record({ time, type: fc.constantFrom("Normal" as const, "Warning" as const), reason: name, message: text }), { maxLength: 30 }),
});

const summaryRecord: fc.Arbitrary<SummaryRecord> = fc.record(
  {
    repository: text,
    branch: name,
    path: text,
    head: fc.record({ commit: hex40, phase }),
    applied: hex40,
    workloads: fc.record({ total: fc.nat(9), ready: fc.nat(9), progressing: fc.nat(9), failed: fc.nat(9) }),
    nodes: fc.uniqueArray(fc.record({ name, ready: fc.boolean(), pods: fc.nat(99), message: text }, { requiredKeys: ["name", "ready", "pods"] }), {
      maxLength: 4,
      selector: (n) => n.name,
    }),
  },
  { requiredKeys: ["repository", "branch", "path", "workloads", "nodes"] },
);

const state: fc.Arbitrary<StatusState> = fc
  .record({
    summary: fc.option(summaryRecord, { nil: undefined }),
    commits: fc.uniqueArray(commitRecord, { maxLength: 6, selector: (c) => c.commit }),
    workloads: fc.uniqueArray(workloadRecord, { maxLength: 6, selector: (w) => workloadPath(w.kind, w.namespace, w.name) }),
  })
  .map(({ summary, commits, workloads }) => ({ ...(summary ? { summary } : {}), commits, workloads, extra: [] }));

/** Every list of the state reversed (records and the lists inside them). */
function reversed(s: StatusState): StatusState {
  return {
    ...(s.summary ? { summary: { ...s.summary, nodes: [...s.summary.nodes].reverse() } } : {}),
    commits: [...s.commits].reverse().map((c) => ({ ...c, changes: [...c.changes].reverse(), errors: [...c.errors].reverse() })),
    workloads: [...s.workloads].reverse().map((w) => ({
      ...w,
      pods: [...w.pods].reverse().map((p) => ({ ...p, endpoints: [...p.endpoints].reverse() })),
      conditions: [...w.conditions].reverse(),
    })),
    extra: [...s.extra].reverse(),
  };
}

describe("renderStatusTree properties", () => {
  it("renders the same bytes whatever order the records and their lists come in", () => {
    fc.assert(
      fc.property(state, (s) => {
        expect(renderStatusTree(reversed(s))).toEqual(renderStatusTree(s));
      }),
    );
  });

  it("writes one file per record at its documented path, sorted by path", () => {
    fc.assert(
      fc.property(state, (s) => {
        const paths = renderStatusTree(s).map((f) => f.path);
        const expected = [...(s.summary ? ["summary.yaml"] : []), ...s.commits.map((c) => commitPath(c.commit)), ...s.workloads.map((w) => workloadPath(w.kind, w.namespace, w.name))].sort();
        expect(paths).toEqual(expected);
      }),
    );
  });

  it("reads back every record it wrote, with at most 20 events per workload", () => {
    fc.assert(
      fc.property(state, (s) => {
        const tree = renderStatusTree(s);
        const { state: back, problems } = parseStatusTree(tree);
        expect(problems).toEqual([]);
        expect(renderStatusTree(back)).toEqual(tree);
        expect(back.commits.length).toBe(s.commits.length);
        expect(back.workloads.length).toBe(s.workloads.length);
        for (const w of back.workloads) expect(w.events.length).toBeLessThanOrEqual(20);
        for (const c of s.commits) {
          const read = back.commits.find((x) => x.commit === c.commit)!;
          expect({ ...read, changes: [...read.changes].sort(), errors: read.errors.length }).toEqual({
            ...c,
            changes: [...c.changes].sort(),
            errors: c.errors.length,
          });
        }
      }),
    );
  });

  it("keeps files it does not own verbatim", () => {
    const extra = [{ path: "plans/pr-7.yaml", content: "anything: [1, 2]\n" }];
    const tree = renderStatusTree({ commits: [], workloads: [], extra });
    expect(tree).toEqual(extra);
    expect(parseStatusTree(tree).state.extra).toEqual(extra);
  });

  it("reports a record file that is not valid YAML or does not match its path as a problem and keeps it verbatim", () => {
    const oid = "a".repeat(40);
    const files = [
      { path: commitPath(oid), content: "commit: [unclosed\n" },
      { path: commitPath("b".repeat(40)), content: `commit: ${"c".repeat(40)}\nbranch: main\nsubject: s\nphase: Pending\nmessage: m\n` },
    ];
    const { state: back, problems } = parseStatusTree(files);
    expect(back.commits).toEqual([]);
    expect(problems.map((p) => p.path)).toEqual([commitPath(oid), commitPath("b".repeat(40))]);
    // A flush must not delete what it could not read.
    expect(back.extra).toEqual(files);
    expect(renderStatusTree(back)).toEqual(files);
  });
});

describe("noteText", () => {
  it("is one line of at most 200 characters that starts with the phase", () => {
    fc.assert(
      fc.property(commitRecord, fc.string({ maxLength: 400 }), (rec, message) => {
        const line = noteText({ ...rec, message });
        expect(line).not.toMatch(/[\n\r]/);
        expect(line.length).toBeLessThanOrEqual(200);
        expect(line.startsWith(`coxswain: ${rec.phase}`)).toBe(true);
      }),
    );
  });

  it("reads like a deploy log entry", () => {
    const rec = { phase: "Succeeded", message: "3/3 pods of Deployment/default/web ready (revision 5d8f7c9b6)" } as CommitRecord;
    expect(noteText(rec)).toBe("coxswain: Succeeded — 3/3 pods of Deployment/default/web ready (revision 5d8f7c9b6)");
  });
});

describe("StatusStore", () => {
  const commit = (oid: string, p: CommitPhase): CommitRecord => ({
    commit: oid,
    branch: "main",
    subject: "s",
    phase: p,
    message: "m",
    changes: [],
    errors: [],
    timings: { seen: "2024-01-01T00:00:00.000Z" },
  });

  it("counts a change only when a record's data changed", () => {
    const store = new StatusStore();
    store.setCommit(commit("a".repeat(40), "Pending"));
    const v = store.version;
    store.setCommit(commit("a".repeat(40), "Pending"));
    expect(store.version).toBe(v);
    store.setCommit(commit("a".repeat(40), "Succeeded"));
    expect(store.version).toBe(v + 1);
    store.removeWorkload("Deployment", "default", "missing");
    expect(store.version).toBe(v + 1);
  });

  it("keeps copies, so later changes to a caller's object do not leak in", () => {
    const store = new StatusStore();
    const rec = commit("a".repeat(40), "Pending");
    store.setCommit(rec);
    rec.phase = "Failed";
    store.getCommit(rec.commit)!.phase = "Invalid";
    expect(store.getCommit(rec.commit)!.phase).toBe("Pending");
  });

  it("renders the records it holds when the tree is asked for: later edits of a caller's objects stay out, a change after a read is in the next", () => {
    const store = new StatusStore();
    const workload = (ready: number): WorkloadRecord => ({
      kind: "Deployment",
      namespace: "default",
      name: "web",
      revision: "r1",
      commit: "a".repeat(40),
      replicas: { desired: 3, current: 3, updated: 3, ready, available: ready },
      pods: [0, 1, 2].map((i) => ({ name: `web-${i}`, node: "n1", revision: "r1", ready: i < ready, endpoints: [`127.0.0.1:${30000 + i}`] })),
      conditions: [],
      events: [],
    });
    const rec = commit("a".repeat(40), "Pending");
    store.setCommit(rec);
    for (let ready = 0; ready <= 2; ready++) store.setWorkload(workload(ready));
    const held = workload(2);
    store.setWorkload(held);
    // Edits after the set, nested ones too, before anything was rendered.
    rec.phase = "Failed";
    held.pods[0]!.endpoints.push("127.0.0.1:1");
    held.replicas.ready = 0;
    const state = (ready: number, phase: CommitPhase): StatusState => ({ commits: [commit("a".repeat(40), phase)], workloads: [workload(ready)], extra: [] });
    expect(store.renderedTree()).toEqual(renderStatusTree(state(2, "Pending")));
    store.setWorkload(workload(3));
    store.setCommit(commit("a".repeat(40), "Succeeded"));
    expect(store.renderedTree()).toEqual(renderStatusTree(state(3, "Succeeded")));
  });

  it("lets records set since start win over records read back in merge", () => {
    const store = new StatusStore();
    store.setCommit(commit("a".repeat(40), "Succeeded"));
    store.merge({ commits: [commit("a".repeat(40), "Pending"), commit("b".repeat(40), "Failed")], workloads: [], extra: [] });
    expect(store.getCommit("a".repeat(40))!.phase).toBe("Succeeded");
    expect(store.getCommit("b".repeat(40))!.phase).toBe("Failed");
  });
});
