/**
 * A remote that goes away and comes back, over the real smart-HTTP server: the watch retries with
 * growing delays instead of hammering it, reports each failure, notices the return and delivers the
 * commits pushed meanwhile; trigger() fetches at once even in a backoff; a force-pushed branch is told
 * apart from a fast-forward, and the rewritten commits stay readable in the mirror, repacks included.
 */
import { rm } from "node:fs/promises";
import { afterEach, describe, expect, it } from "vitest";
import type { CoxError } from "../../../operator/src/api/errors.js";
import { classifyMove, isMergedInto, openRepository } from "../../../operator/src/source/index.js";
import type { Repository, WatchHandle } from "../../../operator/src/source/types.js";
import { makeRepo, runGit, tempDir, type TestRepo } from "../../support/git-repo.js";
import { createBareRepo, startGitServer, type GitServer } from "../../support/git-server.js";
import { waitFor } from "../../support/wait.js";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface Env {
  root: string;
  bare: string;
  server: GitServer;
  work: TestRepo;
  repo: Repository;
  /** Restarts the server on the same port (the remote comes back). */
  restart(): Promise<GitServer>;
}

async function env(): Promise<Env> {
  const root = await tempDir("coxswain-server-");
  cleanups.push(() => rm(root, { recursive: true, force: true }));
  const bare = await createBareRepo(root, "app.git");
  let server = await startGitServer({ root });
  cleanups.push(() => server.close());
  const work = await makeRepo();
  cleanups.push(() => work.cleanup());
  await work.write("a.yaml", "a: 0\n");
  await work.commit("first");
  await work.push(server.url("app.git"), "main");
  const state = await tempDir("coxswain-state-");
  cleanups.push(() => rm(state, { recursive: true, force: true }));
  const repo = await openRepository({ repo: server.url("app.git"), stateDir: state, timeoutMs: 2_000 });
  cleanups.push(() => repo.close());
  const port = server.port;
  return {
    root,
    bare,
    get server() {
      return server;
    },
    work,
    repo,
    async restart() {
      server = await startGitServer({ root, port });
      return server;
    },
  };
}

