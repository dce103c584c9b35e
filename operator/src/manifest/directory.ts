/**
 * `coxswain validate <DIR>`: the manifests of a plain directory on disk, read exactly as a commit is —
 * the same readManifestFiles, so the same decoding, symlink rule, limits and checks.
 */
import { open, readdir, readlink, stat } from "node:fs/promises";
import path from "node:path";
import { CoxError } from "../api/errors.js";
import { isReadPath, readManifestFiles, type LoadOptions, type SourceFile } from "./load.js";
import type { ManifestSet } from "./types.js";

/** A file found under a directory: its "/"-separated path relative to the directory, and whether it is a link. */
export interface ListedFile {
  path: string;
  symlink?: true;
}

/**
 * Lists what a reading looks at under dir, recursively, sorted by path: *.yaml and *.yml files, and every
 * symbolic link (which the reading refuses, as it does in a commit). Entries whose name starts with "."
 * are skipped (as isManifestPath does for repository paths), and so is anything that is neither a regular
 * file, a directory nor a link (a socket, a FIFO: Git cannot hold them). Directories are read one at a time.
 */
export async function listManifestFiles(dir: string): Promise<ListedFile[]> {
  const out: ListedFile[] = [];
  const walk = async (rel: string): Promise<void> => {
    const entries = await readdir(path.join(dir, rel), { withFileTypes: true });
    for (const e of entries) {
      if (e.name.startsWith(".")) continue;
      const child = rel === "" ? e.name : `${rel}/${e.name}`;
      if (e.isSymbolicLink()) out.push({ path: child, symlink: true });
      else if (e.isDirectory()) await walk(child);
      else if (e.isFile() && isReadPath(child, false)) out.push({ path: child });
    }
  };
  await walk("");
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/**
 * Reads a file on disk for readManifestFiles: opens it, learns its size from the open descriptor and reads
 * it only when it is at most maxBytes (a larger file is refused by size, unread). One descriptor per call,
 * closed before it resolves.
 */
async function readBounded(file: string, maxBytes: number): Promise<Uint8Array | { size: number }> {
  const handle = await open(file, "r");
  try {
    const { size } = await handle.stat();
    if (size > maxBytes) return { size };
    // Read up to one byte past the limit: a file that grew since the stat is still caught.
    const buf = Buffer.alloc(Math.min(size, maxBytes) + 1);
    let n = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buf, n, buf.length - n, n);
      if (bytesRead === 0) break;
      n += bytesRead;
      if (n === buf.length) break;
    }
    return n > maxBytes ? { size: n } : new Uint8Array(buf.buffer, buf.byteOffset, n);
  } finally {
    await handle.close();
  }
}

/**
 * Reads every manifest under dir (see listManifestFiles) with readManifestFiles: at most opts.concurrency
 * files open at once. Throws CoxError PathNotFound when dir does not exist or is not a directory.
 */
export async function validateDirectory(dir: string, opts: LoadOptions = {}): Promise<ManifestSet> {
  let isDir = false;
  try {
    isDir = (await stat(dir)).isDirectory();
  } catch (err) {
    throw new CoxError("PathNotFound", `${dir} does not exist; expected a directory of manifests`, { cause: err });
  }
  if (!isDir) throw new CoxError("PathNotFound", `${dir} is not a directory; expected a directory of manifests`);
  const files: SourceFile[] = (await listManifestFiles(dir)).map((f) => {
    const abs = path.join(dir, f.path);
    return {
      path: f.path,
      ...(f.symlink ? { symlink: true } : {}),
      read: (maxBytes: number) => readBounded(abs, maxBytes),
      linkTarget: () => readlink(abs),
    };
  });
  return readManifestFiles(files, opts);
}
