/**
 * A mirror's network side (source/repository.ts): its first fetch, refresh (every branch and tag, pull request
 * heads when asked), one ref fetched, pushes, every call with a deadline and its errors mapped (errors.ts);
 * repacks as fetches pile up packs; and a damaged mirror repaired from the remote (repair.ts).
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { promises as fsp } from "node:fs";
import { join } from "node:path";
import * as git from "isomorphic-git";
import { isCoxError } from "../api/errors.js";
import { isNotFound, mapNetworkError, type GitNetworkOp } from "./errors.js";
import { gitFs as fs } from "./fs.js";
import { timedHttpClient } from "./http.js";
import { RepositoryNotes } from "./notes.js";
import { checkObjects } from "./repair.js";
import { assertRefName, deleteRefLocked, listRefValues } from "./refs.js";

/** A mirror is repacked (git CLI, when available) once it holds this many packs: each fetch adds one. */
const REPACK_AFTER_PACKS = 32;
/** Mutex key that serializes fetches (never a ref name: those start with "refs/"). */
const FETCH_KEY = "fetch:";

/** The pull/merge request heads mirrored when asked: GitHub and Gitea (pull), GitLab (merge-requests). */
export const PULL_REF = /^refs\/(pull|merge-requests)\/([0-9]+)\/head$/;

/** The fetches, pushes, repacks and repair of a mirror (no-ops, most of them, for a repository on disk). */
export class RepositoryFetch extends RepositoryNotes {
  /**
   * For a mirror: pushes each ref to the same name on origin. Non-fast-forward (someone moved the remote
   * ref) or a refused update → GitPushRejected; also GitAuthFailed, GitTimeout, GitFetchFailed.
   * No-op for a repository on disk (our refs are already where everyone reads them).
   */
  async push(refs: readonly string[]): Promise<void> {
    if (!this.remote) return;
    for (const ref of [...refs].sort()) {
      assertRefName(ref);
      // Shared gate: a push reads packs, which a repack of the mirror must not delete under it.
      await this.locks.refs.run(`push:${ref}`, () =>
        this.locks.gate.shared(() => this.network("push", ref, (http) => git.push({ fs, http, gitdir: this.gitdir, cache: this.cache, remote: "origin", ref, remoteRef: ref, headers: { ...this.headers } }))),
      );
    }
  }

  /** For a mirror: fetches one ref from origin and returns the remote's tip (undefined when absent); see types.ts. */
  async fetchRemoteRef(ref: string): Promise<string | undefined> {
    if (!this.remote) return undefined;
    assertRefName(ref);
    // One fetch at a time per repository (refresh() takes the same key): both write packs and remote refs.
    return this.locks.refs.run(FETCH_KEY, () =>
      this.locks.gate.shared(() =>
        this.network("fetch", ref, async (http) => {
          try {
            const res = await git.fetch({
              fs,
              http,
              gitdir: this.gitdir,
              cache: this.cache,
              remote: "origin",
              ref,
              remoteRef: ref,
              singleBranch: true,
              tags: false,
              headers: { ...this.headers },
            });
            return res.fetchHead ?? undefined;
          } catch (err) {
            if (isNotFound(err)) return undefined; // the remote has no such ref
            throw err;
          }
        }),
      ),
    );
  }

  /**
   * For a mirror: pushes our local ref `localRef` to `remoteRef` on origin (fast-forward only) and, on
   * success, moves the mirror's copy of it (refs/remotes/origin/<branch>). Non-fast-forward →
   * GitPushRejected; also GitAuthFailed, GitTimeout, GitFetchFailed. No-op on disk.
   */
  async pushRef(localRef: string, remoteRef: string): Promise<void> {
    if (!this.remote) return;
    assertRefName(localRef);
    assertRefName(remoteRef);
    // Serialized with fetches: both write refs/remotes/origin/*.
    await this.locks.refs.run(FETCH_KEY, () =>
      this.locks.gate.shared(() => this.network("push", remoteRef, (http) => git.push({ fs, http, gitdir: this.gitdir, cache: this.cache, remote: "origin", ref: localRef, remoteRef, headers: { ...this.headers } }))),
    );
  }

  /**
   * For a mirror: fetches every branch and tag of origin into refs/remotes/origin/* and refs/tags/*
   * (pruning branches deleted there); the local refs (coxswain's) never move. Then repacks when fetches
   * have piled up packs. No-op on disk.
   */
  async refresh(): Promise<void> {
    if (!this.remote) return;
    await this.locks.refs.run(FETCH_KEY, async () => {
      if (this.damage !== undefined) await this.repair();
      const fetch = () =>
        this.locks.gate.shared(async () => {
          await this.fetchAll();
          if (this.pullRequests) await this.fetchPullRequests();
        });
      try {
        await fetch();
      } catch (err) {
        // The fetch itself found the damage (isomorphic-git reads the packs to tell the server what we have).
        if (!isCoxError(err, "MirrorCorrupt")) throw err;
        await this.repair();
        await fetch();
      }
      await this.maybeRepack();
    });
  }

