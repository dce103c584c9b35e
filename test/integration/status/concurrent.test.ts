/**
 * Write-back safety when the status branch has other writers (another coxswain with its own mirror, a
 * person or CI job with the git CLI), over the real smart-HTTP server: a rejected push is rebuilt on the
 * new remote tip by merging file by file — every commit record of both sides survives, ours win where
 * both changed a file, their untouched-by-us changes and files are adopted — and retried. 100 commit
 * records arriving faster than the writes end as one coherent record with a note each. Plans and plan
 * notes are written and removed like any other file.
 */
import { rm } from "node:fs/promises";
import { afterEach, describe, expect, it } from "vitest";
import { parse } from "yaml";
import type { CoxError } from "../../../operator/src/api/errors.js";
import { openRepository } from "../../../operator/src/source/index.js";
import { commitPath, noteText, parsePlan, planName, planPath, renderPlan } from "../../../operator/src/status/store.js";
import type { CommitPhase, CommitRecord } from "../../../operator/src/status/types.js";
import { StatusWriter } from "../../../operator/src/status/writer.js";
import { makeRepo, runGit, tempDir } from "../../support/git-repo.js";
import { createBareRepo, startGitServer, type GitServer } from "../../support/git-server.js";

const BRANCH = "refs/heads/coxswain/status";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function record(oid: string, phase: CommitPhase, message = `${phase} by test`): CommitRecord {
  return { commit: oid, branch: "main", subject: `deploy ${oid.slice(0, 7)}`, phase, message, changes: [], errors: [], timings: { seen: "2024-05-01T10:00:00.000Z" } };
}

interface Env {
  root: string;
  bare: string;
  server: GitServer;
  url: string;
  /** Commits of the deploy branch on the server, oldest first. */
  commits: string[];
  /** A status writer with its own mirror (its own state dir): one coxswain. */
  writer(name: string): Promise<{ w: StatusWriter; errors: CoxError[] }>;
  git(...args: string[]): Promise<string>;
}

async function env(commitCount = 10): Promise<Env> {
  const root = await tempDir("coxswain-server-");
  cleanups.push(() => rm(root, { recursive: true, force: true }));
  const bare = await createBareRepo(root, "app.git");
  const lines: string[] = [];
  for (let i = 1; i <= commitCount; i++) {
    lines.push("commit refs/heads/main", `mark :${i}`, `committer T <t@example.com> ${1700000000 + i} +0000`, `data ${String(i).length}`, String(i));
    if (i > 1) lines.push(`from :${i - 1}`);
    lines.push("M 100644 inline a.yaml", `data ${`a: ${i}\n`.length}`, `a: ${i}\n`);
  }
  await runGit(["--git-dir", bare, "fast-import", "--quiet"], { input: lines.join("\n") + "\n" });
  const commits = (await runGit(["--git-dir", bare, "rev-list", "--reverse", "main"])).split("\n");
  const server = await startGitServer({ root });
  cleanups.push(() => server.close());
  const url = server.url("app.git");
  return {
    root,
    bare,
    server,
    url,
    commits,
    git: (...args) => runGit(["--git-dir", bare, ...args]),
    async writer() {
      const state = await tempDir("coxswain-state-");
      cleanups.push(() => rm(state, { recursive: true, force: true }));
      const repo = await openRepository({ repo: url, stateDir: state, timeoutMs: 20_000 });
      cleanups.push(() => repo.close());
      const errors: CoxError[] = [];
      const w = new StatusWriter({ writer: repo.writer, remote: true, debounceMs: 20, retryMs: 50, onError: (e) => errors.push(e) });
      cleanups.push(() => w.close());
      await w.load();
      return { w, errors };
    },
  };
}

/** The status branch on the server: path → parsed YAML. */
async function remoteTree(e: Env): Promise<Map<string, Record<string, unknown>>> {
  const out = new Map<string, Record<string, unknown>>();
  const paths = (await e.git("ls-tree", "-r", "--name-only", BRANCH)).split("\n").filter(Boolean);
  for (const p of paths) out.set(p, parse(await e.git("show", `${BRANCH}:${p}`)) as Record<string, unknown>);
  return out;
}

/** The notes on the server: commit → text. */
async function remoteNotes(e: Env): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const list = await e.git("notes", "--ref=coxswain", "list").catch(() => "");
  for (const line of list.split("\n").filter(Boolean)) {
    const [, commit] = line.split(" ");
    out.set(commit!, await e.git("notes", "--ref=coxswain", "show", commit!));
  }
  return out;
}

