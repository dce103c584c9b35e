/**
 * Opening a repository: one on disk in place (its gitdir found from a bare repository, a work tree, or a
 * submodule's .git file), or a remote one mirrored over smart HTTP under the state dir (cloned once into a
 * temporary directory renamed into place, checked and reused afterwards). Reached through index.ts.
 */
import { randomBytes } from "node:crypto";
import { promises as fsp } from "node:fs";
import { dirname, isAbsolute, join, resolve as resolvePath } from "node:path";
import * as git from "isomorphic-git";
import { CoxError } from "../api/errors.js";
import type { Logger } from "../api/log.js";
import { gitFs as fs } from "./fs.js";
import { GitRepository } from "./repository.js";
import type { Repository } from "./types.js";
import { mirrorPath, parseRepoLocation, type GitCredentials } from "./url.js";

/** Options of openRepository. */
export interface OpenRepositoryOptions {
  /** A path (bare repository, or a work tree whose .git is a directory) or an http(s) URL, possibly with user:pass@. */
  repo: string;
  /** Where mirrors of remote repositories live (`<stateDir>/mirrors/<hash>.git`); required for URLs. */
  stateDir: string;
  /** Deadline of each HTTP request of clone, fetch and push (default 30 s). */
  timeoutMs?: number;
  /** Basic-auth credentials; credentials in the URL take precedence. */
  auth?: GitCredentials;
  /** For a URL: also mirror the remote's pull/merge request heads (refs/pull/<n>/head, refs/merge-requests/<n>/head). */
  pullRequests?: boolean;
  /** Where the repair of a damaged mirror is told. */
  log?: Logger;
}

/**
 * Opens a repository. On disk, the gitdir is opened directly (no copy); a path that is not a Git
 * repository → CoxError RepoNotFound. For an http(s) URL, a bare mirror is cloned on first open (full
 * history, no checkout; into a temporary directory renamed into place, so a half-finished clone is never
 * taken for a mirror) and reused afterwards — its objects checked first, and a damaged mirror repaired by the
 * first refresh() (source/repair.ts); refresh() fetches. Credentials never reach `location`, the
 * mirror's config, file names or messages.
 */
export async function openRepository(opts: OpenRepositoryOptions): Promise<Repository> {
  const where = parseRepoLocation(opts.repo);
  if (where.kind === "local") {
    const gitdir = await findGitdir(where.path);
    return new GitRepository({ gitdir, location: where.path, ...(opts.timeoutMs ? { timeoutMs: opts.timeoutMs } : {}) });
  }
  if (!opts.stateDir) throw new CoxError("InvalidArgument", "a state directory is required to mirror a remote repository");
  const credentials = where.credentials ?? opts.auth;
  const path = mirrorPath(resolvePath(opts.stateDir), where.url);
  const base = {
    location: where.url,
    url: where.url,
    ...(credentials ? { credentials } : {}),
    ...(opts.timeoutMs ? { timeoutMs: opts.timeoutMs } : {}),
    ...(opts.pullRequests ? { pullRequests: true } : {}),
    ...(opts.log ? { log: opts.log } : {}),
  };
  if (await isGitdir(path)) {
    const mirror = new GitRepository({ gitdir: await fsp.realpath(path), ...base });
    await mirror.checkOnOpen();
    return mirror;
  }

  await fsp.mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`;
  try {
    await git.init({ fs, dir: tmp, bare: true, defaultBranch: "main" });
    await git.setConfig({ fs, gitdir: tmp, path: "remote.origin.url", value: where.url });
    await git.setConfig({ fs, gitdir: tmp, path: "remote.origin.fetch", value: "+refs/heads/*:refs/remotes/origin/*" });
    const cloning = new GitRepository({ gitdir: tmp, ...base });
    await cloning.initialFetch();
    if (opts.pullRequests) await cloning.refresh();
    try {
      await fsp.rename(tmp, path);
    } catch (err) {
      // Another process finished the same clone first: use theirs.
      if (!(await isGitdir(path))) throw err;
    }
  } finally {
    await fsp.rm(tmp, { recursive: true, force: true });
  }
  return new GitRepository({ gitdir: await fsp.realpath(path), ...base });
}

/** The gitdir of a path: the path itself when it is a (bare) gitdir, else its .git directory (or the gitdir a .git file names). */
async function findGitdir(path: string): Promise<string> {
  const abs = isAbsolute(path) ? path : resolvePath(path);
  const st = await fsp.stat(abs).catch(() => undefined);
  if (!st) throw new CoxError("RepoNotFound", `${path} does not exist; expected a Git repository (bare, or a work tree with a .git directory)`);
  if (!st.isDirectory()) throw new CoxError("RepoNotFound", `${path} is a file; expected a Git repository directory`);
  if (await isGitdir(abs)) return fsp.realpath(abs);
  const dotgit = join(abs, ".git");
  const dst = await fsp.stat(dotgit).catch(() => undefined);
  if (dst?.isDirectory() && (await isGitdir(dotgit))) return fsp.realpath(dotgit);
  if (dst?.isFile()) {
    // A submodule's .git file points at a full gitdir; a linked worktree's points at one with a
    // `commondir` (objects and refs elsewhere), which isomorphic-git cannot read.
    const text = await fsp.readFile(dotgit, "utf8");
    const m = /^gitdir:\s*(.+?)\s*$/m.exec(text);
    if (m) {
      const target = resolvePath(abs, m[1]!);
      const linked = await fsp.stat(join(target, "commondir")).catch(() => undefined);
      if (!linked && (await isGitdir(target))) return fsp.realpath(target);
      if (linked) throw new CoxError("RepoNotFound", `${path} is a linked worktree (its .git file points at ${target}); point --repo at the main repository instead`);
    }
  }
  throw new CoxError("RepoNotFound", `${path} is not a Git repository: it is neither a gitdir (HEAD, objects/, refs/) nor a work tree with a .git directory`);
}

/** True when dir looks like a gitdir: a HEAD file and objects/ and refs/ directories. */
async function isGitdir(dir: string): Promise<boolean> {
  const [head, objects, refs] = await Promise.all(["HEAD", "objects", "refs"].map((n) => fsp.stat(join(dir, n)).catch(() => undefined)));
  return !!head?.isFile() && !!objects?.isDirectory() && !!refs?.isDirectory();
}
