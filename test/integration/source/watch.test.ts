/**
 * Watching for moved refs: chokidar on a repository on disk notices a `git commit` or a push within about
 * a second (with the poll set far away), the poll fires on its own, a remote repository's poll fetches
 * before it calls back, poll failures go to onError, and stop() ends it all.
 */
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { CoxError } from "../../../operator/src/api/errors.js";
import { openRepository } from "../../../operator/src/source/index.js";
import type { Repository } from "../../../operator/src/source/types.js";
import { makeRepo, runGit, tempDir, type TestRepo } from "../../support/git-repo.js";
import { createBareRepo, startGitServer, type GitServer } from "../../support/git-server.js";

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

/** Resolves with the ms from now until `calls` reaches `count`, or rejects after `withinMs`. */
function when(calls: () => number, count: number, withinMs: number): Promise<number> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const tick = setInterval(() => {
      if (calls() >= count) {
        clearInterval(tick);
        resolve(performance.now() - t0);
      } else if (performance.now() - t0 > withinMs) {
        clearInterval(tick);
        reject(new Error(`expected ${count} calls within ${withinMs} ms, saw ${calls()}`));
      }
    }, 5);
  });
}
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe("watching a repository on disk", () => {
  it("notices a git commit in a work tree within a second, without the poll", async () => {
    const work = await workRepo();
    const repo = await opened(work.dir, await dir());
    let calls = 0;
    const stop = repo.watch(() => calls++, { pollMs: 600_000 });
    cleanups.push(stop);
    await sleep(200); // let chokidar finish its initial scan
    calls = 0;
    await work.write("a.yaml", "a: 1\n");
    const oid = await work.commit("second");
    const ms = await when(() => calls, 1, 1_000);
    expect(ms).toBeLessThan(1_000);
    expect(await repo.head("main")).toBe(oid);
  });

  it("notices a push into a bare repository within a second, without the poll", async () => {
    const d = await dir();
    const bare = join(d, "bare.git");
    await runGit(["init", "--quiet", "--bare", "--initial-branch=main", bare]);
    const work = await workRepo();
    await work.push(bare, "main");
    const repo = await opened(bare, d);
    let calls = 0;
    const stop = repo.watch(() => calls++, { pollMs: 600_000 });
    cleanups.push(stop);
    await sleep(200);
    calls = 0;
    await work.write("a.yaml", "a: 2\n");
    const oid = await work.commit("pushed");
    await work.push(bare, "main");
    await when(() => calls, 1, 1_000);
    expect(await repo.head("main")).toBe(oid);
  });

  it("notices refs moved into packed-refs by git pack-refs", async () => {
    const work = await workRepo();
    const repo = await opened(work.dir, await dir());
    let calls = 0;
    const stop = repo.watch(() => calls++, { pollMs: 600_000 });
    cleanups.push(stop);
    await sleep(200);
    calls = 0;
    await work.git(["pack-refs", "--all", "--prune"]);
    await when(() => calls, 1, 1_000);
    expect(await repo.head("main")).toBe(await work.revParse("main"));
  });

  it("calls back on every poll even when nothing changed (the poll is the source of truth)", async () => {
    const work = await workRepo();
    const repo = await opened(work.dir, await dir());
    let calls = 0;
    const stop = repo.watch(() => calls++, { pollMs: 100 });
    cleanups.push(stop);
    await when(() => calls, 4, 1_500);
  });

  it("calls back no more once stopped", async () => {
    const work = await workRepo();
    const repo = await opened(work.dir, await dir());
    let calls = 0;
    const stop = repo.watch(() => calls++, { pollMs: 50 });
    await when(() => calls, 1, 1_000);
    await stop();
    const after = calls;
    await work.write("a.yaml", "a: 3\n");
    await work.commit("after stop");
    await sleep(300);
    expect(calls).toBe(after);
  });

  it("stops every watcher when the repository is closed", async () => {
    const work = await workRepo();
    const repo = await openRepository({ repo: work.dir, stateDir: await dir() });
    let calls = 0;
    repo.watch(() => calls++, { pollMs: 50 });
    repo.watch(() => calls++, { pollMs: 50 });
    await when(() => calls, 2, 1_000);
    await repo.close();
    const after = calls;
    await sleep(200);
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
    await when(() => seen.filter((o) => o === oid).length, 1, 3_000);
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
    await when(() => errors.length, 3, 3_000);
    expect(errors.every((e) => e.code === "GitFetchFailed")).toBe(true);
    expect(calls).toBe(0);
  });
});