  /**
   * Repairs a damaged mirror (called under the fetch key): fetches the whole remote afresh into a sibling
   * directory — no object of ours is trusted to negotiate with —, then checks every object on disk, removes
   * the damaged ones (source/repair.ts) and moves the fresh packs in, so that every object of every remote ref
   * is back, then points a ref of ours (the status branch, notes) that names a commit now unreadable at the
   * remote's copy, or removes it (the status writer rebuilds it). A failed fetch leaves the damage noted for
   * the next refresh. What runs is not touched: only the mirror's files change.
   */
  private async repair(): Promise<void> {
    const why = this.damage?.what ?? "a fetch found damaged objects";
    const removedBefore = this.damage?.removed ?? [];
    const started = performance.now();
    const tmp = `${this.gitdir}.repair-${process.pid}-${randomBytes(4).toString("hex")}`;
    try {
      // The remote in full, beside the mirror: status writes go on meanwhile (the gate is taken only to move it in).
      await git.init({ fs, dir: tmp, bare: true, defaultBranch: "main" });
      await git.setConfig({ fs, gitdir: tmp, path: "remote.origin.url", value: this.url! });
      await git.setConfig({ fs, gitdir: tmp, path: "remote.origin.fetch", value: "+refs/heads/*:refs/remotes/origin/*" });
      await new RepositoryFetch({ ...this.options, gitdir: tmp, pullRequests: false }).initialFetch();
      const check = await this.locks.gate.exclusive(async () => {
        const check = await checkObjects(this.gitdir, { loose: "full" });
        const packDir = join(this.gitdir, "objects", "pack");
        await fsp.mkdir(packDir, { recursive: true });
        const fresh = await fsp.readdir(join(tmp, "objects", "pack")).catch(() => [] as string[]);
        // Index after pack: a reader never sees an index whose pack is not there yet.
        for (const name of [...fresh.filter((n) => n.endsWith(".pack")), ...fresh.filter((n) => !n.endsWith(".pack"))]) {
          await fsp.rename(join(tmp, "objects", "pack", name), join(packDir, name));
        }
        this.renewCache(await this.packNames());
        return check;
      });
      // Outside the exclusive gate: a ref's mutex is taken before the gate elsewhere (commitFiles).
      const moved = await this.resetUnreadableRefs();
      this.damage = undefined;
      const removed = [...removedBefore, ...check.removed];
      this.logger.warn(
        `source: the mirror of ${this.location} was damaged (${why}): ${removed.length} damaged file(s) removed` +
          `${removed.length ? ` (${removed.slice(0, 5).join(", ")}${removed.length > 5 ? ", …" : ""})` : ""}, ` +
          `the remote fetched again in full${moved.length ? `, ${moved.join(", ")}` : ""} in ${Math.round(performance.now() - started)} ms; what runs was not touched`,
      );
    } finally {
      await fsp.rm(tmp, { recursive: true, force: true });
    }
  }

  /** After a repair: our own refs whose commit cannot be read go to the remote's copy, or away. Says what it did. */
  private async resetUnreadableRefs(): Promise<string[]> {
    const done: string[] = [];
    for (const prefix of ["refs/heads/", "refs/notes/"]) {
      for (const { ref, oid } of await listRefValues(this.gitdir, prefix)) {
        if (await this.tryReadCommit(oid).catch(() => undefined)) continue;
        const copy = prefix === "refs/heads/" ? await this.readRef(`refs/remotes/origin/${ref.slice(prefix.length)}`) : undefined;
        await this.locks.refs.run(ref, async () => {
          if (copy !== undefined && (await this.tryReadCommit(copy).catch(() => undefined))) {
            await this.moveRef(ref, copy, oid);
            done.push(`${ref} reset to the remote's ${copy.slice(0, 9)}`);
          } else {
            await deleteRefLocked({ gitdir: this.gitdir, ref, expected: oid, current: () => this.readRef(ref) });
            done.push(`${ref} removed`);
          }
        });
      }
    }
    return done;
  }

  /**
   * For a mirror opened again (a restart): checks its packs and looks for emptied loose objects
   * (source/repair.ts), removing the damaged ones, so that the first refresh() repairs it before anything is
   * read (a 33 MB mirror with 4,400 loose objects: 0.26 s on a busy 2-core machine, 1.7 s inflating them
   * all; damage a read finds is repaired by the next fetch).
   */
  async checkOnOpen(): Promise<void> {
    if (!this.remote) return;
    const check = await checkObjects(this.gitdir, { loose: "empty" });
    if (check.removed.length > 0) this.damage = { what: "damaged files found when it was opened", removed: check.removed };
  }

