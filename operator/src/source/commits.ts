/**
 * Writes of a GitRepository (source/repository.ts): commits of a set of files or of a tree by coxswain, and
 * refs moved under their mutex and git's `.lock` protocol (refs.ts); where a branch is checked out.
 */
import { promises as fsp } from "node:fs";
import { dirname, join, sep } from "node:path";
import * as git from "isomorphic-git";
import { CoxError, isCoxError } from "../api/errors.js";
import { gitFs as fs } from "./fs.js";
import { RepositoryTrees } from "./raw-trees.js";
import { assertRefName } from "./refs.js";
import type { TreeFile } from "./types.js";

/** The commits and ref moves of a GitRepository. */
export class RepositoryCommits extends RepositoryTrees {
  /**
   * Builds a tree from flat "a/b/c.yaml" paths (blob and tree objects only, no work tree), commits it as
   * coxswain on top of `parent` (undefined = the ref's tip or a root commit, null = a root commit) and
   * moves `ref` there under the ref's mutex and git's lock protocol. Undefined, and no commit, when the
   * tree equals the parent's tree.
   */
  async commitFiles(opts: { ref: string; files: readonly TreeFile[]; message: string; parent?: string | null }): Promise<string | undefined> {
    assertRefName(opts.ref);
    const root = buildDirectory(opts.files);
    return this.locks.refs.run(opts.ref, () =>
      this.locks.gate.shared(async () => {
        const current = await this.readRef(opts.ref);
        const parent = opts.parent === undefined ? current : (opts.parent ?? undefined);
        const tree = await this.writeDirectory(root);
        if (parent !== undefined) {
          const p = await this.mustReadCommit(parent);
          if (p.commit.tree === tree) {
            // Same content as the parent. If the caller rebased us onto another parent, the ref still moves there.
            if (current !== parent) await this.moveRef(opts.ref, parent, current);
            return undefined;
          }
        }
        const oid = await this.writeCommitObject(tree, parent === undefined ? [] : [parent], opts.message);
        await this.moveRef(opts.ref, oid, current);
        return oid;
      }),
    );
  }

  /** The local tip of a full ref name. */
  async tip(ref: string): Promise<string | undefined> {
    return this.readRef(ref);
  }

  /** Moves one of our refs to oid (which must be a commit we have). */
  async setRef(ref: string, oid: string): Promise<void> {
    assertRefName(ref);
    await this.mustReadCommit(oid);
    await this.locks.refs.run(ref, () =>
      this.locks.gate.shared(async () => {
        const current = await this.readRef(ref);
        if (current !== oid) await this.moveRef(ref, oid, current);
      }),
    );
  }

  /**
   * Commits `tree` with `parents` as coxswain and moves `ref` there — only if `ref` still points at
   * `expected` (undefined: must not exist), and only as a fast-forward (`expected` must be one of the
   * parents). Runs under the ref's mutex and git's lock-file protocol, so neither another coxswain writer
   * nor the git CLI can interleave. When the ref moved meanwhile: CoxError GitPushRejected (details:
   * expected, found) — rebuild on the new tip and try again.
   */
  async commitTree(opts: { ref: string; tree: string; parents: readonly string[]; message: string; expected: string | undefined }): Promise<string> {
    assertRefName(opts.ref);
    if (opts.expected !== undefined && !opts.parents.includes(opts.expected)) {
      throw new CoxError("InvalidArgument", `commit on ${opts.ref} would not fast-forward it: ${opts.expected} is not among its parents`);
    }
    return this.locks.refs.run(opts.ref, () =>
      this.locks.gate.shared(async () => {
        const current = await this.readRef(opts.ref);
        if (current !== opts.expected) throw refMoved(opts.ref, opts.expected, current);
        for (const p of opts.parents) await this.mustReadCommit(p);
        const oid = await this.writeCommitObject(opts.tree, [...opts.parents], opts.message);
        try {
          await this.moveRef(opts.ref, oid, opts.expected);
        } catch (err) {
          if (isCoxError(err, "StatusWriteFailed") && err.details && "found" in err.details) {
            throw refMoved(opts.ref, opts.expected, err.details.found as string | undefined);
          }
          throw err;
        }
        return oid;
      }),
    );
  }

