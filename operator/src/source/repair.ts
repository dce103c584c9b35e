/**
 * Checking a mirror's objects on disk, for the repair of a damaged mirror (repository.ts). A mirror is a
 * cache of its remote: a pack cut short by a crash or a full disk, a loose object left empty, a pack whose
 * index is gone — each is found here and removed, and the repository fetches everything again. isomorphic-git
 * cannot do without this: it trusts an index over its pack (a truncated pack throws "Packfile trailer
 * mismatch" on every read, for ever), and a fetch asks only for what the refs lack, so a missing object below
 * a tip it still has never comes back by itself.
 */
import { createHash } from "node:crypto";
import { createReadStream, promises as fsp } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { inflate } from "node:zlib";

const inflateAsync = promisify(inflate);

/** What checkObjects found wrong and removed, as paths below the gitdir ("objects/pack/pack-….pack"). */
export interface ObjectCheck {
  removed: string[];
  /** Objects and packs looked at. */
  checked: number;
}

/**
 * Checks every pack (its trailing SHA-1 over the whole file, and that its index exists and names the same
 * checksum) and every loose object under `gitdir`, and removes what is damaged: a bad pack with its index,
 * an index without its pack, a bad loose object. `loose: "full"` inflates each loose object and checks it
 * hashes to its name; "empty" (the check when a mirror is opened: thousands of status objects cost seconds
 * to inflate) only looks for the empty files a crash leaves — a read finds the rest. Sorted paths.
 */
export async function checkObjects(gitdir: string, opts: { loose: "full" | "empty" }): Promise<ObjectCheck> {
  const removed: string[] = [];
  let checked = 0;
  const packDir = join(gitdir, "objects", "pack");
  const names = await fsp.readdir(packDir).catch(() => [] as string[]);
  for (const name of names.filter((n) => n.endsWith(".pack")).sort()) {
    checked++;
    const base = name.slice(0, -".pack".length);
    if (await packIsSound(join(packDir, name), join(packDir, `${base}.idx`))) continue;
    for (const ext of [".pack", ".idx", ".rev", ".keep"]) {
      if (names.includes(base + ext)) {
        await fsp.rm(join(packDir, base + ext), { force: true });
        removed.push(`objects/pack/${base}${ext}`);
      }
    }
  }
  // An index whose pack is gone makes isomorphic-git look for objects it cannot read.
  for (const name of names.filter((n) => n.endsWith(".idx")).sort()) {
    if (names.includes(`${name.slice(0, -".idx".length)}.pack`)) continue;
    await fsp.rm(join(packDir, name), { force: true });
    removed.push(`objects/pack/${name}`);
  }
  const objects = join(gitdir, "objects");
  for (const dir of (await fsp.readdir(objects).catch(() => [] as string[])).filter((d) => /^[0-9a-f]{2}$/.test(d)).sort()) {
    for (const file of (await fsp.readdir(join(objects, dir)).catch(() => [] as string[])).sort()) {
      if (!/^[0-9a-f]{38}$/.test(file)) continue;
      checked++;
      const path = join(objects, dir, file);
      if (opts.loose === "full" ? await looseIsSound(path, dir + file) : ((await fsp.stat(path).catch(() => undefined))?.size ?? 0) > 0) continue;
      await fsp.rm(path, { force: true });
      removed.push(`objects/${dir}/${file}`);
    }
  }
  return { removed: removed.sort(), checked };
}

/** A pack is sound when its last 20 bytes are the SHA-1 of the rest and its index ends with the same checksum. */
async function packIsSound(packPath: string, idxPath: string): Promise<boolean> {
  const [pack, idx] = await Promise.all([fsp.stat(packPath).catch(() => undefined), fsp.readFile(idxPath).catch(() => undefined)]);
  if (!pack || !idx || pack.size < 32 || idx.length < 48) return false;
  const trailer = Buffer.alloc(20);
  const fh = await fsp.open(packPath, "r");
  try {
    await fh.read(trailer, 0, 20, pack.size - 20);
  } finally {
    await fh.close();
  }
  if (!trailer.equals(idx.subarray(idx.length - 40, idx.length - 20))) return false;
  const hash = createHash("sha1");
  for await (const chunk of createReadStream(packPath, { start: 0, end: pack.size - 21 })) hash.update(chunk as Buffer);
  return hash.digest().equals(trailer);
}

/** A loose object is sound when it inflates to "type size\0body" whose SHA-1 is its name. */
async function looseIsSound(path: string, oid: string): Promise<boolean> {
  try {
    const body = await inflateAsync(await fsp.readFile(path));
    const nul = body.indexOf(0);
    if (nul < 0 || !/^(blob|tree|commit|tag) \d+$/.test(body.subarray(0, nul).toString("latin1"))) return false;
    return createHash("sha1").update(body).digest("hex") === oid;
  } catch {
    return false;
  }
}

/**
 * True for an error that says the objects on disk are damaged rather than absent or unreachable: zlib's
 * data errors (pako's "Invalid compressed buffer" for an emptied loose object), isomorphic-git's internal
 * errors about packs ("Packfile trailer mismatch", "The packfile may be corrupted"), a SHA-1 that does not
 * match, a read past the end of a file cut short.
 */
export function isDamage(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown; name?: unknown } | undefined;
  const code = typeof e?.code === "string" ? e.code : "";
  const message = typeof e?.message === "string" ? e.message : "";
  if (code.startsWith("Z_") || code === "ERR_OUT_OF_RANGE" || e?.name === "RangeError") return true;
  if (code === "InternalError" || code === "")
    return /corrupt|trailer mismatch|SHA-?1|checksum|incorrect header check|unexpected end of file|invalid (?:stored block|distance|code|compressed buffer)|buffer error/i.test(message);
  return false;
}
