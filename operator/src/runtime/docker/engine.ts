/**
 * The engine calls of one Docker engine, which every part of DockerRuntime (runtime.ts) makes through here:
 * the API version negotiated and pinned (again once on a version mismatch), at most maxConcurrentCalls
 * calls in flight (separate pools of the same size for stop() and usage(), which wait inside the engine),
 * a deadline per call enforced with abort signals, failures as CoxErrors (client.ts classifyEngineError),
 * a read that failed fast made again in place (never an action), and every call's duration reported to onCall.
 */
import type Docker from "dockerode";
import { setTimeout as sleep } from "node:timers/promises";
import { backoffDelay, type Backoff } from "../../api/backoff.js";
import { isCoxError } from "../../api/errors.js";
import { LABELS } from "../labels.js";
import { chooseApiVersion, isApiVersionMismatch, type EngineVersionReport } from "./api-version.js";
import { classifyEngineError, createDockerClient, dial, parseEndpoint, type EngineRequest, type EngineTarget } from "./client.js";
import type { DockerContainerInspect } from "./mapping.js";
import { Semaphore } from "./semaphore.js";
import type { DockerRuntimeOptions } from "./runtime.js";

/** The fields of GET /version coxswain reads. */
export interface VersionReport extends EngineVersionReport {
  Version?: string;
  Os?: string;
  Arch?: string;
}

/** Per-call options of engine calls. */
interface CallOptions {
  /** Deadline of the call (default callTimeoutMs). */
  timeoutMs?: number;
  /** Aborts the call early (the error is then classified as a deadline). */
  signal?: AbortSignal;
  /** The pool of slots the call holds (default: the node's call limit). */
  semaphore?: Semaphore;
}

/** How many times a read that failed fast is made again (see DockerEngine.call). */
const READ_RETRIES = 2;
/** The wait before each repeated read: 50 ms, then 100 ms, up to half taken off at random. */
const READ_BACKOFF: Backoff = { initialMs: 50, maxMs: 200, jitter: 0.5 };
/** Transport errors after which a read is made again: the connection broke, the engine may be fine. */
const BROKEN_CONNECTION = new Set(["ECONNRESET", "EPIPE", "ECONNABORTED"]);

/** True when a classified engine error is a fast failure worth one more read: a 5xx or a broken connection, not a deadline. */
function isFastReadFailure(err: unknown): boolean {
  if (!isCoxError(err)) return false;
  const status = statusOf(err);
  if (status !== undefined) return status >= 500;
  const errno = err.details?.errno;
  return typeof errno === "string" && BROKEN_CONNECTION.has(errno);
}

/** An error as an aborted request raises it. */
function abortError(): Error {
  const err = new Error("aborted");
  err.name = "AbortError";
  return err;
}

/** True when an engine timestamp is set (Docker says "0001-01-01T00:00:00Z" for never). */
export function isDockerTimeSet(text: string | undefined): boolean {
  return text !== undefined && text !== "" && !text.startsWith("0001-01-01");
}

/** The HTTP status of an engine error wrapped in a CoxError, if any. */
export function statusOf(err: unknown): number | undefined {
  if (!isCoxError(err)) return undefined;
  const status = err.details?.status;
  return typeof status === "number" ? status : undefined;
}

/** The engine calls of one Docker engine (see the module comment). */
export class DockerEngine {
  /** The endpoint calls go to. */
  readonly endpoint: string;
  /** The owner label value of the runtime (its containers, volumes and events). */
  readonly owner: string;
  /** Node name used in messages. */
  readonly nodeName: string;
  /** Deadline of one call in ms. */
  readonly callTimeoutMs: number;
  /** Deadline of an image pull in ms. */
  readonly pullTimeoutMs: number;
  /** The node's call limit. */
  readonly semaphore: Semaphore;
  /** Slots for stop(), which waits inside the engine for up to the grace period. */
  readonly stopSemaphore: Semaphore;
  /** Slots for usage(), which waits inside the engine for its statistics collector's next round (up to 1 s). */
  readonly statsSemaphore: Semaphore;
  /** The pinned API version, once negotiated. */
  version: string | undefined;
  private readonly target: EngineTarget;
  private readonly onCall: ((ms: number, failed: boolean) => void) | undefined;
  private client: Docker | undefined;
  private streamClient: Docker | undefined;
  private negotiation: Promise<VersionReport> | undefined;

  constructor(options: DockerRuntimeOptions) {
    this.target = parseEndpoint(options.endpoint, options.tls);
    this.endpoint = options.endpoint;
    this.owner = options.owner;
    this.nodeName = options.nodeName ?? options.endpoint;
    this.callTimeoutMs = options.callTimeoutMs ?? 30_000;
    this.onCall = options.onCall;
    this.pullTimeoutMs = options.pullTimeoutMs ?? 300_000;
    const limit = options.maxConcurrentCalls ?? 8;
    this.semaphore = new Semaphore(limit);
    this.stopSemaphore = new Semaphore(limit);
    this.statsSemaphore = new Semaphore(limit);
  }

  /** Pins `version`: the clients every call and the event stream use from now on. */
  pin(version: string): void {
    this.version = version;
    this.client = createDockerClient(this.target, version);
    // A client of its own for the long-lived event stream, so its settings can never leak into calls.
    this.streamClient = createDockerClient(this.target, version);
  }