describe("a remote that goes away", () => {
  it("is retried with doubling delays up to the cap, each failure reported, not at the poll rate", async () => {
    const e = await env();
    const errors: { at: number; err: CoxError }[] = [];
    /** The delay the loop chose after each failure: its next attempt time, read right after it was set. */
    const delays: number[] = [];
    const t0 = performance.now();
    const watch = e.repo.watch(() => undefined, {
      pollMs: 50,
      backoff: { initialMs: 100, maxMs: 800 },
      onError: (err) => {
        errors.push({ at: performance.now() - t0, err });
        // The loop schedules the retry in the same turn, after this call (nextAttemptAt = its now + the
        // delay): read just after, the time left is the delay or a little less, never more.
        setImmediate(() => delays.push(Date.parse(watch.state().nextAttemptAt!) - Date.now()));
      },
    });
    cleanups.push(() => watch());
    await e.server.close();
    // 100, 200, 400, then 800 three times: the cap is reached and held.
    await waitFor("seven failed fetches", () => delays.length >= 7, 30_000, 20);
    await watch();
    expect(errors.every((x) => x.err.code === "GitFetchFailed" && x.err.retry === "transient")).toBe(true);
    // Each retry waits the doubling delay (±20 % jitter), capped at 800 ms: never the 50 ms poll. At most
    // that long: the delay the loop chose, read from its own next attempt time. At least that long: the
    // gap between two reports (a timer never fires early; the failed attempt only adds to it).
    for (const [i, delay] of delays.slice(0, 7).entries()) {
      expect(delay, `delay ${i + 1}`).toBeLessThanOrEqual(Math.min(800, Math.ceil(100 * 2 ** i * 1.2)));
    }
    const gaps = errors.slice(1).map((x, i) => x.at - errors[i]!.at);
    for (const [i, gap] of gaps.entries()) expect(gap, `gap ${i + 1}`).toBeGreaterThanOrEqual(Math.min(800, 100 * 2 ** i) * 0.8 - 20);
    const state = watch.state();
    expect(state.failures).toBe(errors.length);
    expect(state.lastError?.code).toBe("GitFetchFailed");
  });

  it("is picked up again when it returns: onRecover, then onChange with the commits pushed while it was away", async () => {
    const e = await env();
    const before = await e.repo.head("main");
    let recovered: number | undefined;
    const heads: (string | undefined)[] = [];
    const watch = e.repo.watch(() => void e.repo.head("main").then((h) => heads.push(h)), {
      pollMs: 100,
      backoff: { initialMs: 100, maxMs: 400 },
      onRecover: (n) => (recovered = n),
    });
    cleanups.push(() => watch());
    await e.server.close();
    await waitFor("two failed fetches", () => watch.state().failures >= 2, 30_000, 20);
    // Pushed straight into the server's repository while HTTP is down.
    await e.work.write("a.yaml", "a: 1\n");
    const next = await e.work.commit("while away");
    await e.work.push(e.bare, "main");
    expect(await e.repo.head("main")).toBe(before);
    await e.restart();
    await waitFor("recovery", () => recovered !== undefined, 30_000, 20);
    expect(recovered).toBeGreaterThanOrEqual(2);
    await waitFor("the new head delivered", () => heads.includes(next), 30_000, 20);
    expect(watch.state()).toMatchObject({ failures: 0 });
    expect(watch.state().lastError).toBeUndefined();
  });

  it("fetches at once on trigger(), even in the middle of a long backoff", async () => {
    const e = await env();
    const watch: WatchHandle = e.repo.watch(() => undefined, { pollMs: 50, backoff: { initialMs: 30_000, maxMs: 60_000 } });
    cleanups.push(() => watch());
    await e.server.close();
    await waitFor("a failed fetch", () => watch.state().failures >= 1, 30_000, 20);
    const next = await (async () => {
      await e.work.write("a.yaml", "a: 2\n");
      const oid = await e.work.commit("pushed, then a webhook");
      await e.work.push(e.bare, "main");
      return oid;
    })();
    await e.restart();
    const retryDue = watch.state().nextAttemptAt!;
    watch.trigger();
    await waitFor("the triggered fetch", async () => (await e.repo.head("main")) === next, 30_000, 10);
    // The fetch was the trigger's: it succeeded before the retry (24 s or more away) was due.
    expect(Date.parse(watch.state().lastSuccessAt!)).toBeLessThan(Date.parse(retryDue));
    expect(watch.state().failures).toBe(0);
  });

  it("runs one more fetch when triggered during a fetch, so a push racing the fetch is not missed", async () => {
    const e = await env();
    let changes = 0;
    const watch = e.repo.watch(() => changes++, { pollMs: 600_000 });
    cleanups.push(() => watch());
    e.server.stall("no-response"); // the first fetch hangs until its 2 s deadline
    const requests = e.server.requests;
    watch.trigger();
    await waitFor("the first fetch's request at the stalled server", () => e.server.requests > requests, 30_000, 5);
    watch.trigger();
    watch.trigger();
    e.server.stall(false);
    // The loop is idle again once it has scheduled the next poll: only then is no further fetch owed.
    await waitFor("the follow-up fetch, and the loop idle", () => changes >= 1 && watch.state().nextAttemptAt !== undefined, 30_000, 20);
    expect(changes).toBe(1); // the failed fetch called nothing; the three triggers made exactly one more
  });
});

