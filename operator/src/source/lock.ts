/**
 * One writer per repository across processes. Inside a process, GitRepository serializes writes per ref
 * (mutex.ts); but two coxswain processes on the same gitdir — two operators on one repository, or two
 * on one state dir (one mirror) — would fight over the status branch and notes and race their fetches.
 * The operator takes this lock at start: a file `coxswain.lock` in the gitdir holding who has it. The file
 * appears whole or not at all — written and synced under a temporary name, then hard-linked to its name
 * (link fails if the name exists) — so a process killed while taking the lock never leaves an empty or
 * half-written one (that once made the next start refuse). A lock whose process is gone (same host, pid not
 * running) is taken over; a live one is an error naming the holder; one that cannot be read (written by
 * something else) is waited out until it is UNREADABLE_STALE_MS old, then taken over. Readers
 * (`coxswain status`, `history`, `plan`) take no lock.
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
import { setTimeout as sleep } from "node:timers/promises";
import { CoxError } from "../api/errors.js";

/** The lock file's name inside the gitdir (git ignores unknown files there). */
export const LOCK_FILE = "coxswain.lock";

/** How old a lock file that does not name its holder must be before it is taken over. */
const UNREADABLE_STALE_MS = 10_000;

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
 * another host, holds it; takes over a lock left by a process that is gone. `unreadableStaleMs`: how long a
 * lock file that names no holder is waited out.
 */
export async function acquireRepositoryLock(gitdir: string, owner = "coxswain", unreadableStaleMs = UNREADABLE_STALE_MS): Promise<RepositoryLock> {
  const path = join(gitdir, LOCK_FILE);
  const me: LockHolder = { pid: process.pid, host: hostname(), since: new Date().toISOString(), owner };
  const text = `${JSON.stringify(me)}\n`;
  await removeLeftTemporaries(gitdir);
  for (let attempt = 0; attempt < 5; attempt++) {
    if (await createWhole(path, text)) return lockOf(path, me, text);
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
      // Not written by this version of coxswain (ours appear whole): waited out, then taken over.
      const st = await fsp.stat(path).catch(() => undefined);
      if (st) {
        const left = st.mtimeMs + unreadableStaleMs - Date.now();
        if (left > 0) await sleep(left);
        await takeOverStale(path, seen);
      }
      continue;
    }
    const who = `pid ${holder.pid} on ${holder.host} (${holder.owner}, since ${holder.since})`;
    throw new CoxError(
      "InvalidArgument",
      `another coxswain writes this repository: ${who} holds ${path}. Stop it, or give this one another --state-dir (for a URL) or repository; if that process is gone, remove the file`,
      { details: { ...holder } },
    );
  }
  throw new CoxError("InvalidArgument", `could not take the lock ${path}: it keeps changing hands`);
}

/** Prefix of the temporary files the lock is written under before it is linked to its name. */
const TEMP_PREFIX = `${LOCK_FILE}.tmp-`;

/**
 * Creates `path` holding `text`, whole: written and synced under a temporary name, then linked (which fails
 * with EEXIST when the name is taken). False when someone holds the name.
 */
async function createWhole(path: string, text: string): Promise<boolean> {
  const temp = `${path}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`; // starts with TEMP_PREFIX
  const handle = await fsp.open(temp, fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_WRONLY, 0o644);
  try {
    await handle.writeFile(text, "utf8");
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await fsp.link(temp, path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    return false;
  } finally {
    await fsp.rm(temp, { force: true });
  }
}

/**
 * Removes temporary lock files left by a process killed between write and link: they live for milliseconds,
 * so one a minute old is left over (by age, not pid: on a shared volume the pid may be another host's).
 */
async function removeLeftTemporaries(gitdir: string): Promise<void> {
  for (const name of await fsp.readdir(gitdir).catch(() => [] as string[])) {
    if (!name.startsWith(TEMP_PREFIX)) continue;
    const st = await fsp.stat(join(gitdir, name)).catch(() => undefined);
    if (st && Date.now() - st.mtimeMs > 60_000) await fsp.rm(join(gitdir, name), { force: true });
  }
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