  /**
   * Where `ref` (refs/heads/<b>) is checked out: the work tree of a non-bare repository whose HEAD names
   * it, or a linked worktree's (gitdir/worktrees/<w>/HEAD). Undefined when no work tree has it checked
   * out (a bare repository, a mirror, or another branch checked out).
   */
  async checkedOutAt(ref: string): Promise<string | undefined> {
    if (this.remote) return undefined;
    const headOf = async (dir: string): Promise<string | undefined> => {
      const text = await fsp.readFile(join(dir, "HEAD"), "utf8").catch(() => undefined);
      const m = /^ref:\s*(\S+)\s*$/.exec(text ?? "");
      return m?.[1];
    };
    const bare = await git.getConfig({ fs, gitdir: this.gitdir, path: "core.bare" }).catch(() => undefined);
    const isBare = bare === true || bare === "true" || (bare === undefined && !this.gitdir.endsWith(`${sep}.git`));
    if (!isBare && (await headOf(this.gitdir)) === ref) return dirname(this.gitdir);
    let worktrees: string[] = [];
    try {
      worktrees = await fsp.readdir(join(this.gitdir, "worktrees"));
    } catch {
      // no linked worktrees
    }
    for (const w of worktrees.sort()) {
      const dir = join(this.gitdir, "worktrees", w);
      if ((await headOf(dir)) !== ref) continue;
      const where = await fsp.readFile(join(dir, "gitdir"), "utf8").catch(() => "");
      return where.trim() ? dirname(where.trim()) : dir;
    }
    return undefined;
  }

  /**
   * Writes a directory's blobs and trees bottom-up and returns the tree oid. Objects are hashed here first
   * and written only when this repository object has not seen them recently, so re-committing a large
   * status tree with one changed file writes one blob and the trees above it (330 ms → a few ms for
   * 1,000 files). "Recently" stays far below git gc's two-week grace for unreachable objects.
   */
  private async writeDirectory(dir: Directory): Promise<string> {
    const names = [...dir.keys()];
    const entries = await mapLimit(names, 32, async (name) => {
      const node = dir.get(name)!;
      if (typeof node === "string") return { name, tree: false, oid: await this.ensureObject("blob", Buffer.from(node, "utf8")) };
      return { name, tree: true, oid: await this.writeDirectory(node) };
    });
    // git's tree order: byte order of names, a directory compared as "name/".
    const key = (e: { name: string; tree: boolean }): Buffer => Buffer.from(e.tree ? `${e.name}/` : e.name, "utf8");
    entries.sort((x, y) => Buffer.compare(key(x), key(y)));
    const body = Buffer.concat(entries.flatMap((e) => [Buffer.from(`${e.tree ? "40000" : "100644"} ${e.name}\0`, "utf8"), Buffer.from(e.oid, "hex")]));
    return this.ensureObject("tree", body);
  }
}

/** A directory being built: name → file content or subdirectory. */
type Directory = Map<string, Directory | string>;

/** Nests flat "a/b/c.yaml" paths; rejects empty, absolute, "."/".." segments and a path used as both file and directory. */
export function buildDirectory(files: readonly TreeFile[]): Directory {
  const root: Directory = new Map();
  for (const f of files) {
    const parts = f.path.split("/");
    if (parts.some((p) => p === "" || p === "." || p === ".." || p === ".git")) {
      throw new CoxError("InvalidArgument", `invalid tree path ${JSON.stringify(f.path)}: expected a relative path like "a/b/c.yaml" without empty, ".", ".." or ".git" segments`);
    }
    let dir = root;
    for (const [i, part] of parts.entries()) {
      const last = i === parts.length - 1;
      const existing = dir.get(part);
      if (last) {
        if (existing !== undefined) throw new CoxError("InvalidArgument", `tree path ${JSON.stringify(f.path)} is given twice or is also a directory`);
        dir.set(part, f.content);
      } else if (existing === undefined) {
        const sub: Directory = new Map();
        dir.set(part, sub);
        dir = sub;
      } else if (typeof existing === "string") {
        throw new CoxError("InvalidArgument", `tree path ${JSON.stringify(f.path)} needs ${JSON.stringify(parts.slice(0, i + 1).join("/"))} as a directory, but it is a file`);
      } else dir = existing;
    }
  }
  return root;
}

function refMoved(ref: string, expected: string | undefined, found: string | undefined): CoxError {
  return new CoxError("GitPushRejected", `${ref} moved while coxswain was committing on it (expected ${expected ?? "no ref"}, found ${found ?? "no ref"}); rebuild on the new tip`, { details: { ref, expected, found } });
}

async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  });
  await Promise.all(workers);
  return out;
}
