/**
 * An in-memory node proxy for unit tests and scale benchmarks: it keeps what it was given (the last
 * configuration text, its files and the runtime commands since), answers stats with no traffic, and has a
 * request log whose records a test hands in (FakeRequestLog.emit). Never the only proof that traffic
 * works: the real proxies (runtime/proxy) are tested with real HAProxy.
 */
import { createHash } from "node:crypto";
import { CoxError } from "../../api/errors.js";
import type { RequestLogTarget } from "../../traffic/haproxy.js";
import type { RequestRecord } from "../../traffic/types.js";
import type { NodeProxy, ProxyChange, ProxyHealth, ProxyServerStats, RequestLog } from "../proxy/types.js";

/** A request log that collects nothing by itself: emit() delivers the records a test makes up. */
class FakeRequestLog implements RequestLog {
  /** What start() resolves to: a UDP address nobody listens on, and a fixed tag. */
  readonly target: RequestLogTarget = { address: "127.0.0.1:9", tag: "fakefakefakefake" };
  /** What start() throws instead, when set (a collector that cannot start). */
  failure: CoxError | undefined;
  readonly #listeners = new Set<(records: readonly RequestRecord[]) => void>();

  async start(): Promise<RequestLogTarget> {
    if (this.failure !== undefined) throw this.failure;
    return this.target;
  }

  subscribe(listener: (records: readonly RequestRecord[]) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Delivers `records` to the subscribers, as a real collector does with what arrives. */
  emit(records: readonly RequestRecord[]): void {
    for (const listener of this.#listeners) listener(records);
  }
}

/** A NodeProxy that applies nothing anywhere; see the module comment. */
export class FakeProxy implements NodeProxy {
  /** Where a real proxy would put the files; nothing is written there. */
  readonly filesDir = "/fake/proxy/files";
  /** The configuration texts applied with a reload, oldest first. */
  readonly reloads: string[] = [];
  /** The files of the last reload, by name. */
  readonly files = new Map<string, string>();
  /** Runtime-API commands applied since the last reload, in order. */
  readonly commands: string[] = [];
  readonly requestLog = new FakeRequestLog();
  #health: ProxyHealth = { running: false, restarts: 0 };
  #closed = false;

  /** Records the change; a reload replaces the text and clears the commands. Fails after close(). */
  async apply(change: ProxyChange): Promise<void> {
    if (this.#closed) throw new CoxError("ProxyUnreachable", "the fake proxy was closed");
    if (change.reload) {
      this.reloads.push(change.text);
      this.files.clear();
      for (const f of change.files ?? []) this.files.set(f.name, f.content);
      this.commands.length = 0;
      this.#health = { ...this.#health, running: true, config: { hash: createHash("sha256").update(change.text).digest("hex"), appliedAt: Date.now() } };
    } else {
      this.commands.push(...change.commands);
    }
  }

  /** Running once a configuration was applied, until close(). */
  health(): ProxyHealth {
    return { ...this.#health };
  }

  /** No traffic goes through a fake proxy: no rows. */
  async stats(): Promise<ProxyServerStats[]> {
    return [];
  }

  /** Stops applying. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#health = { ...this.#health, running: false };
  }
}
