/**
 * "Refs may have moved" notifications. For a repository on disk: chokidar 5 on the gitdir, letting
 * through only HEAD, packed-refs and refs/** (the event type says nothing useful: git writes refs by
 * lock-and-rename, pack-refs moves them into packed-refs, fast pushes coalesce), debounced; plus a poll,
 * which stays the source of truth (chokidar can miss files in a brand-new directory, chokidar#1471).
 * For a mirror: only the poll, which fetches first.
 */
import { relative, sep } from "node:path";
import { watch as chokidarWatch } from "chokidar";
import { toCoxError } from "../api/errors.js";
import type { WatchOptions } from "./types.js";

/** What watchRepository needs from a repository. */
export interface WatchTarget {
  gitdir: string;
  remote: boolean;
  refresh: () => Promise<void>;
  onChange: () => void;
  opts: WatchOptions;
}

/** Starts watching; returns stop(), which closes the file watcher and timers and waits for an in-flight poll. */
export function watchRepository(target: WatchTarget): () => Promise<void> {
  const { gitdir, remote, onChange, opts } = target;
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

  const poll = setInterval(() => {
    if (stopped) return;
    if (!remote) return fire();
    if (inflight) return; // a slow fetch is still running: skip this tick rather than pile up
    inflight = target
      .refresh()
      .then(() => {
        if (!stopped) fire();
      }, onError)
      .finally(() => {
        inflight = undefined;
      });
  }, opts.pollMs);

  return async () => {
    stopped = true;
    clearInterval(poll);
    if (debounce) clearTimeout(debounce);
    await watcher?.close();
    await inflight;
  };
}

/** True for the gitdir itself, HEAD, packed-refs and everything under refs/ — what a ref move touches. */
function isRefPath(gitdir: string, path: string): boolean {
  const rel = relative(gitdir, path).split(sep).join("/");
  return rel === "" || rel === "HEAD" || rel === "packed-refs" || rel === "refs" || rel.startsWith("refs/");
}
