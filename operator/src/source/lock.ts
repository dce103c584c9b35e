/**
 * One writer per repository across processes. Inside a process, GitRepository serializes writes per ref
 * (mutex.ts); but two coxswain processes on the same gitdir — two operators on one repository, or two
 * on one state dir (one mirror) — would fight over the status branch and notes and race their fetches.
 * The operator takes this lock at start: a file `coxswain.lock` in the gitdir, created exclusively, holding
 * who has it. A lock whose process is gone (same host, pid not running) is taken over; a live one is an
 * error naming the holder. Readers (`coxswain status`, `history`, `plan`) take no lock.
 *
 * Limits (documented): on another host (a shared volume) liveness cannot be checked, so such a lock is
 * reported and must be removed by hand once that process is gone; a pid reused by an unrelated program
 * looks alive. Operators on different machines writing the same remote are not excluded by this file
 * (each has its own mirror): for them the status writer merges on a rejected push (status/writer.ts).
 */
import { randomBytes } from "node:crypto";
import { constants as fsConstants, promises as fsp } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { CoxError } from "../api/errors.js";

/** The lock file's name inside the gitdir (git ignores unknown files there). */
export const LOCK_FILE = "coxswain.lock";

/** Who holds a lock. */
export interface LockHolder {
  pid: number;
  host: string;
  /** ISO time the lock was taken. */
  since: string;
  /** Free text, e.g. "coxswain run (instance coxswain)". */
  owner: string;
}

/** A held lock. */
export interface RepositoryLock {
  readonly path: string;
  readonly holder: LockHolder;
  /** Removes the lock file if it is still ours. Idempotent. */
  release(): Promise<void>;
}

/**
 * Takes the writer lock of `gitdir`. Throws CoxError InvalidArgument (the command line points a second
 * writer at the same repository or state dir) when another live process on this host, or any process on
 * another host, holds it; takes over a lock left by a process that is gone.
 */
export async function acquireRepositoryLock(gitdir: string, owner = "coxswain"): Promise<RepositoryLock> {
  const path = join(gitdir, LOCK_FILE);
  const me: LockHolder = { pid: process.pid, host: hostname(), since: new Date().toISOString(), owner };
  const text = `${JSON.stringify(me)}\n`;
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      const handle = await fsp.open(path, fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_WRONLY, 0o644);
      try {
        await handle.writeFile(text, "utf8");
        await handle.sync();
      } finally {
        await handle.close();
      }
      return lockOf(path, me, text);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    const seen = await fsp.readFile(path, "utf8").catch(() => undefined);
    if (seen === undefined) continue; // released meanwhile: try again
    const holder = parseHolder(seen);
    if (holder && holder.host === me.host && holder.pid === me.pid) {
      throw new CoxError("InvalidArgument", `${gitdir} is already locked by this process (${holder.owner}, since ${holder.since})`, {
        details: { ...holder },
      });
    }
    if (holder && holder.host === me.host && !alive(holder.pid)) {
      await takeOverStale(path, seen);
      continue;
    }
    if (!holder) {
      // Half-written by a process that died between create and write, or garbage: old enough → stale.
      const st = await fsp.stat(path).catch(() => undefined);
      if (st && Date.now() - st.mtimeMs > 10_000) {
        await takeOverStale(path, seen);
        continue;
      }
    }
    const who = holder ? `pid ${holder.pid} on ${holder.host} (${holder.owner}, since ${holder.since})` : "another process";
    throw new CoxError(
      "InvalidArgument",
      `another coxswain writes this repository: ${who} holds ${path}. Stop it, or give this one another --state-dir (for a URL) or repository; if that process is gone, remove the file`,
      { details: holder ? { ...holder } : {} },
    );
  }
  throw new CoxError("InvalidArgument", `could not take the lock ${path}: it keeps changing hands`);
}

function lockOf(path: string, holder: LockHolder, text: string): RepositoryLock {
  let released = false;
  return {
    path,
    holder,
    async release() {
      if (released) return;
      released = true;
      const now = await fsp.readFile(path, "utf8").catch(() => undefined);
      if (now === text) await fsp.rm(path, { force: true });
    },
  };
}

/**
 * Moves a stale lock aside; when two processes race for the same stale lock, only the one whose rename
 * took exactly the stale content proceeds, the other puts back what it took by mistake.
 */
async function takeOverStale(path: string, staleText: string): Promise<void> {
  const aside = `${path}.stale-${process.pid}-${randomBytes(4).toString("hex")}`;
  try {
    await fsp.rename(path, aside);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
    throw err;
  }
  const took = await fsp.readFile(aside, "utf8").catch(() => undefined);
  if (took !== staleText) {
    // Someone else's fresh lock: put it back unless yet another one appeared.
    await fsp.link(aside, path).catch(() => undefined);
  }
  await fsp.rm(aside, { force: true });
}

function parseHolder(text: string): LockHolder | undefined {
  try {
    const v = JSON.parse(text) as Partial<LockHolder>;
    if (typeof v.pid === "number" && typeof v.host === "string") {
      return { pid: v.pid, host: v.host, since: String(v.since ?? ""), owner: String(v.owner ?? "") };
    }
  } catch {
    // not ours
  }
  return undefined;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM"; // exists, owned by someone else
  }
}
