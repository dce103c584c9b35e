/**
 * Auto-revert commits on real repositories: a bare repository on disk, a work tree (refused), and a remote
 * over the smart-HTTP server. Every revert tree is compared with what `git revert` itself makes on the same
 * head, so "per-file three-way revert, every other file byte for byte" is checked against git, binary
 * files, executable bits and symlinks included.
 */
import { randomBytes } from "node:crypto";
import { chmod, rm, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { isCoxError } from "../../../operator/src/api/errors.js";
import { openRepository } from "../../../operator/src/source/index.js";
import type { Repository } from "../../../operator/src/source/types.js";
import { AutoReverter, decideRevert, REVERT_TRAILER, revertMessage } from "../../../operator/src/status/revert.js";
import { StatusStore } from "../../../operator/src/status/store.js";
import type { CommitRecord } from "../../../operator/src/status/types.js";
import { makeRepo, runGit, tempDir, type TestRepo } from "../../support/git-repo.js";
import { createBareRepo, startGitServer } from "../../support/git-server.js";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function failedRecord(oid: string, stable: string): CommitRecord {
  return {
    commit: oid,
    branch: "main",
    subject: "web v2",
    phase: "RolledBack",
    message: "rolled back",
    changes: [],
    errors: [{ code: "ProgressDeadlineExceeded", message: "no progress for 3s" }],
    timings: { seen: "2024-05-01T10:00:00.000Z" },
    quarantined: true,
    rollback: { to: stable, code: "ProgressDeadlineExceeded", reason: "Deployment/default/web made no progress for 3s" },
  };
}

/**
 * A work tree with P (a text file, a binary file, an executable script, a symlink, a file F deletes) and F
 * (changes the text file, adds one, deletes one, flips a mode), pushed to a bare repository.
 */
async function history(): Promise<{ work: TestRepo; bare: string; p: string; f: string }> {
  const work = await makeRepo();
  cleanups.push(() => work.cleanup());
  const root = await tempDir("coxswain-bare-");
  cleanups.push(() => rm(root, { recursive: true, force: true }));
  const bare = await createBareRepo(root, "deploy.git");
  await work.write("apps/web.yaml", "image: app:v1\n");
  await writeFile(join(work.dir, "apps/blob.bin"), randomBytes(4096));
  await work.write("tools/run.sh", "#!/bin/sh\necho run\n");
  await chmod(join(work.dir, "tools/run.sh"), 0o755);
  await symlink("apps/web.yaml", join(work.dir, "current"));
  await work.write("apps/old.yaml", "old: true\n");
  await work.write("tools/flip.sh", "#!/bin/sh\n");
  const p = await work.commit("web v1");
  await work.write("apps/web.yaml", "image: app:v2\n");
  await work.write("apps/new/added.yaml", "added: true\n");
  await work.rm("apps/old.yaml");
  await chmod(join(work.dir, "tools/flip.sh"), 0o755);
  const f = await work.commit("web v2");
  await work.git(["remote", "add", "origin", bare]);
  await work.push("origin", "main");
  return { work, bare, p, f };
}

/** The tree `git revert --no-edit <f>` makes on top of `head`, in a throw-away clone. */
async function gitRevertTree(source: string, head: string, f: string): Promise<string> {
  const dir = await tempDir("coxswain-clone-");
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  await runGit(["clone", "--quiet", source, dir]);
  await runGit(["checkout", "--quiet", "-B", "scratch", head], { cwd: dir });
  await runGit(["revert", "--no-edit", f], { cwd: dir });
  return runGit(["rev-parse", "HEAD^{tree}"], { cwd: dir });
}

async function open(repo: string): Promise<Repository> {
  const state = await tempDir("coxswain-state-");
  cleanups.push(() => rm(state, { recursive: true, force: true }));
  const r = await openRepository({ repo, stateDir: state, timeoutMs: 10_000 });
  cleanups.push(() => r.close());
  return r;
}

function reverter(repo: Repository, store: StatusStore, reverted: string[] = []): AutoReverter {
  return new AutoReverter({ repo, branch: "main", store, scheduleStatusWrite: () => undefined, onReverted: (c) => reverted.push(c) });
}

describe("decideRevert", () => {
  const e = (oid: string, mode = "100644") => ({ oid, mode });
  it.each([
    {
      name: "puts back the parent's entries of paths that still hold the failed commit's",
      changes: [
        { path: "a", before: e("1"), after: e("2") },
        { path: "b", after: e("3") },
        { path: "c", before: e("4") },
      ],
      head: { a: e("2"), b: e("3"), c: undefined },
      want: { kind: "edits", edits: [{ path: "a", entry: e("1") }, { path: "b" }, { path: "c", entry: e("4") }] },
    },
    {
      name: "reports a conflict when a path changed again after the failed commit",
      changes: [
        { path: "a", before: e("1"), after: e("2") },
        { path: "z", before: e("5"), after: e("6") },
      ],
      head: { a: e("9"), z: e("6") },
      want: { kind: "conflict", paths: ["a"] },
    },
    {
      name: "treats a mode change made since as a conflict",
      changes: [{ path: "a", before: e("1"), after: e("2") }],
      head: { a: e("2", "100755") },
      want: { kind: "conflict", paths: ["a"] },
    },
    {
      name: "has nothing to do when every path is back at the parent's version",
      changes: [{ path: "a", before: e("1"), after: e("2") }],
      head: { a: e("1") },
      want: { kind: "nothing" },
    },
  ])("$name", ({ changes, head, want }) => {
    const got = decideRevert(changes, new Map(Object.entries(head)));
    expect(got).toMatchObject(want);
  });
});

describe("auto-revert on a bare repository on disk", () => {
  it("when the head is the failed commit, commits its parent's tree as coxswain with a message naming the failure", async () => {
    const { bare, p, f } = await history();
    const repo = await open(bare);
    const store = new StatusStore();
    store.setCommit(failedRecord(f, p));
    const reverted: string[] = [];
    const outcome = await reverter(repo, store, reverted).revert(f);
    expect(outcome.state).toBe("Committed");
    const head = await runGit(["--git-dir", bare, "rev-parse", "main"]);
    expect(outcome.commit).toBe(head);
    expect(reverted).toEqual([head]);
    expect(await runGit(["--git-dir", bare, "rev-parse", "main^"])).toBe(f);
    expect(await runGit(["--git-dir", bare, "rev-parse", "main^{tree}"])).toBe(await runGit(["--git-dir", bare, "rev-parse", `${p}^{tree}`]));
    expect(await runGit(["--git-dir", bare, "rev-parse", "main^{tree}"])).toBe(await gitRevertTree(bare, f, f));
    const who = await runGit(["--git-dir", bare, "log", "-1", "--format=%an <%ae>|%cn <%ce>", "main"]);
    expect(who).toBe("coxswain <coxswain@localhost>|coxswain <coxswain@localhost>");
    const message = await runGit(["--git-dir", bare, "log", "-1", "--format=%B", "main"]);
    expect(message.split("\n")[0]).toBe('Revert "web v2"');
    expect(message).toContain(`This reverts commit ${f}.`);
    expect(message).toContain("ProgressDeadlineExceeded: Deployment/default/web made no progress for 3s");
    expect(message).toContain(REVERT_TRAILER);
    expect(store.getCommit(f)!.revert).toEqual({ state: "Committed", commit: head, message: expect.stringContaining("Revert") });
    await runGit(["--git-dir", bare, "fsck", "--strict", "--no-dangling"]);
  });

  it("when the branch moved on, reverts only the failed commit's paths and keeps every other file byte for byte, as git revert does", async () => {
    const { work, bare, p, f } = await history();
    await writeFile(join(work.dir, "apps/blob.bin"), randomBytes(8192)); // binary, changed after F
    await work.write("apps/later.yaml", "later: true\n");
    await chmod(join(work.dir, "tools/run.sh"), 0o644);
    const g = await work.commit("something else");
    await work.push("origin", "main");
    const repo = await open(bare);
    const store = new StatusStore();
    store.setCommit(failedRecord(f, p));
    const outcome = await reverter(repo, store).revert(f);
    expect(outcome.state).toBe("Committed");
    expect(await runGit(["--git-dir", bare, "rev-parse", "main^"])).toBe(g);
    expect(await runGit(["--git-dir", bare, "rev-parse", "main^{tree}"])).toBe(await gitRevertTree(bare, g, f));
    await runGit(["--git-dir", bare, "fsck", "--strict", "--no-dangling"]);
  });

  it("does not force a revert that would conflict: nothing is committed and the record says Conflict with a RevertConflict error", async () => {
    const { work, bare, p, f } = await history();
    await work.write("apps/web.yaml", "image: app:v3\n");
    const g = await work.commit("web v3");
    await work.push("origin", "main");
    const repo = await open(bare);
    const store = new StatusStore();
    store.setCommit(failedRecord(f, p));
    const outcome = await reverter(repo, store).revert(f);
    expect(outcome.state).toBe("Conflict");
    expect(outcome.message).toContain("apps/web.yaml");
    expect(await runGit(["--git-dir", bare, "rev-parse", "main"])).toBe(g);
    const rec = store.getCommit(f)!;
    expect(rec.revert?.state).toBe("Conflict");
    expect(rec.errors.map((x) => x.code)).toEqual(["ProgressDeadlineExceeded", "RevertConflict"]);
  });

  it("never moves a branch that is checked out in a work tree: Failed, and the branch stays", async () => {
    const { work, p, f } = await history();
    const repo = await open(work.dir);
    const store = new StatusStore();
    store.setCommit(failedRecord(f, p));
    const outcome = await reverter(repo, store).revert(f);
    expect(outcome.state).toBe("Failed");
    expect(outcome.message).toContain("checked out");
    expect(outcome.message).toContain("bare repository");
    expect(await work.revParse("main")).toBe(f);
    expect(await work.git(["status", "--porcelain"])).toBe("");
  });

  it("reverts a branch of a work tree that has another branch checked out", async () => {
    const { work, p, f } = await history();
    await work.git(["checkout", "--quiet", "-b", "elsewhere"]);
    const repo = await open(work.dir);
    const store = new StatusStore();
    store.setCommit(failedRecord(f, p));
    const outcome = await reverter(repo, store).revert(f);
    expect(outcome.state).toBe("Committed");
    expect(await work.revParse("main^")).toBe(f);
  });

  it("a commit on a ref that moved meanwhile is refused with GitPushRejected", async () => {
    const { bare, p, f } = await history();
    const repo = await open(bare);
    const tree = await repo.writer.treeOf(p);
    const err = await repo.writer.commitTree({ ref: "refs/heads/main", tree, parents: [p], message: "x", expected: p }).catch((e: unknown) => e);
    expect(isCoxError(err, "GitPushRejected")).toBe(true);
    expect(await runGit(["--git-dir", bare, "rev-parse", "main"])).toBe(f);
  });

  it("the message names the failed commit and why, and says it was reverted automatically", () => {
    const text = revertMessage({ commit: "a".repeat(40), subject: "web v2" }, { to: "b".repeat(40), code: "CrashLoopBackOff", reason: "pods crash\n  again" });
    expect(text).toBe(
      `Revert "web v2"\n\nThis reverts commit ${"a".repeat(40)}.\n\nIts rollout failed (CrashLoopBackOff: pods crash again); coxswain rolled back to\n${"b".repeat(40)} and quarantined it.\nThis commit makes the branch describe what runs again.\n\nreverted automatically by coxswain.\n`,
    );
  });
});

describe("auto-revert on a remote over smart HTTP", () => {
  async function served(): Promise<{ work: TestRepo; bare: string; url: string; p: string; f: string }> {
    const h = await history();
    const root = join(h.bare, "..");
    const server = await startGitServer({ root });
    cleanups.push(() => server.close());
    return { ...h, url: server.url("deploy.git") };
  }

  it("pushes the revert to the remote branch and the mirror sees it as the new head", async () => {
    const { bare, url, p, f } = await served();
    const repo = await open(url);
    const store = new StatusStore();
    store.setCommit(failedRecord(f, p));
    const outcome = await reverter(repo, store).revert(f);
    expect(outcome.state).toBe("Pushed");
    expect(await runGit(["--git-dir", bare, "rev-parse", "main"])).toBe(outcome.commit);
    expect(await repo.head("main")).toBe(outcome.commit);
    expect(await runGit(["--git-dir", bare, "rev-parse", "main^{tree}"])).toBe(await runGit(["--git-dir", bare, "rev-parse", `${p}^{tree}`]));
  });

  it("when someone pushes between the fetch and the push, rebuilds the revert on the new head and pushes again", async () => {
    const { work, bare, url, p, f } = await served();
    const repo = await open(url);
    // A real race: right after coxswain's first fetch, someone else pushes an unrelated commit.
    const realRefresh = repo.refresh.bind(repo);
    let raced: string | undefined;
    (repo as { refresh: () => Promise<void> }).refresh = async () => {
      await realRefresh();
      if (raced === undefined) {
        await work.write("unrelated.yaml", "x: 1\n");
        raced = await work.commit("unrelated");
        await work.push("origin", "main");
      }
    };
    const store = new StatusStore();
    store.setCommit(failedRecord(f, p));
    const outcome = await reverter(repo, store).revert(f);
    expect(outcome.state).toBe("Pushed");
    expect(await runGit(["--git-dir", bare, "rev-parse", "main^"])).toBe(raced);
    expect(await runGit(["--git-dir", bare, "rev-parse", "main^{tree}"])).toBe(await gitRevertTree(bare, raced!, f));
  });
});
