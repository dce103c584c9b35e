/**
 * An in-memory node proxy for unit tests and scale benchmarks: it keeps what it was given (the last
 * configuration text, its files and the runtime commands since) and answers stats with no traffic. Never
 * the only proof that traffic works: the real proxies (runtime/proxy) are tested with real HAProxy.
 */
import { createHash } from "node:crypto";
import { CoxError } from "../../api/errors.js";
import type { NodeProxy, ProxyChange, ProxyHealth, ProxyServerStats } from "../proxy/types.js";

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
