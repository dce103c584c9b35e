/**
 * GET /readyz's decision (pure): the operator is ready when the Git source answered within its last N
 * fetches and can be read, the last write of the status branch succeeded, and at least one node is Ready.
 * Each check carries the reason it fails (with the error code where there is one), so the body says why.
 * Liveness (/healthz) depends on none of this: see server.ts.
 */

/** Failed fetches in a row after which the operator is not ready, by default. */
export const DEFAULT_READY_FETCH_FAILURES = 3;

/** One check of /readyz. */
export interface ReadyCheck {
  ok: boolean;
  /** Why it fails (absent when ok). */
  reason?: string;
  /** The error code behind a failure, when there is one. */
  code?: string;
}

/** The body of /readyz. */
export interface Readiness {
  ready: boolean;
  checks: { git: ReadyCheck; nodes: ReadyCheck; status: ReadyCheck };
}

/** What readiness is decided from. */
export interface ReadinessInput {
  /** The repository, for messages. */
  location: string;
  /** Failed fetches in a row and the last error (the source watch's state). */
  fetch: { failures: number; lastError?: { code: string; message: string } };
  /** Not ready from this many failed fetches in a row on (≥ 1). */
  fetchFailureLimit: number;
  /** Faults of reading the deploy branch other than fetching (a deleted branch, an unreadable object). */
  readFaults: readonly { where: string; code: string; message: string }[];
  /** The last status write's error, while it lasts. */
  statusFault?: { code: string; message: string; since: string };
  /** Every node and its condition. */
  nodes: readonly { name: string; condition: string }[];
}

/** Decides readiness. */
export function readiness(input: ReadinessInput): Readiness {
  const { fetch } = input;
  const read = input.readFaults[0];
  const git: ReadyCheck =
    fetch.failures >= input.fetchFailureLimit
      ? {
          ok: false,
          reason: `the last ${fetch.failures} fetches of ${input.location} failed${fetch.lastError ? `: ${fetch.lastError.message}` : ""}`,
          ...(fetch.lastError ? { code: fetch.lastError.code } : {}),
        }
      : read
        ? { ok: false, reason: `the deploy branch cannot be read (${read.where}): ${read.message}`, code: read.code }
        : { ok: true };
  const status: ReadyCheck = input.statusFault ? { ok: false, reason: `writing the status branch fails since ${input.statusFault.since}: ${input.statusFault.message}`, code: input.statusFault.code } : { ok: true };
  const notReady = input.nodes.filter((n) => n.condition !== "Ready").map((n) => `${n.name} ${n.condition}`);
  const nodes: ReadyCheck = notReady.length < input.nodes.length ? { ok: true } : { ok: false, reason: input.nodes.length === 0 ? "no node is known" : `no node is Ready (${[...notReady].sort().join(", ")})` };
  return { ready: git.ok && status.ok && nodes.ok, checks: { git, nodes, status } };
}
