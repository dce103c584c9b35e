/**
 * The file system handed to isomorphic-git. It is node:fs except that every file write goes to a
 * temporary file in the same directory and is renamed into place. isomorphic-git writes loose objects and
 * refs in place (truncate, then write), and the git CLI working on the same repository at that moment
 * (gc, fsck, a ref read) then sees an empty object ("object file … is empty") or an empty ref. A rename is
 * atomic: readers see the old file or the whole new one. Writes also survive `git prune-packed` removing
 * an object directory between mkdir and open. Directory listings hide those temporary files: isomorphic-git
 * lists refs by reading directories (unlike git, it does not skip dot files), so a fetch that lists refs
 * while a ref is being written would otherwise see "refs/notes/.coxswain-tmp-…" and fail on the name.
 */
import { randomBytes } from "node:crypto";
import { promises as fsp } from "node:fs";
import { basename, dirname, join } from "node:path";

type WriteData = Parameters<typeof fsp.writeFile>[1];
type WriteOptions = Parameters<typeof fsp.writeFile>[2];

/** Prefix of the temporary files of writeFileAtomic. */
export const TMP_PREFIX = ".coxswain-tmp-";

/** fs.readdir without writeFileAtomic's temporary files (names, or Dirents with `withFileTypes`). */
async function readdirHidingTemporaries(path: string, options?: unknown): Promise<unknown[]> {
  const entries = (await fsp.readdir(path, options as never)) as unknown[];
  return entries.filter((e) => !(typeof e === "string" ? e : String((e as { name: unknown }).name)).startsWith(TMP_PREFIX));
}

/** Writes `data` to `path` through a temporary sibling and a rename; creates missing directories. */
export async function writeFileAtomic(path: string, data: WriteData, options?: WriteOptions): Promise<void> {
  // A leading dot: git never takes such a file for a ref or an object while it exists (and readdir hides it).
  const tmp = join(dirname(path), `${TMP_PREFIX}${basename(path)}-${process.pid}-${randomBytes(4).toString("hex")}`);
  for (let attempt = 0; ; attempt++) {
    try {
      await fsp.writeFile(tmp, data, options);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT" || attempt >= 5) {
        // A write cut short (ENOSPC on a full disk, EIO) leaves part of the file behind: hidden from every
        // listing, it would hold its blocks for ever, and each retry on a full disk would add another.
        await fsp.rm(tmp, { force: true }).catch(() => undefined);
        throw err;
      }
      await fsp.mkdir(dirname(path), { recursive: true });
    }
  }
  try {
    await fsp.rename(tmp, path);
  } catch (err) {
    await fsp.rm(tmp, { force: true });
    throw err;
  }
}

/** A promise-style fs client for isomorphic-git with atomic writes (see the module comment). */
export const gitFs = {
  promises: {
    readFile: fsp.readFile.bind(fsp),
    writeFile: writeFileAtomic,
    mkdir: fsp.mkdir.bind(fsp),
    rmdir: fsp.rmdir.bind(fsp),
    rm: fsp.rm.bind(fsp),
    unlink: fsp.unlink.bind(fsp),
    stat: fsp.stat.bind(fsp),
    lstat: fsp.lstat.bind(fsp),
    readdir: readdirHidingTemporaries,
    readlink: fsp.readlink.bind(fsp),
    symlink: fsp.symlink.bind(fsp),
    chmod: fsp.chmod.bind(fsp),
  },
};