/** Someone with the git CLI commits files on the status branch and pushes (fetching the tip first). */
async function humanCommit(e: Env, files: Record<string, string | null>, message = "by hand"): Promise<string> {
  const other = await makeRepo();
  try {
    await other.git(["fetch", "--quiet", e.url, `${BRANCH}:${BRANCH}`]);
    await other.git(["checkout", "--quiet", "coxswain/status"]);
    for (const [path, content] of Object.entries(files)) {
      if (content === null) await other.rm(path);
      else await other.write(path, content);
    }
    const oid = await other.commit(message);
    await other.push(e.url, "coxswain/status");
    return oid;
  } finally {
    await other.cleanup();
  }
}

describe("a status branch moved by someone else", () => {
  it("keeps their new files and commits in history when our push is rebuilt on their tip", async () => {
    const e = await env();
    const { w, errors } = await e.writer("a");
    w.store.setCommit(record(e.commits[0]!, "Progressing"));
    await w.flush();
    const theirs = await humanCommit(e, { "plans/manual.yaml": "written: by hand\n", "README.md": "status of app\n" });
    w.store.setCommit(record(e.commits[0]!, "Succeeded"));
    w.store.setCommit(record(e.commits[1]!, "Pending"));
    await w.flush();
    expect(errors).toEqual([]);
    const tree = await remoteTree(e);
    expect([...tree.keys()].sort()).toEqual([commitPath(e.commits[0]!), commitPath(e.commits[1]!), "README.md", "plans/manual.yaml"].sort());
    expect(tree.get(commitPath(e.commits[0]!))!.phase).toBe("Succeeded");
    await e.git("merge-base", "--is-ancestor", theirs, BRANCH);
    // Adopted into the store: the next flush, with no merge, does not delete them.
    w.store.setCommit(record(e.commits[2]!, "Pending"));
    await w.flush();
    expect((await remoteTree(e)).has("plans/manual.yaml")).toBe(true);
    expect(w.store.getFile("plans/manual.yaml")).toBe("written: by hand\n");
  });

  it("adopts their change of a file we did not change, and keeps ours where both changed it", async () => {
    const e = await env();
    const { w, errors } = await e.writer("a");
    w.store.setCommit(record(e.commits[0]!, "Succeeded", "ours, untouched since"));
    w.store.setCommit(record(e.commits[1]!, "Progressing", "ours, about to change"));
    await w.flush();
    const edited = (c: string, msg: string) => `commit: ${c}\nbranch: main\nsubject: edited\nphase: Failed\nmessage: ${msg}\nchanges: []\nerrors: []\ntimings:\n  seen: "2024-05-01T10:00:00.000Z"\n`;
    await humanCommit(e, {
      [commitPath(e.commits[0]!)]: edited(e.commits[0]!, "theirs"),
      [commitPath(e.commits[1]!)]: edited(e.commits[1]!, "theirs too"),
    });
    w.store.setCommit(record(e.commits[1]!, "Succeeded", "ours, changed"));
    await w.flush();
    expect(errors).toEqual([]);
    const tree = await remoteTree(e);
    expect(tree.get(commitPath(e.commits[0]!))).toMatchObject({ phase: "Failed", message: "theirs" });
    expect(tree.get(commitPath(e.commits[1]!))).toMatchObject({ phase: "Succeeded", message: "ours, changed" });
    expect(w.store.getCommit(e.commits[0]!)?.message).toBe("theirs");
  });

  it("adopts their removal of a file we did not change", async () => {
    const e = await env();
    const { w } = await e.writer("a");
    w.store.setFile(planPath("pr-old"), "plan: old\n");
    w.store.setCommit(record(e.commits[0]!, "Succeeded"));
    await w.flush();
    await humanCommit(e, { "plans/pr-old.yaml": null });
    w.store.setCommit(record(e.commits[1]!, "Succeeded"));
    await w.flush();
    expect((await remoteTree(e)).has("plans/pr-old.yaml")).toBe(false);
    expect(w.store.getFile("plans/pr-old.yaml")).toBeUndefined();
  });

  it("loses no record when two coxswains with their own mirrors write the same status branch at once", async () => {
    const e = await env(62);
    const a = await e.writer("a");
    const b = await e.writer("b");
    const mine = { a: e.commits.slice(0, 30), b: e.commits.slice(30, 60) };
    const run = async (who: "a" | "b"): Promise<void> => {
      const { w } = who === "a" ? a : b;
      for (const [i, oid] of mine[who].entries()) {
        w.store.setCommit(record(oid, "Progressing", `${who} ${i}`));
        w.store.setCommit(record(oid, "Succeeded", `${who} ${i}`));
        if (i % 3 === 0) await w.flush();
        else w.schedule();
        await new Promise((r) => setTimeout(r, Math.random() * 30));
      }
    };
    await Promise.all([run("a"), run("b")]);
    // Settle: each writes once more, one after the other, then once more to pick up the other's last push.
    await a.w.flush();
    await b.w.flush();
    await a.w.flush();
    const tree = await remoteTree(e);
    for (const oid of e.commits.slice(0, 60)) expect(tree.get(commitPath(oid)), `record of ${oid}`).toMatchObject({ commit: oid, phase: "Succeeded" });
    const notes = await remoteNotes(e);
    for (const oid of e.commits.slice(0, 60)) expect(notes.get(oid), `note of ${oid}`).toMatch(/^coxswain: Succeeded — [ab] \d+$/);
    // A later write by either side, long after the race, still keeps every record of the other.
    b.w.store.setCommit(record(e.commits[60]!, "Succeeded", "b late"));
    await b.w.flush();
    a.w.store.setCommit(record(e.commits[61]!, "Succeeded", "a late"));
    await a.w.flush();
    const after = await remoteTree(e);
    for (const oid of e.commits.slice(0, 62)) expect(after.get(commitPath(oid)), `record of ${oid}`).toMatchObject({ commit: oid, phase: "Succeeded" });
    expect((await remoteNotes(e)).size).toBe(62);
    const failures = [...a.errors, ...b.errors];
    console.log(`two writers: ${failures.length} flush(es) reported and retried`);
    expect(failures.every((x) => x.code === "StatusWriteFailed")).toBe(true);
  }, 300_000); // 62 commits and pushes over HTTP, each rejected push rebuilt: past 120 s once on a loaded CI machine
});

