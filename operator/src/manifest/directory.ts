/**
 * `coxswain validate <DIR>`: the manifests of a plain directory on disk, checked exactly as a commit is.
 */
import { readFile, readdir, stat } from "node:fs/promises";
import path from "node:path";
import { CoxError } from "../api/errors.js";
import { isManifestPath, loadManifests, type LoadOptions } from "./load.js";
import type { ManifestFile, ManifestSet } from "./types.js";

/**
 * Lists the manifest files under dir, recursively, as "/"-separated paths relative to dir, sorted.
 * Entries whose name starts with "." are skipped (as isManifestPath does for repository paths), and so are
 * symbolic links: a commit holds a link as a link, never as the file it points to.
 */
export async function listManifestFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (rel: string): Promise<void> => {
    const entries = await readdir(path.join(dir, rel), { withFileTypes: true });
    for (const e of entries) {
      if (e.name.startsWith(".")) continue;
      const child = rel === "" ? e.name : `${rel}/${e.name}`;
      if (e.isDirectory()) await walk(child);
      else if (e.isFile() && isManifestPath(child)) out.push(child);
    }
  };
  await walk("");
  return out.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/**
 * Reads every *.yaml / *.yml file under dir (see listManifestFiles) and runs loadManifests on them.
 * Throws CoxError PathNotFound when dir does not exist or is not a directory.
 */
export async function validateDirectory(dir: string, opts: LoadOptions = {}): Promise<ManifestSet> {
  let isDir = false;
  try {
    isDir = (await stat(dir)).isDirectory();
  } catch (err) {
    throw new CoxError("PathNotFound", `${dir} does not exist; expected a directory of manifests`, { cause: err });
  }
  if (!isDir) throw new CoxError("PathNotFound", `${dir} is not a directory; expected a directory of manifests`);
  const paths = await listManifestFiles(dir);
  const files: ManifestFile[] = await Promise.all(paths.map(async (p) => ({ path: p, content: await readFile(path.join(dir, p)) })));
  return loadManifests(files, opts);
}
