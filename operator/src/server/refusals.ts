/**
 * Refused requests (bad signature, over the rate, too large, abandoned): every one is counted, per reason, for
 * /healthz; the log gets at most one line a minute per client. Anyone who can reach the port can send
 * refused requests, so a line per request would let a stranger fill the operator's log. A client's line
 * after a quiet spell says how many of its refusals went unlogged since its last one. Pure apart from the
 * clock and the log, both injected.
 */
import type { Logger } from "../api/log.js";

/**
 * Why a request was refused: 401 (no valid signature or token), 429 (over the rate), 413 (body too large),
 * or the client went away before its body was complete.
 */
export type RefusalReason = "incomplete" | "rateLimited" | "tooLarge" | "unauthorized";

/** Every reason, sorted: the keys of counts(). */
const REFUSAL_REASONS: readonly RefusalReason[] = ["incomplete", "rateLimited", "tooLarge", "unauthorized"];

/** Default: one line per client per minute. */
const DEFAULT_REFUSAL_LOG_INTERVAL_MS = 60_000;

/** Options of RefusalLog. */
export interface RefusalLogOptions {
  log: Logger;
  now?: () => number;
  /** At most one line per client this often (default 60 s). */
  intervalMs?: number;
  /** Clients remembered at most; the longest quiet ones are forgotten first (default 10,000). */
  maxClients?: number;
}

interface ClientEntry {
  lastLoggedAt: number;
  /** Refusals since the last line, per reason. */
  unlogged: Map<RefusalReason, number>;
}

/** Counts refused requests per reason and logs them, at most one line per client per interval. */
export class RefusalLog {
  private readonly totals = new Map<RefusalReason, number>();
  private readonly clients = new Map<string, ClientEntry>();
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly intervalMs: number;
  private readonly maxClients: number;

  constructor(opts: RefusalLogOptions) {
    this.log = opts.log;
    this.now = opts.now ?? Date.now;
    this.intervalMs = opts.intervalMs ?? DEFAULT_REFUSAL_LOG_INTERVAL_MS;
    this.maxClients = opts.maxClients ?? 10_000;
  }

  /**
   * Records one refused request from `client`; `detail` says what was refused and why (never a secret, a
   * signature or a body). Logs it when the client had no line within the interval.
   */
  refused(client: string, reason: RefusalReason, detail: string): void {
    this.totals.set(reason, (this.totals.get(reason) ?? 0) + 1);
    const now = this.now();
    const entry = this.clients.get(client);
    if (entry && now - entry.lastLoggedAt < this.intervalMs) {
      entry.unlogged.set(reason, (entry.unlogged.get(reason) ?? 0) + 1);
      return;
    }
    let line = `webhook: refused a request from ${client}: ${detail}`;
    if (!entry) line += `; further refusals from ${client} are logged at most once every ${Math.round(this.intervalMs / 1000)} s (all are counted in /healthz)`;
    else if (entry.unlogged.size > 0) {
      const n = [...entry.unlogged.values()].reduce((a, b) => a + b, 0);
      const parts = REFUSAL_REASONS.filter((r) => entry.unlogged.has(r)).map((r) => `${r} ${entry.unlogged.get(r)}`);
      line += `; and ${n} more from ${client} since its last line (${parts.join(", ")})`;
    }
    this.log.warn(line, { client });
    // Re-inserted: the map's order is then the order of last lines, oldest first, for forgetting.
    this.clients.delete(client);
    if (this.clients.size >= this.maxClients) this.forget(now);
    this.clients.set(client, { lastLoggedAt: now, unlogged: new Map() });
  }

  /** Refused requests so far, per reason (every reason present, keys sorted). */
  counts(): Record<RefusalReason, number> {
    const out = {} as Record<RefusalReason, number>;
    for (const r of REFUSAL_REASONS) out[r] = this.totals.get(r) ?? 0;
    return out;
  }

  /** Clients remembered (tests). */
  get size(): number {
    return this.clients.size;
  }

  /** Forgets clients whose interval is over (their next refusal is logged anyway), then the oldest. */
  private forget(now: number): void {
    for (const [client, e] of this.clients) if (now - e.lastLoggedAt >= this.intervalMs) this.clients.delete(client);
    while (this.clients.size >= this.maxClients) {
      const oldest = this.clients.keys().next().value;
      if (oldest === undefined) break;
      this.clients.delete(oldest);
    }
  }
}