  /** Creates the mirror's content: called once on a fresh bare gitdir by openRepository. */
  async initialFetch(): Promise<void> {
    await this.fetchAll();
  }

  private async fetchAll(): Promise<void> {
    await this.network("fetch", undefined, async (http) => {
      // isomorphic-git adds to the headers object it is given (Git-Protocol, Authorization): always a fresh copy.
      // A remote whose HEAD names a missing branch is handled in the HTTP client (patchUnbornHead).
      await git.fetch({
        fs,
        http,
        gitdir: this.gitdir,
        cache: this.cache,
        remote: "origin",
        singleBranch: false,
        tags: true,
        prune: true,
        headers: { ...this.headers },
      });
    });
  }

  /**
   * isomorphic-git's fetch keeps only branches, tags and HEAD of the advertisement, so pull-request heads
   * are mirrored here: list the server's refs (one request), fetch each head whose commit we lack (one
   * fetch per changed head, negotiating from origin's HEAD so only new objects come), point the local
   * refs/pull/<n>/head at it, and delete the local ones the server no longer advertises.
   */
  private async fetchPullRequests(): Promise<void> {
    const url = this.url!;
    const advertised = await this.network("fetch", "refs/pull/*/head", (http) => git.listServerRefs({ http, url, headers: { ...this.headers }, protocolVersion: 1 }));
    const wanted = new Map<string, string>();
    for (const r of advertised) if (PULL_REF.test(r.ref) && /^[0-9a-f]{40}$/.test(r.oid)) wanted.set(r.ref, r.oid);
    const local = new Map<string, string>();
    for (const prefix of ["refs/pull/", "refs/merge-requests/"]) for (const r of await listRefValues(this.gitdir, prefix)) local.set(r.ref, r.oid);
    const have = (await this.readRef("refs/remotes/origin/HEAD")) !== undefined ? "refs/remotes/origin/HEAD" : undefined;
    for (const [ref, oid] of [...wanted].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
      const current = local.get(ref);
      if (current === oid) continue;
      if (!(await this.tryReadCommit(oid))) {
        await this.network("fetch", ref, (http) =>
          git.fetch({
            fs,
            http,
            gitdir: this.gitdir,
            cache: this.cache,
            remote: "origin",
            // `ref` is what isomorphic-git tells the server we have: the default branch, so a new pull
            // request costs its own commits only, not the whole history.
            ...(have ? { ref: have } : {}),
            remoteRef: ref,
            singleBranch: true,
            tags: false,
            headers: { ...this.headers },
          }),
        );
      }
      await this.locks.refs.run(ref, () => this.moveRef(ref, oid, current));
    }
    for (const [ref, oid] of local) {
      if (!wanted.has(ref)) await this.locks.refs.run(ref, () => deleteRefLocked({ gitdir: this.gitdir, ref, expected: oid, current: () => this.readRef(ref) }));
    }
  }

  /** Runs one network operation with a fresh deadline-carrying HTTP client and maps its errors. */
  private async network<T>(op: GitNetworkOp, ref: string | undefined, fn: (http: ReturnType<typeof timedHttpClient>["client"]) => Promise<T>): Promise<T> {
    const timed = timedHttpClient(this.timeoutMs);
    try {
      return await fn(timed.client);
    } catch (err) {
      if (!timed.timedOut()) {
        const damaged = this.damaged(err, `${op} read a damaged object`);
        if (damaged) throw damaged;
      }
      throw mapNetworkError(err, { op, location: this.location, timedOut: timed.timedOut(), timeoutMs: this.timeoutMs, ...(ref ? { ref } : {}) });
    }
  }

  /** isomorphic-git has no gc and each fetch adds a pack; reads slow down as packs pile up. */
  private async maybeRepack(): Promise<void> {
    if (this.gitCliMissing) return;
    const packs = await this.packNames();
    if (packs.size < REPACK_AFTER_PACKS) return;
    await this.locks.gate.exclusive(async () => {
      try {
        await new Promise<void>((resolve, reject) =>
          // --keep-unreachable: objects of commits we orphaned (a status branch rebuilt on the remote tip) may
          // be written again from knownObjects without a look; they must not disappear.
          execFile("git", ["--git-dir", this.gitdir, "repack", "-a", "-d", "-q", "--keep-unreachable"], { timeout: 10 * 60_000 }, (err) => (err ? reject(err) : resolve())),
        );
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ENOENT") this.gitCliMissing = true;
        return; // best effort: reads still work with many packs, only slower
      }
      this.renewCache(await this.packNames());
    });
  }
}
