/**
 * Trees of a GitRepository (source/repository.ts) byte for byte, for commits that keep every other entry
 * exactly (the deploy branch's reverts and the API's writes): entries as stored, diffs of entries, tree edits
 * and blobs written. The tree objects themselves are parsed and serialized by trees.ts.
 */
import * as git from "isomorphic-git";
import { CoxError } from "../api/errors.js";
import { byPath, missingObject } from "./base.js";
import { isNotFound } from "./errors.js";
import { gitFs as fs } from "./fs.js";
import { RepositoryReads } from "./read.js";
import { editSegments, entryType, parseTreeObject, serializeTreeObject, type RawTreeEntry, type TreeEdit } from "./trees.js";
import type { TreeEntryChange, TreeItem } from "./types.js";

/** The tree every repository knows (git special-cases it; so does isomorphic-git). */
const EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904";

/** The byte-exact tree reads and writes of a GitRepository. */
export class RepositoryTrees extends RepositoryReads {
  /** The root tree oid of a commit. */
  async treeOf(commit: string): Promise<string> {
    return (await this.mustReadCommit(commit)).commit.tree;
  }

  /** A tree's entries as stored (modes and names not normalized), in git's order; `oid` may name a commit. */
  async readTreeEntries(oid: string): Promise<TreeItem[]> {
    return (await this.readRawTree(oid)).map((e) => ({ path: e.name.toString("utf8"), mode: e.mode, oid: e.oid, type: entryType(e.mode) }));
  }

  /** The entry at `path` ("a/b.yaml") in a tree (or a commit's tree); undefined when there is none. */
  async entryAt(treeOrCommit: string, path: string): Promise<TreeItem | undefined> {
    const segments = editSegments(path);
    let tree = treeOrCommit;
    for (const [i, segment] of segments.entries()) {
      const name = Buffer.from(segment, "utf8");
      const e = (await this.readRawTree(tree)).find((x) => x.name.equals(name));
      if (!e) return undefined;
      if (i === segments.length - 1) return { path, mode: e.mode, oid: e.oid, type: entryType(e.mode) };
      if (entryType(e.mode) !== "tree") return undefined;
      tree = e.oid;
    }
    return undefined;
  }

  /**
   * Every path whose entry differs between two trees (or commits): content, mode or type; subtrees with
   * equal oids are skipped. Sorted by path. A path that is a file on one side and a directory on the other
   * yields the file's change and every file of the directory.
   */
  async diffTreeEntries(from: string | undefined, to: string | undefined): Promise<TreeEntryChange[]> {
    const out: TreeEntryChange[] = [];
    const [a, b] = await Promise.all([from === undefined ? undefined : this.rootTree(from), to === undefined ? undefined : this.rootTree(to)]);
    await this.diffRaw(a, b, "", out);
    return out.sort(byPath);
  }

  private async diffRaw(a: string | undefined, b: string | undefined, base: string, out: TreeEntryChange[]): Promise<void> {
    if (a === b) return;
    const [ta, tb] = await Promise.all([a ? this.readRawTree(a) : [], b ? this.readRawTree(b) : []]);
    const key = (e: RawTreeEntry): string => e.name.toString("latin1");
    const before = new Map(ta.map((e) => [key(e), e]));
    const after = new Map(tb.map((e) => [key(e), e]));
    const subtrees: Promise<void>[] = [];
    for (const k of new Set([...before.keys(), ...after.keys()])) {
      const x = before.get(k);
      const y = after.get(k);
      const name = (x ?? y)!.name.toString("utf8");
      if (x && y && x.oid === y.oid && x.mode === y.mode) continue;
      const xt = x && entryType(x.mode) === "tree" ? x : undefined;
      const yt = y && entryType(y.mode) === "tree" ? y : undefined;
      const xf = x && !xt ? x : undefined;
      const yf = y && !yt ? y : undefined;
      if (xf || yf) {
        const change: TreeEntryChange = { path: base + name };
        if (xf) change.before = { oid: xf.oid, mode: xf.mode };
        if (yf) change.after = { oid: yf.oid, mode: yf.mode };
        if (!(xf && yf && xf.oid === yf.oid && xf.mode === yf.mode)) out.push(change);
      }
      if (xt || yt) subtrees.push(this.diffRaw(xt?.oid, yt?.oid, `${base}${name}/`, out));
    }
    await Promise.all(subtrees);
  }

