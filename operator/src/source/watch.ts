/**
 * "Refs may have moved" notifications. For a repository on disk: chokidar 5 on the gitdir, letting
 * through only HEAD, packed-refs and refs/** (the event type says nothing useful: git writes refs by
 * lock-and-rename, pack-refs moves them into packed-refs, fast pushes coalesce), debounced; plus a poll,
 * which stays the source of truth (chokidar can miss files in a brand-new directory, chokidar#1471).
 * For a mirror: a fetch loop. It fetches every pollMs while the remote answers; after a failure it retries
 * with exponential backoff (1 s doubling to 60 s by default, ±20 % jitter so that many operators do not
 * retry in step), reports each failure through onError and the recovery through onRecover, and goes back
 * to pollMs once a fetch succeeds. trigger() (a webhook said "pushed") fetches at once, even during a
 * backoff; a trigger during a fetch runs one more fetch right after it, so a push that landed after the
 * running fetch read the refs is not missed. Nothing here touches what runs: the sync keeps its applied
 * graph while the remote is away.
 */
import { relative, sep } from "node:path";
import { watch as chokidarWatch } from "chokidar";
import { backoffDelay } from "../api/backoff.js";
import { toCoxError, type CoxError } from "../api/errors.js";
import type { WatchHandle, WatchOptions, WatchState } from "./types.js";

/** Default first retry delay after a failed fetch. */
const DEFAULT_BACKOFF_INITIAL_MS = 1_000;
/** Default longest retry delay. */
const DEFAULT_BACKOFF_MAX_MS = 60_000;
/** Part of a fetch retry's delay taken off at random, so that operators sharing a remote do not retry in step. */
const FETCH_JITTER = 0.2;

/** What watchRepository needs from a repository. */
export interface WatchTarget {
  gitdir: string;
  remote: boolean;
  refresh: () => Promise<void>;
  onChange: () => void;
  opts: WatchOptions;
}

/**
 * Starts watching; returns a handle: calling it stops (closes the file watcher and timers, waits for an
 * in-flight fetch), trigger() asks for a fetch (remote) or a callback (disk) now, state() tells how the
 * remote is doing.
 */
export function watchRepository(target: WatchTarget): WatchHandle {
  const { gitdir, remote, onChange, opts } = target;
  const initialMs = opts.backoff?.initialMs ?? DEFAULT_BACKOFF_INITIAL_MS;
  const maxMs = Math.max(initialMs, opts.backoff?.maxMs ?? DEFAULT_BACKOFF_MAX_MS);
  const state: WatchState = { remote, failures: 0 };
  const onError = (err: unknown): void => {
    try {
      opts.onError?.(toCoxError(err, remote ? "GitFetchFailed" : "RuntimeCallFailed"));
    } catch {
      // A failing error handler must not escape from a timer either.
    }
  };
  const fire = (): void => {
    try {
      onChange();
    } catch (err) {
      onError(err);
    }
  };
  let stopped = false;
  let debounce: NodeJS.Timeout | undefined;
  let inflight: Promise<void> | undefined;
  let again = false;
  let timer: NodeJS.Timeout | undefined;

  const watcher = remote
    ? undefined
    : chokidarWatch(gitdir, {
        ignoreInitial: true,
        persistent: true,
        ignored: (path: string) => !isRefPath(gitdir, path),
      });
  if (watcher) {
    watcher.on("all", (_event: string, path: string) => {
      if (stopped || path.endsWith(".lock")) return;
      if (debounce) clearTimeout(debounce);
      debounce = setTimeout(() => {
        debounce = undefined;
        if (!stopped) fire();
      }, opts.debounceMs ?? 20);
    });
    watcher.on("error", onError);
  }

  const schedule = (delayMs: number): void => {
    if (stopped) return;
    if (timer) clearTimeout(timer);
    state.nextAttemptAt = new Date(Date.now() + delayMs).toISOString();
    timer = setTimeout(() => {
      timer = undefined;
      fetchNow();
    }, delayMs);
  };

  /** One fetch (never two at once); on its end, the next one is scheduled by how it went. */
  const fetchNow = (): void => {
    if (stopped) return;
    if (inflight) {
      again = true;
      return;
    }
    if (timer) {
      clearTimeout(timer);
      timer = undefined;
    }
    delete state.nextAttemptAt;
    const started = performance.now();
    const fetched = (failed: boolean): void => {
      try {
        opts.onFetched?.(performance.now() - started, failed);
      } catch {
        // as for onError
      }
    };
    inflight = target.refresh().then(
      () => {
        fetched(false);
        const failuresBefore = state.failures;
        state.failures = 0;
        state.lastSuccessAt = new Date().toISOString();
        delete state.lastError;
        if (failuresBefore > 0) {
          try {
            opts.onRecover?.(failuresBefore);
          } catch {
            // as for onError
          }
        }
        if (!stopped) fire();
      },
      (err: unknown) => {
        fetched(true);
        const e: CoxError = toCoxError(err, "GitFetchFailed");
        state.failures++;
        state.lastError = { code: e.code, message: e.message, at: new Date().toISOString() };
        onError(e);
      },
    );
    void inflight.finally(() => {
      inflight = undefined;
      if (stopped) return;
      if (again) {
        again = false;
        fetchNow();
      } else schedule(state.failures === 0 ? opts.pollMs : backoffDelay({ initialMs, maxMs, jitter: FETCH_JITTER }, state.failures));
    });
  };

  let poll: NodeJS.Timeout | undefined;
  if (remote) schedule(opts.pollMs);
  else
    poll = setInterval(() => {
      if (!stopped) fire();
    }, opts.pollMs);

  const stop = async (): Promise<void> => {
    stopped = true;
    if (poll) clearInterval(poll);
    if (timer) clearTimeout(timer);
    if (debounce) clearTimeout(debounce);
    await watcher?.close();
    await inflight?.catch(() => undefined);
  };
  return Object.assign(stop, {
    trigger(): void {
      if (stopped) return;
      if (remote) fetchNow();
      else fire();
    },
    state(): WatchState {
      return structuredClone(state);
    },
  });
}

/** True for the gitdir itself, HEAD, packed-refs and everything under refs/ — what a ref move touches. */
function isRefPath(gitdir: string, path: string): boolean {
  const rel = relative(gitdir, path).split(sep).join("/");
  return rel === "" || rel === "HEAD" || rel === "packed-refs" || rel === "refs" || rel.startsWith("refs/");
}
