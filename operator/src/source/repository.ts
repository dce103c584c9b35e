/**
 * One Git repository, reached through isomorphic-git: a gitdir on disk (the user's repository, opened in
 * place) or a bare mirror of a remote one under the state dir. Implements GitReader, GitWriter and
 * Repository (source/types.ts) with isomorphic-git's pitfalls (measured on these machines) kept in mind:
 * - one `cache` object per repository passed to every call, replaced when a repack removed packs;
 * - every network call goes through an HTTP client with a per-request deadline (GitTimeout);
 * - fetch moves refs/remotes/origin/*, never local branches;
 * - one writer per repository (process-wide, keyed by the real gitdir) with a per-ref mutex, and ref
 *   updates under git's own `.lock` protocol so the git CLI can write other refs concurrently;
 * - diffs walk both trees together and never read a subtree whose oid is equal on both sides.
 *
 * Its parts, each a class extending the one before: base.ts (options, locks, caches, refs and commits read,
 * objects written), read.ts (files and history at a commit), raw-trees.ts (trees byte for byte), commits.ts
 * (commits and refs written), notes.ts (git notes), fetch.ts (a mirror's fetches, pushes, repack and repair);
 * here, what is left of Repository: refs listed, a branch's head, watching, closing.
 */
import type { GitRepositoryOptions } from "./base.js";
import { PULL_REF, RepositoryFetch } from "./fetch.js";
import { listRefValues, refGlob } from "./refs.js";
import type { GitReader, GitWriter, ProposalRef, Repository, WatchHandle, WatchOptions } from "./types.js";
import { watchRepository } from "./watch.js";

/** A Git repository on disk or a mirror of a remote one. Create it through openRepository (source/index.ts). */
export class GitRepository extends RepositoryFetch implements Repository, GitReader, GitWriter {
  readonly reader: GitReader;
  readonly writer: GitWriter;

  constructor(opts: GitRepositoryOptions) {
    super(opts);
    this.reader = this;
    this.writer = this;
  }

  /** See Repository.listRefs. */
  async listRefs(pattern: string, opts: { pullRequests?: boolean } = {}): Promise<ProposalRef[]> {
    const glob = refGlob(pattern);
    const out: ProposalRef[] = [];
    const branchPrefix = this.remote ? "refs/remotes/origin/" : "refs/heads/";
    for (const { ref, oid } of await listRefValues(this.gitdir, branchPrefix)) {
      const name = ref.slice(branchPrefix.length);
      if (name === "HEAD" || (this.remote && PULL_REF.test(`refs/${name}`))) continue;
      if (glob.test(name)) out.push({ kind: "branch", name, ref, oid });
    }
    if (opts.pullRequests) {
      const pulls: ProposalRef[] = [];
      for (const prefix of ["refs/pull/", "refs/merge-requests/"]) {
        for (const { ref, oid } of await listRefValues(this.gitdir, prefix)) {
          const m = PULL_REF.exec(ref);
          if (m) pulls.push({ kind: "pull", name: `${m[1]}/${m[2]}`, number: Number(m[2]), ref, oid });
        }
      }
      // "merge-requests/…" before "pull/…", then by number (12 before 100).
      const family = (p: ProposalRef): string => p.name.slice(0, p.name.indexOf("/"));
      pulls.sort((a, b) => (family(a) < family(b) ? -1 : family(a) > family(b) ? 1 : a.number! - b.number!));
      out.push(...pulls);
    }
    return out;
  }

  /** The tip of branch as last seen: refs/heads/<branch> on disk, refs/remotes/origin/<branch> in a mirror. */
  async head(branch: string): Promise<string | undefined> {
    const name = branch.startsWith("refs/heads/") ? branch.slice("refs/heads/".length) : branch;
    const ref = this.remote ? `refs/remotes/origin/${name}` : `refs/heads/${name}`;
    const oid = await this.readRef(ref);
    if (oid === undefined) return undefined;
    const commit = await this.tryReadCommit(oid);
    // A fetch moves a remote ref only after writing its objects: a mirror's ref naming a commit it cannot
    // read is a damaged mirror, not a deleted branch.
    if (!commit && this.remote) throw this.damaged(undefined, `${ref} names commit ${oid}, which is missing`, true)!;
    return commit?.oid;
  }

  /** See Repository.watch: chokidar on refs (disk) plus a poll; for a mirror the poll fetches first. */
  watch(onChange: () => void, opts: WatchOptions): WatchHandle {
    const handle = watchRepository({
      gitdir: this.gitdir,
      remote: this.remote,
      refresh: () => this.refresh(),
      onChange,
      opts,
    });
    const wrapped = async (): Promise<void> => {
      this.stops.delete(wrapped);
      await handle();
    };
    this.stops.add(wrapped);
    return Object.assign(wrapped, { trigger: () => handle.trigger(), state: () => handle.state() });
  }

  /** Stops every watcher started by watch(). */
  async close(): Promise<void> {
    this.packs.reset();
    await Promise.all([...this.stops].map((s) => s()));
  }
}
