/**
 * Posts to a forge without ever holding anything else up: calls are queued and made one at a time (so a
 * pending status is never overtaken by its success), each retried with the work queue's back-off (api/backoff.ts) when the
 * forge did not answer, answered 429 or 5xx. A call that still fails is logged (method, path, HTTP status:
 * never the token, which only travels in a header) and counted, then dropped: rollouts never wait for it.
 *
 * A proposal has one comment on its pull/merge request, found again by a marker (an HTML comment the
 * forges do not show) and edited on every new head: its id is remembered after the first post, and looked
 * for among the request's comments after a restart or when the remembered one is gone (404). When several
 * bodies for the same marker are queued, only the newest is posted.
 */
import { backoffDelay, type Backoff } from "../api/backoff.js";
import { isCoxError, toCoxError } from "../api/errors.js";
import type { Logger } from "../api/log.js";
import { DEFAULT_BACKOFF } from "../engine/queue.js";
import type { ForgeClient, ForgeStatus } from "./client.js";

/** Where a comment goes: the request of a branch (asked of the forge), or a known request number. */
export type CommentTarget = { branch: string } | { request: number };

/** Options of a ForgePublisher. */
export interface ForgePublisherOptions {
  client: ForgeClient;
  log: Logger;
  /** Attempts of one call before it is dropped (default 4). */
  attempts?: number;
  /** Delays between attempts (default the work queue's: 250 ms doubling, 20 % jitter). */
  backoff?: Backoff;
  /** Every call's outcome, for the metrics: ok, or failed once its attempts are spent. */
  onCall?: (result: "ok" | "failed") => void;
}

/** The HTTP status a ForgeRequestFailed carries, when the forge answered. */
function httpStatus(err: unknown): number | undefined {
  const s = isCoxError(err) ? err.details?.status : undefined;
  return typeof s === "number" ? s : undefined;
}

/** No answer, too many requests, or the forge's own failure: worth another attempt. */
function retryable(err: unknown): boolean {
  const s = httpStatus(err);
  return s === undefined || s === 429 || s >= 500;
}

/** Queues and retries the posts of one forge (see the module comment). */
export class ForgePublisher {
  private chain: Promise<void> = Promise.resolve();
  private closed = false;
  private readonly comments = new Map<string, { request: number; id: number }>();
  private readonly latest = new Map<string, string>();
  private readonly noRequest = new Set<string>();
  private readonly attempts: number;
  private readonly backoff: Backoff;
  /** Calls that failed for good (also reported through onCall). */
  failed = 0;

  constructor(private readonly opts: ForgePublisherOptions) {
    this.attempts = opts.attempts ?? 4;
    this.backoff = opts.backoff ?? { ...DEFAULT_BACKOFF };
  }

  /** Queues a commit status. */
  status(s: ForgeStatus): void {
    this.enqueue(`status ${s.context} ${s.state} on ${s.sha.slice(0, 7)}`, () => this.retry(() => this.opts.client.setStatus(s)));
  }

  /** Queues the one comment carrying `marker` (created, or edited when it exists) on the target's request. */
  comment(target: CommentTarget, marker: string, body: string): void {
    this.latest.set(marker, body);
    this.enqueue(`comment ${marker.replace(/^<!--\s*|\s*-->$/g, "")}`, async () => {
      const newest = this.latest.get(marker);
      if (newest === undefined) return; // a later queued post of this marker already went out
      this.latest.delete(marker);
      await this.postComment(target, marker, newest);
    });
  }

  /** Resolves when everything queued so far was posted or dropped. */
  idle(): Promise<void> {
    return this.chain;
  }

  /** Drops what is queued and not started (a call in flight gives up after its attempt); resolves when it ended. */
  close(): Promise<void> {
    this.closed = true;
    return this.chain;
  }

  private enqueue(what: string, fn: () => Promise<void>): void {
    this.chain = this.chain.then(async () => {
      if (this.closed) return;
      try {
        await fn();
        this.opts.onCall?.("ok");
      } catch (err) {
        if (this.closed) return void this.opts.log.info(`forge ${this.opts.client.kind}: ${what} not posted: the operator is stopping`);
        this.failed++;
        this.opts.onCall?.("failed");
        this.opts.log.warn(`forge ${this.opts.client.kind}: ${what} not posted: ${toCoxError(err, "ForgeRequestFailed").message} (the rollout does not wait for it)`);
      }
    });
  }

  private async retry<T>(fn: () => Promise<T>): Promise<T> {
    for (let failures = 0; ; failures++) {
      try {
        return await fn();
      } catch (err) {
        if (this.closed || failures + 1 >= this.attempts || !retryable(err)) throw err;
        await new Promise((r) => setTimeout(r, backoffDelay(this.backoff, failures + 1)).unref());
      }
    }
  }

  private async postComment(target: CommentTarget, marker: string, body: string): Promise<void> {
    const { client } = this.opts;
    const request = "request" in target ? target.request : await this.retry(() => client.findRequest(target.branch));
    if (request === undefined) {
      const branch = (target as { branch: string }).branch;
      if (!this.noRequest.has(branch)) this.opts.log.info(`forge ${client.kind}: no open pull/merge request from branch ${branch}; its plan is not commented (statuses are set)`);
      this.noRequest.add(branch);
      return;
    }
    if ("branch" in target) this.noRequest.delete(target.branch);
    const known = this.comments.get(marker);
    if (known?.request === request) {
      try {
        await this.retry(() => client.editComment(request, known.id, body));
        return;
      } catch (err) {
        if (httpStatus(err) !== 404) throw err; // deleted on the forge: look again, else post anew
      }
    }
    const found = (await this.retry(() => client.listComments(request))).find((c) => c.body.includes(marker));
    if (found) {
      await this.retry(() => client.editComment(request, found.id, body));
      this.comments.set(marker, { request, id: found.id });
    } else {
      const id = await this.retry(() => client.createComment(request, body));
      this.comments.set(marker, { request, id });
    }
  }
}
