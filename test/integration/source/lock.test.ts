/**
 * The inter-process writer lock on a gitdir: a second holder is refused with the first one named, a
 * lock left by a process that died is taken over, a release frees it for the next one, and readers are
 * unaffected.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { readFile, rm, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { CoxError } from "../../../operator/src/api/errors.js";
import { acquireRepositoryLock, LOCK_FILE, openRepository } from "../../../operator/src/source/index.js";
import { makeRepo } from "../../support/git-repo.js";
import { waitFor } from "../../support/wait.js";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function gitdir(): Promise<string> {
  const r = await makeRepo();
  cleanups.push(() => r.cleanup());
  await r.write("a.yaml", "a: 1\n");
  await r.commit("first");
  return r.gitdir;
}

/**
 * Another process, running `body` with acquireRepositoryLock imported; resolves once it printed `ready`. It
 * is SIGKILLed after the test if it still runs.
 */
async function lockChild(ready: string, body: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, ["--import", "tsx", "-e", `import { acquireRepositoryLock } from ${JSON.stringify(join(process.cwd(), "operator/src/source/lock.ts"))};\n${body}`], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  cleanups.push(async () => {
    if (child.exitCode === null && child.signalCode === null) process.kill(child.pid!, "SIGKILL");
  });
  let out = "";
  child.stdout!.on("data", (d) => (out += d));
  await waitFor(`the child's "${ready}"`, () => out.includes(ready), 20_000);
  return child;
}

describe("acquireRepositoryLock", () => {
  it("refuses a second holder with InvalidArgument naming the first, and lets the next one in after release", async () => {
    const dir = await gitdir();
    const first = await acquireRepositoryLock(dir, "coxswain run (test)");
    const err = (await acquireRepositoryLock(dir, "second").catch((e: unknown) => e)) as CoxError;
    expect(err).toBeInstanceOf(CoxError);
    expect(err.code).toBe("InvalidArgument");
    expect(err.details).toMatchObject({ pid: process.pid, owner: "coxswain run (test)" });
    await first.release();
    await first.release(); // idempotent
    const next = await acquireRepositoryLock(dir, "next");
    expect(JSON.parse(await readFile(join(dir, LOCK_FILE), "utf8"))).toMatchObject({ pid: process.pid, owner: "next", host: hostname() });
    await next.release();
  });

  it("refuses while another live process holds it", async () => {
    const dir = await gitdir();
    // A real other process takes the lock and keeps running.
    const child = await lockChild(
      "locked",
      `await acquireRepositoryLock(${JSON.stringify(dir)}, "child");
       process.stdout.write("locked\\n");
       setInterval(() => {}, 1000);`,
    );
    const err = (await acquireRepositoryLock(dir).catch((e: unknown) => e)) as CoxError;
    expect(err.code).toBe("InvalidArgument");
    expect(err.details).toMatchObject({ pid: child.pid, owner: "child" });
    // Killed without releasing: the lock it left is stale and is taken over.
    process.kill(child.pid!, "SIGKILL");
    await new Promise((r) => child.once("exit", r));
    const mine = await acquireRepositoryLock(dir, "after the crash");
    expect(JSON.parse(await readFile(join(dir, LOCK_FILE), "utf8")).pid).toBe(process.pid);
    await mine.release();
  });

  it("waits out a lock file that names no holder, then takes it over", async () => {
    const dir = await gitdir();
    await writeFile(join(dir, LOCK_FILE), "");
    const lock = await acquireRepositoryLock(dir, "after an unreadable lock", 300);
    expect(JSON.parse(await readFile(join(dir, LOCK_FILE), "utf8"))).toMatchObject({ pid: process.pid, owner: "after an unreadable lock" });
    await lock.release();
  });

  it("is never seen empty or half-written, so a process killed while taking it leaves none: the next one takes over at once", async () => {
    const dir = await gitdir();
    // The child takes and releases the lock as fast as it can.
    const child = await lockChild(
      "looping",
      `process.stdout.write("looping\\n");
       for (;;) await (await acquireRepositoryLock(${JSON.stringify(dir)}, "child")).release();`,
    );
    // Read as often as possible meanwhile (a lock created empty and then written was seen empty ~5 % of reads).
    const seen = { whole: 0, unreadable: 0 };
    for (const end = Date.now() + 1_500; Date.now() < end || seen.whole === 0; ) {
      let text: string;
      try {
        text = readFileSync(join(dir, LOCK_FILE), "utf8");
      } catch {
        continue; // released at that moment
      }
      if (/^\{.*"pid":\d+.*\}\n$/.test(text)) seen.whole++;
      else seen.unreadable++;
    }
    expect(seen.unreadable).toBe(0);
    process.kill(child.pid!, "SIGKILL");
    await new Promise((r) => child.once("exit", r));
    // An unreadable lock would be waited out for an hour (past the test's timeout); a whole one of a dead
    // process, or none, is taken at once.
    const mine = await acquireRepositoryLock(dir, "after the kill", 3_600_000);
    await mine.release();
  });

  it("refuses a lock held on another host (liveness cannot be checked there)", async () => {
    const dir = await gitdir();
    await writeFile(join(dir, LOCK_FILE), JSON.stringify({ pid: 1, host: "elsewhere.example", since: "2024-01-01T00:00:00Z", owner: "x" }));
    await expect(acquireRepositoryLock(dir)).rejects.toMatchObject({ code: "InvalidArgument", details: { host: "elsewhere.example" } });
  });

  it("does not release a lock that someone else took over", async () => {
    const dir = await gitdir();
    const mine = await acquireRepositoryLock(dir);
    const theirs = JSON.stringify({ pid: 999_999, host: "elsewhere.example", since: "x", owner: "y" });
    await writeFile(join(dir, LOCK_FILE), theirs);
    await mine.release();
    expect(await readFile(join(dir, LOCK_FILE), "utf8")).toBe(theirs);
    await rm(join(dir, LOCK_FILE));
  });

  it("leaves readers alone: a locked repository opens and reads as before", async () => {
    const dir = await gitdir();
    const lock = await acquireRepositoryLock(dir);
    const repo = await openRepository({ repo: dir, stateDir: dir });
    cleanups.push(() => repo.close());
    expect(await repo.head("main")).toMatch(/^[0-9a-f]{40}$/);
    await lock.release();
  });
});
