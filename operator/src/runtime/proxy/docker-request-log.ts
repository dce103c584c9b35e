/**
 * The request log of a Docker node's proxy (DockerProxy): HAProxy writes its lines to its standard output
 * (`log stdout`), which the engine keeps as the container's log (json-file, 10 MB × 3); the operator
 * follows that log through the Engine API (GET /containers/{id}/logs?follow, stdout only), so a remote
 * engine works like a local one. A line without this collector's random tag is not a request of ours.
 * HAProxy never waits on its standard output: when the engine reads it late and the pipe is full, it drops
 * the line (counted in `show info`'s DroppedLogs), so under load the records are a sample, not every request.
 *
 * Each line comes with the engine's timestamp. When the stream ends (the container stopped or was
 * replaced, the connection broke) it is opened again after a second, from just after the last line read:
 * no line is read twice, and none is skipped while the engine still keeps it. Lines read after such a
 * gap arrive late (RequestRecord.at is when the operator received them). Following starts at the
 * engine's clock when start() is called: an adopted container's older lines are not read.
 */
import { randomBytes } from "node:crypto";
import { toCoxError } from "../../api/errors.js";
import type { Logger } from "../../api/log.js";
import { parseRequestLine, type RequestLogTarget } from "../../traffic/haproxy.js";
import type { RequestRecord } from "../../traffic/types.js";
import type { DockerRuntime } from "../docker/runtime.js";
import { ExecOutputDemuxer, LineSplitter, sinceOfTimestamp } from "../docker/mapping.js";
import type { RequestLog } from "./types.js";

/** What a DockerRequestLog needs of its proxy. */
export interface DockerRequestLogOptions {
  /** The node's engine. */
  engine: Pick<DockerRuntime, "request">;
  /** The proxy's container now (its id), if there is one. */
  container: () => string | undefined;
  /** The engine's clock now, as a `since` of its log. */
  engineNow: () => Promise<string>;
  /** How long to wait before following again after the stream ended or could not be opened; default 1 s. */
  retryMs?: number;
  /** Where a failure to follow is said (once per kind of failure). */
  log?: Logger;
}

/** A RequestLog over a Docker container's log; see the module comment. */
export class DockerRequestLog implements RequestLog {
  readonly #opts: DockerRequestLogOptions;
  readonly #tag = randomBytes(12).toString("hex");
  readonly #listeners = new Set<(records: readonly RequestRecord[]) => void>();
  #started: Promise<RequestLogTarget> | undefined;
  /** Where the next stream starts (a `since`): the engine's clock at start(), then just after the last line read. */
  #since: string | undefined;
  #stream: (NodeJS.ReadableStream & { destroy(): void }) | undefined;
  #wake: (() => void) | undefined;
  #lastFailure: string | undefined;
  #closed = false;

  constructor(opts: DockerRequestLogOptions) {
    this.#opts = opts;
  }

  start(): Promise<RequestLogTarget> {
    this.#started ??= (async () => {
      this.#since = await this.#opts.engineNow();
      void this.#follow();
      return { address: "stdout", tag: this.#tag };
    })().catch((err: unknown) => {
      this.#started = undefined;
      throw err;
    });
    return this.#started;
  }

  subscribe(listener: (records: readonly RequestRecord[]) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** The proxy's container was created, adopted or started: follow it now rather than at the next retry. */
  containerChanged(): void {
    this.#wake?.();
  }

  /** Stops following. */
  close(): void {
    this.#closed = true;
    this.#listeners.clear();
    this.#stream?.destroy();
    this.#wake?.();
  }

  /** Follows the container's log until close(), opening the stream again whenever it ends. */
  async #follow(): Promise<void> {
    while (!this.#closed) {
      const id = this.#opts.container();
      if (id !== undefined) {
        try {
          await this.#read(id);
          this.#lastFailure = undefined;
        } catch (err) {
          const e = toCoxError(err);
          const line = `the node proxy's request log cannot be followed: ${e.code}: ${e.message}`;
          if (line !== this.#lastFailure) this.#opts.log?.warn(line);
          this.#lastFailure = line;
        }
      }
      if (this.#closed) return;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.#opts.retryMs ?? 1_000);
        timer.unref();
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#wake = undefined;
    }
  }

  /** One stream of the container's log from #since, until it ends. */
  async #read(id: string): Promise<void> {
    const stream = await this.#opts.engine.request<NodeJS.ReadableStream & { destroy(): void }>("follow the node proxy's request log", {
      method: "GET",
      path: `/containers/${id}/logs`,
      query: { follow: true, stdout: true, stderr: false, timestamps: true, since: this.#since! },
      stream: true,
    });
    if (this.#closed) {
      stream.destroy();
      return;
    }
    this.#stream = stream;
    const frames = new ExecOutputDemuxer(0);
    const lines = new LineSplitter();
    await new Promise<void>((resolve) => {
      stream.on("data", (chunk: Buffer) => {
        const records: RequestRecord[] = [];
        const at = Date.now();
        for (const payload of frames.push(chunk)) {
          for (const line of lines.push(payload)) {
            const space = line.indexOf(" ");
            const next = space > 0 ? sinceOfTimestamp(line.slice(0, space), 1) : undefined;
            if (next === undefined) continue;
            this.#since = next;
            const record = parseRequestLine(line.slice(space + 1), this.#tag, at);
            if (record !== undefined) records.push(record);
          }
        }
        if (records.length > 0) for (const listener of this.#listeners) listener(records);
      });
      stream.on("end", resolve);
      stream.on("close", resolve);
      stream.on("error", resolve);
    });
    if (this.#stream === stream) this.#stream = undefined;
  }
}
