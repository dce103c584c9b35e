/**
 * Watching for moved refs: chokidar on a repository on disk notices a `git commit` or a push (with the
 * poll set far away; how fast is a benchmark's figure), the poll fires on its own, a remote repository's
 * poll fetches before it calls back, poll failures go to onError, and stop() ends it all.
 */
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { CoxError } from "../../../operator/src/api/errors.js";
import { openRepository } from "../../../operator/src/source/index.js";
import type { Repository } from "../../../operator/src/source/types.js";
import { makeRepo, runGit, tempDir, type TestRepo } from "../../support/git-repo.js";
import { createBareRepo, startGitServer, type GitServer } from "../../support/git-server.js";
import { waitFor } from "../../support/wait.js";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function workRepo(): Promise<TestRepo> {
  const r = await makeRepo();
  cleanups.push(() => r.cleanup());
  await r.write("a.yaml", "a: 0\n");
  await r.commit("first");
  return r;
}
async function dir(): Promise<string> {
  const d = await tempDir("coxswain-watch-");
  cleanups.push(() => rm(d, { recursive: true, force: true }));
  return d;
}
async function opened(repo: string, stateDir: string): Promise<Repository> {
  const r = await openRepository({ repo, stateDir, timeoutMs: 5_000 });
  cleanups.push(() => r.close());
  return r;
}
async function server(root: string): Promise<GitServer> {
  const s = await startGitServer({ root });
  cleanups.push(() => s.close());
  return s;
}

/**
 * Waits until the watcher reports a ref move (a new branch pointing at main, one more each try): chokidar
 * ignores what it finds in its initial scan, so only from then on is a move certain to be seen. Returns
 * once `calls` has moved; the caller then looks for the callback of the move it makes itself.
 */
async function watching(git: (args: string[]) => Promise<unknown>, calls: () => number): Promise<void> {
  const before = calls();
  let n = 0;
  await waitFor(
    "the watcher reports a ref move",
    async () => {
      if (calls() > before) return true;
      await git(["branch", `probe-${n++}`, "main"]);
      return calls() > before;
    },
    30_000,
    50,
  );
}

