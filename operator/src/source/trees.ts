/**
 * Git tree objects at the byte level, for commits that must preserve every other file exactly (revert
 * commits on the deploy branch). isomorphic-git's tree reader normalizes modes (an old "100664" becomes
 * "100644") and decodes names as UTF-8, so a tree rewritten through it could differ from the original in
 * entries nobody touched. Here entries keep their raw mode and name bytes, and only the trees on an edited
 * path are re-serialized; every other subtree keeps its oid. Pure.
 */
import { CoxError } from "../api/errors.js";

/** One entry of a tree object, as stored: raw mode text, raw name bytes, oid. */
export interface RawTreeEntry {
  /** Mode as git wrote it: "100644", "100755", "120000", "40000" (a tree), "160000" (a submodule), … */
  mode: string;
  /** The name's bytes (git does not require UTF-8). */
  name: Buffer;
  oid: string;
}

/** What an entry is, from its mode: "tree" for 40000, "commit" for a submodule (160000), else "blob". */
export function entryType(mode: string): "blob" | "tree" | "commit" {
  const m = mode.replace(/^0+/, "");
  if (m === "40000") return "tree";
  if (m === "160000") return "commit";
  return "blob";
}

/** Parses a tree object's content ("<mode> <name>\0<20-byte oid>"…); InvalidArgument when it is malformed. */
export function parseTreeObject(content: Uint8Array): RawTreeEntry[] {
  const buf = Buffer.from(content.buffer, content.byteOffset, content.byteLength);
  const out: RawTreeEntry[] = [];
  let i = 0;
  while (i < buf.length) {
    const space = buf.indexOf(0x20, i);
    const nul = space < 0 ? -1 : buf.indexOf(0x00, space + 1);
    if (space < 0 || nul < 0 || nul + 21 > buf.length) throw new CoxError("InvalidArgument", "malformed tree object: expected <mode> <name>\\0<oid> entries");
    out.push({ mode: buf.subarray(i, space).toString("latin1"), name: Buffer.from(buf.subarray(space + 1, nul)), oid: buf.subarray(nul + 1, nul + 21).toString("hex") });
    i = nul + 21;
  }
  return out;
}

/** Serializes entries in git's tree order (see compareTreeEntries); the inverse of parseTreeObject for a sorted tree. */
export function serializeTreeObject(entries: readonly RawTreeEntry[]): Buffer {
  const sorted = [...entries].sort(compareTreeEntries);
  for (let k = 1; k < sorted.length; k++) {
    if (sorted[k - 1]!.name.equals(sorted[k]!.name)) {
      throw new CoxError("InvalidArgument", `tree entry ${JSON.stringify(sorted[k]!.name.toString("utf8"))} is given twice`);
    }
  }
  return Buffer.concat(sorted.flatMap((e) => [Buffer.from(`${e.mode} `, "latin1"), e.name, Buffer.from([0]), Buffer.from(e.oid, "hex")]));
}

/** git's tree order: byte order of the names, a tree's name compared as if it ended with "/". */
function compareTreeEntries(a: RawTreeEntry, b: RawTreeEntry): number {
  const key = (e: RawTreeEntry): Buffer => (entryType(e.mode) === "tree" ? Buffer.concat([e.name, Buffer.from("/")]) : e.name);
  return Buffer.compare(key(a), key(b));
}

/** A change of one path in a tree edit: set it to a blob (or symlink, or submodule) with a mode, or remove it. */
export interface TreeEdit {
  /** "/"-separated path from the tree's root (UTF-8). */
  path: string;
  /** The new entry; undefined removes the path. */
  entry?: { oid: string; mode: string };
}

/** Splits an edit path into segments; InvalidArgument for empty, ".", ".." or ".git" segments. */
export function editSegments(path: string): string[] {
  const parts = path.split("/");
  if (parts.some((p) => p === "" || p === "." || p === ".." || p === ".git")) {
    throw new CoxError("InvalidArgument", `invalid tree path ${JSON.stringify(path)}: expected a relative path like "a/b.yaml"`);
  }
  return parts;
}