describe("a burst of commits", () => {
  it("records 100 commits arriving while writes are in flight as one coherent status branch, a note on each, in fewer status commits", async () => {
    const e = await env(100);
    const { w, errors } = await e.writer("a");
    const t0 = performance.now();
    for (const [i, oid] of e.commits.entries()) {
      w.store.setCommit(record(oid, "Pending", `commit ${i}`));
      if (i > 0) w.store.setCommit(record(e.commits[i - 1]!, "Superseded", `superseded by ${oid.slice(0, 7)}`));
      w.store.setSummary({
        repository: e.url,
        branch: "main",
        path: ".",
        head: { commit: oid, phase: "Pending" },
        workloads: { total: 0, ready: 0, progressing: 0, failed: 0 },
        nodes: [],
      });
      w.schedule();
      // The pace of the burst (an input, not a wait): a new commit every 40 ms or more, while each write
      // (debounce 20 ms, then a commit and a push over HTTP) takes longer, so updates arrive mid-write.
      await new Promise((r) => setTimeout(r, 40));
    }
    const last = e.commits[99]!;
    w.store.setCommit(record(last, "Succeeded", "3/3 ready"));
    await w.close();
    const elapsed = performance.now() - t0;
    expect(errors).toEqual([]);
    const tree = await remoteTree(e);
    expect([...tree.keys()].filter((p) => p.startsWith("commits/"))).toHaveLength(100);
    for (const oid of e.commits.slice(0, 99)) expect(tree.get(commitPath(oid))!.phase).toBe("Superseded");
    expect(tree.get(commitPath(last))!.phase).toBe("Succeeded");
    expect(tree.get("summary.yaml")).toMatchObject({ head: { commit: last } });
    const notes = await remoteNotes(e);
    expect(notes.size).toBe(100);
    expect(notes.get(last)).toBe(noteText(record(last, "Succeeded", "3/3 ready")));
    const statusCommits = Number(await e.git("rev-list", "--count", BRANCH));
    console.log(`100 commits in ${Math.round(elapsed)} ms → ${statusCommits} status commits`);
    expect(statusCommits).toBeLessThan(100);
  }, 60_000);
});

describe("plans of proposals", () => {
  it("are written as files and notes on the proposal head, and removed when the proposal is gone", async () => {
    const e = await env(3);
    const { w, errors } = await e.writer("a");
    const head = e.commits[2]!;
    const path = planPath(planName({ kind: "pull", name: "pull/12", number: 12 }));
    expect(path).toBe("plans/pr-12.yaml");
    w.store.setFile(path, renderPlan({ ref: "refs/pull/12/head", commit: head, valid: true, errors: [], changes: [{ action: "create", key: "ConfigMap/default/c", fields: [] }] }));
    w.store.setNote(head, "coxswain plan: valid — 1 change (plans/pr-12.yaml)");
    await w.flush();
    expect(errors).toEqual([]);
    expect(parsePlan(await e.git("show", `${BRANCH}:plans/pr-12.yaml`))).toMatchObject({ ref: "refs/pull/12/head", commit: head, valid: true });
    expect(await e.git("notes", "--ref=coxswain", "show", head)).toBe("coxswain plan: valid — 1 change (plans/pr-12.yaml)");
    // Merged: the record of the deploy commit takes over its note; the plan file goes.
    w.store.removeFile(path);
    w.store.setCommit(record(head, "Succeeded", "merged pull/12"));
    await w.flush();
    expect((await remoteTree(e)).has("plans/pr-12.yaml")).toBe(false);
    expect(await e.git("notes", "--ref=coxswain", "show", head)).toBe("coxswain: Succeeded — merged pull/12");
  });
});
