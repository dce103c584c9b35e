/**
 * Ref updates that follow git's own locking protocol, so that the git CLI working on the same repository
 * (commits to main, pack-refs, gc) and coxswain can never clobber each other's refs. isomorphic-git writes
 * a ref file in place under an in-process lock only; here we create `<ref>.lock` exclusively (as git does),
 * check the old value under that lock, write, and rename over the ref (atomic for readers).
 */
import { constants as fsConstants, promises as fsp } from "node:fs";
import { dirname, join } from "node:path";
import { CoxError } from "../api/errors.js";

/** How long to wait for a `.lock` file held by another process before giving up. */
const LOCK_WAIT_MS = 2_000;

/** Checks a full ref name the way git would refuse it; ours are always under refs/. */
export function assertRefName(ref: string): void {
  const bad =
    !ref.startsWith("refs/") ||
    ref.endsWith("/") ||
    ref.endsWith(".lock") ||
    ref.includes("..") ||
    ref.includes("//") ||
    ref.split("/").some((part) => part === "" || part.startsWith(".")) ||
    /[\x00-\x20~^:?*[\\\x7f]/.test(ref) ||
    ref.includes("@{");
  if (bad) throw new CoxError("InvalidArgument", `invalid ref name ${JSON.stringify(ref)}: expected a full ref such as refs/heads/coxswain/status`);
}

/**
 * Moves `ref` to `newOid` if it still points at `expected` (undefined = must not exist). `current` reads
 * the ref (loose, then packed) and is called while we hold the lock. Throws CoxError StatusWriteFailed
 * when another process holds the lock for too long or moved the ref under us.
 */
export async function updateRefLocked(opts: {
  gitdir: string;
  ref: string;
  newOid: string;
  expected: string | undefined;
  current: () => Promise<string | undefined>;
}): Promise<void> {
  const { gitdir, ref, newOid, expected } = opts;
  assertRefName(ref);
  if (!/^[0-9a-f]{40}$/.test(newOid)) throw new CoxError("InvalidArgument", `invalid object id ${JSON.stringify(newOid)} for ${ref}: expected 40 hex digits`);
  const path = join(gitdir, ref);
  const lockPath = `${path}.lock`;
  await fsp.mkdir(dirname(path), { recursive: true });
  const handle = await acquire(lockPath, ref);
  let renamed = false;
  try {
    const now = await opts.current();
    if (now !== expected) {
      throw new CoxError(
        "StatusWriteFailed",
        `${ref} moved while coxswain was updating it (expected ${expected ?? "no ref"}, found ${now ?? "no ref"}); another process writes this ref`,
        { details: { ref, expected, found: now } },
      );
    }
    await handle.writeFile(`${newOid}\n`, "utf8");
    await handle.sync();
    await handle.close();
    await fsp.rename(lockPath, path);
    renamed = true;
  } finally {
    if (!renamed) {
      await handle.close().catch(() => undefined);
      await fsp.rm(lockPath, { force: true });
    }
  }
}

async function acquire(lockPath: string, ref: string): Promise<fsp.FileHandle> {
  const deadline = Date.now() + LOCK_WAIT_MS;
  let delay = 2;
  for (;;) {
    try {
      return await fsp.open(lockPath, fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_WRONLY, 0o644);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      if (Date.now() >= deadline) {
        throw new CoxError("StatusWriteFailed", `${ref} is locked by another process (${lockPath} exists for more than ${LOCK_WAIT_MS} ms)`, {
          details: { ref },
        });
      }
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 50);
    }
  }
}