describe("a force-pushed branch", () => {
  it("is classified as rewritten, while new commits on top are a fast-forward and the same head is same", async () => {
    const e = await env();
    const a = (await e.repo.head("main"))!;
    await e.work.write("a.yaml", "a: b\n");
    const b = await e.work.commit("b");
    await e.work.push(e.server.url("app.git"), "main");
    await e.repo.refresh();
    expect(await classifyMove(e.repo.reader, a, b)).toBe("fast-forward");
    expect(await classifyMove(e.repo.reader, b, b)).toBe("same");

    await e.work.git(["reset", "--quiet", "--hard", a]);
    await e.work.write("a.yaml", "a: rewritten\n");
    const c = await e.work.commit("rewritten history");
    await e.work.git(["push", "--quiet", "--force", e.server.url("app.git"), "main:main"]);
    await e.repo.refresh();
    expect(await e.repo.head("main")).toBe(c);
    expect(await classifyMove(e.repo.reader, b, c)).toBe("rewritten");
    expect(await classifyMove(e.repo.reader, a, c)).toBe("fast-forward");
    // The commit that left the branch is still readable in the mirror, with its files.
    expect((await e.repo.reader.readCommit(b)).message).toBe("b\n");
    expect(await e.repo.reader.changedFiles(b, c, "")).toEqual([{ path: "a.yaml", before: expect.any(String), after: expect.any(String) }]);
  });

  it("keeps the rewritten commits readable after the mirror repacks", async () => {
    const e = await env();
    await e.work.write("a.yaml", "a: doomed\n");
    const doomed = await e.work.commit("doomed");
    await e.work.push(e.server.url("app.git"), "main");
    await e.repo.refresh();
    await e.work.git(["reset", "--quiet", "--hard", "HEAD~1"]);
    await e.work.git(["push", "--quiet", "--force", e.server.url("app.git"), "main:main"]);
    // Enough fetches of new commits for the mirror to repack (it does at 32 packs).
    for (let i = 0; i < 36; i++) {
      await e.work.write("n.yaml", `n: ${i}\n`);
      await e.work.commit(`n ${i}`);
      await e.work.push(e.server.url("app.git"), "main");
      await e.repo.refresh();
    }
    const head = (await e.repo.head("main"))!;
    expect(await classifyMove(e.repo.reader, doomed, head)).toBe("rewritten");
    expect((await e.repo.reader.readCommit(doomed)).message).toBe("doomed\n");
    const files = await e.repo.reader.listFiles(doomed, "");
    expect(new TextDecoder().decode(await e.repo.reader.readBlob(files.find((f) => f.path === "a.yaml")!.oid))).toBe("a: doomed\n");
  }, 180_000);

  it("calls an old head that cannot be read rewritten", async () => {
    const e = await env();
    const head = (await e.repo.head("main"))!;
    expect(await classifyMove(e.repo.reader, "0123456789abcdef0123456789abcdef01234567", head)).toBe("rewritten");
  });
});

describe("isMergedInto", () => {
  it("tells a merged proposal head from one that is not, on disk", async () => {
    const r = await makeRepo();
    cleanups.push(() => r.cleanup());
    await r.write("a.yaml", "a: 0\n");
    await r.commit("base");
    await r.git(["checkout", "--quiet", "-b", "pr/one"]);
    await r.write("one.yaml", "one: 1\n");
    const one = await r.commit("one");
    await r.git(["checkout", "--quiet", "main"]);
    await r.git(["checkout", "--quiet", "-b", "pr/two"]);
    await r.write("two.yaml", "two: 2\n");
    const two = await r.commit("two");
    await r.git(["checkout", "--quiet", "main"]);
    await r.git(["merge", "--quiet", "--no-ff", "-m", "merge one", "pr/one"]);
    const repo = await openRepository({ repo: r.dir, stateDir: r.dir });
    cleanups.push(() => repo.close());
    const main = (await repo.head("main"))!;
    expect(await isMergedInto(repo.reader, one, main)).toBe(true);
    expect(await isMergedInto(repo.reader, two, main)).toBe(false);
    expect(await isMergedInto(repo.reader, main, main)).toBe(true);
    expect(await isMergedInto(repo.reader, "f".repeat(40), main)).toBe(false);
    expect(await runGit(["rev-parse", "main"], { cwd: r.dir })).toBe(main);
  });
});