  /** GET /version without prefix, then pin. Concurrent callers share one negotiation. */
  negotiate(signal?: AbortSignal): Promise<VersionReport> {
    this.negotiation ??= (async () => {
      try {
        const raw = createDockerClient(this.target, undefined);
        const req: EngineRequest = { method: "GET", path: "/version" };
        if (signal) req.signal = signal;
        const report = await dial<VersionReport>(raw, req);
        this.pin(chooseApiVersion(report, `node ${this.nodeName} (${this.endpoint})`));
        return report;
      } finally {
        this.negotiation = undefined;
      }
    })();
    return this.negotiation;
  }

  private async pinnedClient(signal: AbortSignal): Promise<Docker> {
    if (!this.client) await this.negotiate(signal);
    return this.client!;
  }

  /**
   * Runs one engine interaction while holding a slot, under a deadline; negotiates the version first
   * when none is pinned, and once more on a version mismatch. Failures become CoxErrors.
   */
  async engineCall<T>(what: string, fn: (docker: Docker, signal: AbortSignal) => Promise<T>, options: CallOptions & { pinned?: boolean } = {}): Promise<T> {
    const timeoutMs = options.timeoutMs ?? this.callTimeoutMs;
    const outer = options.signal;
    if (outer?.aborted) throw classifyEngineError(abortError(), { node: this.nodeName, endpoint: this.endpoint, what });
    const release = await (options.semaphore ?? this.semaphore).acquire();
    if (outer?.aborted) {
      release(); // the caller's deadline passed while the call waited for a slot
      throw classifyEngineError(abortError(), { node: this.nodeName, endpoint: this.endpoint, what });
    }
    const abort = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      abort.abort();
    }, timeoutMs);
    const started = performance.now();
    let failed = true;
    // The caller's signal (an exec deadline) aborts the call too; unlinked when the call returns.
    const onOuter = () => abort.abort();
    outer?.addEventListener("abort", onOuter, { once: true });
    try {
      const docker = options.pinned === false ? undefined : await this.pinnedClient(abort.signal);
      let result: T;
      try {
        result = await fn(docker as Docker, abort.signal);
      } catch (err) {
        if (!isApiVersionMismatch(err) || options.pinned === false) throw err;
        await this.negotiate(abort.signal);
        result = await fn(this.client!, abort.signal);
      }
      failed = false;
      return result;
    } catch (err) {
      throw classifyEngineError(err, { node: this.nodeName, endpoint: this.endpoint, what, timeoutMs, timedOut });
    } finally {
      try {
        this.onCall?.(performance.now() - started, failed);
      } catch {
        // An observer must not change the call's outcome.
      }
      clearTimeout(timer);
      outer?.removeEventListener("abort", onOuter);
      release();
    }
  }

  /**
   * One engine request made as engineCall says. A read (GET, not a stream) that fails fast — the engine
   * answered 5xx or the connection was reset or broken — is made again in place, up to READ_RETRIES more
   * times after READ_BACKOFF: a read changes nothing, so doing it twice is harmless, and an engine that fails
   * one read in two would otherwise fail most listings (a listing is many reads) and count as silent. A read
   * that ran out its deadline is not repeated (the engine hangs: the node's grace rules decide), nor is an
   * action (POST, PUT, DELETE: a lost answer may hide a done action; launch.ts and runtime.ts look first).
   */
  async call<T = unknown>(what: string, req: EngineRequest, options: CallOptions = {}): Promise<T> {
    const retries = req.method === "GET" && req.stream !== true ? READ_RETRIES : 0;
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.engineCall(what, (docker, signal) => dial<T>(docker, { ...req, signal }), options);
      } catch (err) {
        if (attempt >= retries || !isFastReadFailure(err) || options.signal?.aborted) throw err;
        await sleep(backoffDelay(READ_BACKOFF, attempt + 1));
      }
    }
  }

  /** A container's inspect answer; undefined when the engine has no such container (404). */
  async inspect(idOrName: string, what: string): Promise<DockerContainerInspect | undefined> {
    try {
      return await this.call<DockerContainerInspect>(what, { method: "GET", path: `/containers/${idOrName}/json` });
    } catch (err) {
      if (statusOf(err) === 404) return undefined;
      throw err;
    }
  }

  /** Opens GET /events for our containers; gives up after callTimeoutMs without a response. */
  async openEvents(since: string | undefined, outer: AbortSignal): Promise<NodeJS.ReadableStream> {
    const abort = new AbortController();
    const onOuter = () => abort.abort();
    outer.addEventListener("abort", onOuter, { once: true });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      abort.abort();
    }, this.callTimeoutMs);
    const query: Record<string, unknown> = {
      filters: { type: ["container"], label: [`${LABELS.owner}=${this.owner}`] },
    };
    if (since !== undefined) query.since = since;
    const open = async () => {
      if (!this.streamClient) await this.negotiate(abort.signal);
      return dial<NodeJS.ReadableStream>(this.streamClient!, {
        method: "GET",
        path: "/events",
        query,
        stream: true,
        signal: abort.signal,
      });
    };
    try {
      try {
        return await open();
      } catch (err) {
        if (!isApiVersionMismatch(err)) throw err;
        await this.negotiate(abort.signal);
        return await open();
      }
    } catch (err) {
      throw classifyEngineError(err, {
        node: this.nodeName,
        endpoint: this.endpoint,
        what: "open the event stream",
        timeoutMs: this.callTimeoutMs,
        timedOut,
      });
    } finally {
      clearTimeout(timer);
    }
  }
}