  /** Stores a blob (under the object gate, as trees are) and returns its oid. */
  async writeBlob(content: Uint8Array): Promise<string> {
    return this.locks.gate.shared(() => this.ensureObject("blob", Buffer.from(content.buffer, content.byteOffset, content.byteLength)));
  }

  /**
   * Writes the tree that results from applying `edits` to `base` (a tree or commit oid; undefined = the
   * empty tree) and returns its oid. Only the trees on edited paths are rewritten; every other entry keeps
   * its bytes (mode, name, oid). A directory left empty disappears, as git cannot store one.
   */
  async editTree(base: string | undefined, edits: readonly TreeEdit[]): Promise<string> {
    interface Node {
      entry?: { oid: string; mode: string } | null;
      children: Map<string, Node>;
    }
    const root: Node = { children: new Map() };
    for (const edit of edits) {
      let node = root;
      const segments = editSegments(edit.path);
      for (const [i, segment] of segments.entries()) {
        let child = node.children.get(segment);
        if (!child) node.children.set(segment, (child = { children: new Map() }));
        if (i === segments.length - 1) {
          if (child.entry !== undefined || child.children.size > 0) throw new CoxError("InvalidArgument", `tree edit ${JSON.stringify(edit.path)} is given twice or is also a directory`);
          child.entry = edit.entry ?? null;
        } else if (child.entry !== undefined) {
          throw new CoxError("InvalidArgument", `tree edit ${JSON.stringify(edit.path)} needs ${JSON.stringify(segments.slice(0, i + 1).join("/"))} as a directory, but it is edited as a file`);
        }
        node = child;
      }
    }
    const apply = async (tree: string | undefined, node: Node): Promise<string | undefined> => {
      const entries = new Map<string, RawTreeEntry>();
      for (const e of tree ? await this.readRawTree(tree) : []) entries.set(e.name.toString("latin1"), e);
      for (const [segment, child] of node.children) {
        const name = Buffer.from(segment, "utf8");
        const k = name.toString("latin1");
        const existing = entries.get(k);
        if (child.entry !== undefined) {
          if (child.entry === null) entries.delete(k);
          else entries.set(k, { mode: child.entry.mode, name, oid: child.entry.oid });
          continue;
        }
        const sub = existing && entryType(existing.mode) === "tree" ? existing.oid : undefined;
        const next = await apply(sub, child);
        if (next === undefined) entries.delete(k);
        else entries.set(k, { mode: sub !== undefined ? existing!.mode : "40000", name, oid: next });
      }
      if (entries.size === 0) return undefined;
      return this.ensureObject("tree", serializeTreeObject([...entries.values()]));
    };
    return this.locks.gate.shared(async () => (await apply(base === undefined ? undefined : await this.rootTree(base), root)) ?? (await this.ensureObject("tree", Buffer.alloc(0))));
  }

  private async rootTree(oid: string): Promise<string> {
    const { type } = await this.readObjectContent(oid);
    return type === "tree" ? oid : this.treeOf(oid);
  }

  private async readRawTree(oid: string): Promise<RawTreeEntry[]> {
    const { type, object } = await this.readObjectContent(oid);
    if (type === "commit") return this.readRawTree(await this.treeOf(oid));
    if (type !== "tree") throw new CoxError("InvalidArgument", `${oid} is a ${type}, expected a tree or a commit`);
    return parseTreeObject(object);
  }

  private async readObjectContent(oid: string): Promise<{ type: string; object: Uint8Array }> {
    if (oid === EMPTY_TREE) return { type: "tree", object: new Uint8Array(0) };
    try {
      const r = await this.withFreshCacheRetry(() => git.readObject({ fs, gitdir: this.gitdir, cache: this.cache, oid, format: "content" }));
      return { type: r.type, object: r.object as Uint8Array };
    } catch (err) {
      if (isNotFound(err)) throw missingObject("object", oid, this.location, err);
      throw this.damaged(err, `object ${oid} cannot be read`) ?? err;
    }
  }
}
