/**
 * Per-client request rate limit: a token bucket per client address. A client may send `burst` requests
 * at once and `perSecond` on average; the next request is allowed again after retryAfterMs. Pure apart
 * from the clock, which is injectable.
 */

/** Options of a RateLimiter. */
export interface RateLimitOptions {
  /** Sustained requests per second per client. */
  perSecond: number;
  /** Requests a client may send at once (default: max(1, 2 × perSecond)). */
  burst?: number;
  /** At most this many clients are tracked; idle full buckets are dropped first (default 10,000). */
  maxClients?: number;
  now?: () => number;
}

/** The decision for one request. */
export type RateDecision = { allowed: true } | { allowed: false; retryAfterMs: number };

/** Token buckets keyed by client. */
export class RateLimiter {
  private readonly perSecond: number;
  private readonly burst: number;
  private readonly maxClients: number;
  private readonly now: () => number;
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(opts: RateLimitOptions) {
    if (!(opts.perSecond > 0)) throw new RangeError(`perSecond must be positive (got ${opts.perSecond})`);
    this.perSecond = opts.perSecond;
    this.burst = Math.max(1, opts.burst ?? Math.ceil(2 * opts.perSecond));
    this.maxClients = opts.maxClients ?? 10_000;
    this.now = opts.now ?? Date.now;
  }

  /** Takes a token for `client` if it has one. */
  take(client: string): RateDecision {
    const now = this.now();
    let b = this.buckets.get(client);
    if (!b) {
      if (this.buckets.size >= this.maxClients) this.sweep(now);
      b = { tokens: this.burst, at: now };
      this.buckets.set(client, b);
    } else {
      b.tokens = Math.min(this.burst, b.tokens + ((now - b.at) / 1000) * this.perSecond);
      b.at = now;
    }
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return { allowed: true };
    }
    return { allowed: false, retryAfterMs: Math.ceil(((1 - b.tokens) / this.perSecond) * 1000) };
  }

  /** Number of clients tracked (tests). */
  get size(): number {
    return this.buckets.size;
  }

  /** Drops buckets that have refilled completely (those clients are as if new); then the oldest, if still full. */
  private sweep(now: number): void {
    for (const [k, b] of this.buckets) {
      if (b.tokens + ((now - b.at) / 1000) * this.perSecond >= this.burst) this.buckets.delete(k);
    }
    while (this.buckets.size >= this.maxClients) {
      const oldest = this.buckets.keys().next().value;
      if (oldest === undefined) break;
      this.buckets.delete(oldest);
    }
  }
}