describe("watching a repository on disk", () => {
  it("notices a git commit in a work tree without the poll", async () => {
    const work = await workRepo();
    const repo = await opened(work.dir, await dir());
    const heads: (string | undefined)[] = [];
    const stop = repo.watch(() => void repo.head("main").then((h) => heads.push(h)), { pollMs: 600_000 });
    cleanups.push(stop);
    await watching(
      (a) => work.git(a),
      () => heads.length,
    );
    await work.write("a.yaml", "a: 1\n");
    const oid = await work.commit("second");
    // The poll is ten minutes away: a callback that sees the commit came from the file watcher. How long
    // it takes is a figure of `npm run bench:git` and `bench:latency`.
    await waitFor("a callback after the commit", () => heads.includes(oid), 30_000, 5);
  });

  it("notices a push into a bare repository without the poll", async () => {
    const d = await dir();
    const bare = join(d, "bare.git");
    await runGit(["init", "--quiet", "--bare", "--initial-branch=main", bare]);
    const work = await workRepo();
    await work.push(bare, "main");
    const repo = await opened(bare, d);
    const heads: (string | undefined)[] = [];
    const stop = repo.watch(() => void repo.head("main").then((h) => heads.push(h)), { pollMs: 600_000 });
    cleanups.push(stop);
    await watching(
      (a) => runGit(["--git-dir", bare, ...a]),
      () => heads.length,
    );
    await work.write("a.yaml", "a: 2\n");
    const oid = await work.commit("pushed");
    await work.push(bare, "main");
    await waitFor("a callback after the push", () => heads.includes(oid), 30_000, 5);
  });

  it("notices refs moved into packed-refs by git pack-refs", async () => {
    const work = await workRepo();
    const repo = await opened(work.dir, await dir());
    let calls = 0;
    const stop = repo.watch(() => calls++, { pollMs: 600_000 });
    cleanups.push(stop);
    await watching(
      (a) => work.git(a),
      () => calls,
    );
    await work.git(["pack-refs", "--all", "--prune"]);
    const after = calls;
    await waitFor("a callback for packed-refs", () => calls > after, 30_000, 5);
    expect(await repo.head("main")).toBe(await work.revParse("main"));
  });

  it("calls back on every poll even when nothing changed (the poll is the source of truth)", async () => {
    const work = await workRepo();
    const repo = await opened(work.dir, await dir());
    let calls = 0;
    const stop = repo.watch(() => calls++, { pollMs: 100 });
    cleanups.push(stop);
    await waitFor("four polls", () => calls >= 4, 30_000, 5);
  });

  it("calls back no more once stopped", async () => {
    const work = await workRepo();
    const repo = await opened(work.dir, await dir());
    let calls = 0;
    const stop = repo.watch(() => calls++, { pollMs: 50 });
    await waitFor("a first poll", () => calls >= 1, 30_000, 5);
    // A second watcher on the same repository stays on: what it reports, the stopped one would have.
    let control = 0;
    cleanups.push(repo.watch(() => control++, { pollMs: 50 }));
    await stop();
    const after = calls;
    await work.write("a.yaml", "a: 3\n");
    await work.commit("after stop");
    const seen = control;
    await waitFor("three more callbacks of the other watcher", () => control >= seen + 3, 30_000, 5);
    expect(calls).toBe(after);
  });

  it("stops every watcher when the repository is closed", async () => {
    const work = await workRepo();
    const repo = await openRepository({ repo: work.dir, stateDir: await dir() });
    let calls = 0;
    repo.watch(() => calls++, { pollMs: 50 });
    repo.watch(() => calls++, { pollMs: 50 });
    await waitFor("both watchers polling", () => calls >= 2, 30_000, 5);
    // Another repository object on the same work tree stays open: what it reports, the closed one would have.
    const other = await opened(work.dir, await dir());
    let control = 0;
    cleanups.push(other.watch(() => control++, { pollMs: 50 }));
    await repo.close();
    const after = calls;
    const seen = control;
    await waitFor("three more callbacks of the other repository", () => control >= seen + 3, 30_000, 5);
    expect(calls).toBe(after);
  });
});

describe("watching a remote repository", () => {
  it("fetches on each poll before calling back, so a pushed commit is visible in the callback", async () => {
    const root = await dir();
    await createBareRepo(root, "app.git");
    const s = await server(root);
    const work = await workRepo();
    await work.push(s.url("app.git"), "main");
    const repo = await opened(s.url("app.git"), await dir());
    const seen: (string | undefined)[] = [];
    let pending = Promise.resolve();
    const stop = repo.watch(
      () => {
        pending = pending.then(async () => void seen.push(await repo.head("main")));
      },
      { pollMs: 150 },
    );
    cleanups.push(stop);
    await work.write("a.yaml", "a: 4\n");
    const oid = await work.commit("remote change");
    await work.push(s.url("app.git"), "main");
    await waitFor("the pushed commit seen in a callback", () => seen.includes(oid), 30_000, 5);
  });

  it("reports a failing fetch through onError and keeps retrying (with backoff: resilience.test.ts)", async () => {
    const root = await dir();
    await createBareRepo(root, "app.git");
    const s = await startGitServer({ root });
    const work = await workRepo();
    await work.push(s.url("app.git"), "main");
    const repo = await opened(s.url("app.git"), await dir());
    await s.close(); // from now on, connection refused
    const errors: CoxError[] = [];
    let calls = 0;
    const stop = repo.watch(() => calls++, { pollMs: 100, backoff: { initialMs: 100, maxMs: 200 }, onError: (e) => errors.push(e) });
    cleanups.push(stop);
    await waitFor("three failed fetches", () => errors.length >= 3, 30_000, 5);
    expect(errors.every((e) => e.code === "GitFetchFailed")).toBe(true);
    expect(calls).toBe(0);
  });
});
