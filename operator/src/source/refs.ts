/**
 * Ref updates that follow git's own locking protocol, so that the git CLI working on the same repository
 * (commits to main, pack-refs, gc) and coxswain can never clobber each other's refs. isomorphic-git writes
 * a ref file in place under an in-process lock only; here we create `<ref>.lock` exclusively (as git does),
 * check the old value under that lock, write, and rename over the ref (atomic for readers).
 */
import { randomBytes } from "node:crypto";
import { type Dirent, constants as fsConstants, promises as fsp } from "node:fs";
import { dirname, join } from "node:path";
import { CoxError } from "../api/errors.js";

/** How long to wait for a `.lock` file held by another process before giving up. */
const LOCK_WAIT_MS = 2_000;

/**
 * A `.lock` file unchanged for this long is abandoned, and taken over. git holds a ref lock for the
 * milliseconds of one write (its own commands wait 100 ms for one, 1 s for packed-refs.lock), so only a
 * writer killed between creating and renaming it — a kill -9 of coxswain mid status write, power loss —
 * leaves one this old; git would then refuse every update of that ref until someone removes the file by
 * hand, and coxswain's status or notes would stop for good.
 */
export const STALE_REF_LOCK_MS = 5_000;

/** Checks a full ref name the way git would refuse it; ours are always under refs/. */
export function assertRefName(ref: string): void {
  const bad =
    !ref.startsWith("refs/") ||
    ref.endsWith("/") ||
    ref.endsWith(".lock") ||
    ref.includes("..") ||
    ref.includes("//") ||
    ref.split("/").some((part) => part === "" || part.startsWith(".")) ||
    // biome-ignore lint/suspicious/noControlCharactersInRegex: Git refuses control characters in ref names (git check-ref-format)
    /[\x00-\x20~^:?*[\\\x7f]/.test(ref) ||
    ref.includes("@{");
  if (bad) throw new CoxError("InvalidArgument", `invalid ref name ${JSON.stringify(ref)}: expected a full ref such as refs/heads/coxswain/status`);
}

/**
 * Moves `ref` to `newOid` if it still points at `expected` (undefined = must not exist). `current` reads
 * the ref (loose, then packed) and is called while we hold the lock. Throws CoxError StatusWriteFailed
 * when another process holds the lock for too long or moved the ref under us.
 */
export async function updateRefLocked(opts: { gitdir: string; ref: string; newOid: string; expected: string | undefined; current: () => Promise<string | undefined> }): Promise<void> {
  const { gitdir, ref, newOid, expected } = opts;
  assertRefName(ref);
  if (!/^[0-9a-f]{40}$/.test(newOid)) throw new CoxError("InvalidArgument", `invalid object id ${JSON.stringify(newOid)} for ${ref}: expected 40 hex digits`);
  const path = join(gitdir, ref);
  const lockPath = `${path}.lock`;
  const handle = await acquire(lockPath, ref);
  let renamed = false;
  try {
    const now = await opts.current();
    if (now !== expected) {
      throw new CoxError("StatusWriteFailed", `${ref} moved while coxswain was updating it (expected ${expected ?? "no ref"}, found ${now ?? "no ref"}); another process writes this ref`, {
        details: { ref, expected, found: now },
      });
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
  let tookOver = false;
  for (;;) {
    try {
      return await fsp.open(lockPath, fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_WRONLY, 0o644);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "ENOENT") {
        // The ref's directory is missing, or `git pack-refs --prune` just removed it as empty: create it
        // and try again, as git's own raceproof file creation does.
        await fsp.mkdir(dirname(lockPath), { recursive: true });
        if (Date.now() >= deadline) throw err;
        continue;
      }
      if (code !== "EEXIST") throw err;
      if (!tookOver && (await takeOverAbandoned(lockPath))) {
        tookOver = true;
        continue;
      }
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

/**
 * Removes the lock file at `lockPath` when it is abandoned (unchanged for STALE_REF_LOCK_MS). It is moved
 * aside first (a dot file, which git never takes for a ref); when what was moved is not the file judged
 * abandoned (replaced in between by a fresh lock), it is put back unless yet another one appeared. True
 * when the lock is gone: try to take it again.
 */
async function takeOverAbandoned(lockPath: string): Promise<boolean> {
  const st = await fsp.stat(lockPath).catch(() => undefined);
  if (st === undefined) return true;
  if (Date.now() - st.mtimeMs < STALE_REF_LOCK_MS) return false;
  const aside = join(dirname(lockPath), `.coxswain-stale-lock-${process.pid}-${randomBytes(4).toString("hex")}`);
  try {
    await fsp.rename(lockPath, aside);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return true;
    throw err;
  }
  const moved = await fsp.stat(aside).catch(() => undefined);
  if (moved !== undefined && (moved.ino !== st.ino || moved.mtimeMs !== st.mtimeMs)) await fsp.link(aside, lockPath).catch(() => undefined);
  await fsp.rm(aside, { force: true });
  return true;
}

/**
 * Reads a ref the way git does: the loose file first, then packed-refs, following symbolic refs.
 * (isomorphic-git reads packed-refs before the loose file; when `git pack-refs` runs between the two
 * reads it returns a stale value.) A loose file caught mid-write by a writer that does not use rename
 * (isomorphic-git's fetch) is read again. Undefined when the ref does not exist.
 */
export async function readRefValue(gitdir: string, ref: string, depth = 5): Promise<string | undefined> {
  let text: string | undefined;
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      text = (await fsp.readFile(join(gitdir, ref), "utf8")).trim();
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== "ENOENT" && code !== "EISDIR" && code !== "ENOTDIR") throw err;
      text = undefined;
    }
    if (text === undefined || /^[0-9a-f]{40}$/.test(text) || text.startsWith("ref: ")) break;
    await new Promise((r) => setTimeout(r, 2)); // empty or partial: a writer is in the middle of it
  }
  if (text === undefined || !(/^[0-9a-f]{40}$/.test(text) || text.startsWith("ref: "))) text = (await readPackedRefs(gitdir)).get(ref);
  if (text === undefined) return undefined;
  if (text.startsWith("ref: ")) return depth > 0 ? readRefValue(gitdir, text.slice("ref: ".length).trim(), depth - 1) : undefined;
  return text;
}

async function readPackedRefs(gitdir: string): Promise<Map<string, string>> {
  const refs = new Map<string, string>();
  let text: string;
  try {
    text = await fsp.readFile(join(gitdir, "packed-refs"), "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return refs;
    throw err;
  }
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#") || line.startsWith("^")) continue;
    const space = line.indexOf(" ");
    if (space === 40) refs.set(line.slice(41).trim(), line.slice(0, 40));
  }
  return refs;
}

/**
 * Deletes `ref` if it still points at `expected`: the loose file (under git's `.lock` protocol) and its
 * line in packed-refs (under packed-refs.lock), as `git update-ref -d` does. No-op when it is absent.
 */
export async function deleteRefLocked(opts: { gitdir: string; ref: string; expected: string; current: () => Promise<string | undefined> }): Promise<void> {
  const { gitdir, ref, expected } = opts;
  assertRefName(ref);
  const path = join(gitdir, ref);
  const lockPath = `${path}.lock`;
  const handle = await acquire(lockPath, ref);
  try {
    const now = await opts.current();
    if (now === undefined) return;
    if (now !== expected) {
      throw new CoxError("StatusWriteFailed", `${ref} moved while coxswain was deleting it (expected ${expected}, found ${now})`, {
        details: { ref, expected, found: now },
      });
    }
    if ((await readPackedRefs(gitdir)).has(ref)) {
      const packedLock = join(gitdir, "packed-refs.lock");
      const packed = await acquire(packedLock, "packed-refs");
      let renamed = false;
      try {
        const text = await fsp.readFile(join(gitdir, "packed-refs"), "utf8");
        const lines = text.split("\n");
        const kept: string[] = [];
        for (let i = 0; i < lines.length; i++) {
          const line = lines[i]!;
          if (line.length > 41 && line.slice(41).trim() === ref && !line.startsWith("#") && !line.startsWith("^")) {
            if (lines[i + 1]?.startsWith("^")) i++; // its peeled line goes with it
            continue;
          }
          kept.push(line);
        }
        await packed.writeFile(kept.join("\n"), "utf8");
        await packed.sync();
        await packed.close();
        await fsp.rename(packedLock, join(gitdir, "packed-refs"));
        renamed = true;
      } finally {
        if (!renamed) {
          await packed.close().catch(() => undefined);
          await fsp.rm(packedLock, { force: true });
        }
      }
    }
    await fsp.rm(path, { force: true });
  } finally {
    await handle.close().catch(() => undefined);
    await fsp.rm(lockPath, { force: true });
  }
}

/** Every ref under `prefix` ("refs/pull/"), loose and packed, with its value (loose wins), sorted by name. */
export async function listRefValues(gitdir: string, prefix: string): Promise<{ ref: string; oid: string }[]> {
  const names = new Set<string>();
  for (const name of (await readPackedRefs(gitdir)).keys()) if (name.startsWith(prefix)) names.add(name);
  const walk = async (dir: string): Promise<void> => {
    let entries: Dirent[];
    try {
      entries = await fsp.readdir(join(gitdir, dir), { withFileTypes: true });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "ENOENT" || code === "ENOTDIR") return;
      throw err;
    }
    for (const e of entries) {
      if (e.name.startsWith(".") || e.name.endsWith(".lock")) continue; // our temp files, git's locks
      const child = `${dir}/${e.name}`;
      if (e.isDirectory()) await walk(child);
      else if (e.isFile() && child.startsWith(prefix)) names.add(child);
    }
  };
  const start = prefix.endsWith("/") ? prefix.slice(0, -1) : prefix.slice(0, Math.max(prefix.lastIndexOf("/"), 0));
  await walk(start || "refs");
  const out: { ref: string; oid: string }[] = [];
  for (const ref of [...names].sort()) {
    const oid = await readRefValue(gitdir, ref);
    if (oid !== undefined && /^[0-9a-f]{40}$/.test(oid)) out.push({ ref, oid });
  }
  return out;
}

/**
 * Compiles a branch glob: `*` matches any characters except "/", `**` any characters including "/",
 * `?` one character except "/"; everything else literally. "pr/*" matches "pr/a" but not "pr/a/b";
 * "pr/**" matches both. Pure.
 */
export function refGlob(pattern: string): RegExp {
  let re = "";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === "*") {
      if (pattern[i + 1] === "*") {
        re += ".*";
        i++;
      } else re += "[^/]*";
    } else if (c === "?") re += "[^/]";
    else re += c.replace(/[.+^${}()|[\]\\]/g, "\\$&");
  }
  return new RegExp(`^${re}$`);
}
