/**
 * A resilient engine event stream: one long-lived GET /events request, parsed line by line, reopened
 * with back-off and `since` after the engine goes away, de-duplicated on (timeNano, id, action) because a
 * resumed stream replays the events at and after `since`.
 */
import { backoffDelay, type Backoff } from "../../api/backoff.js";
import { LineSplitter, parseEventLine, sinceFromTimeNano, type EngineEvent } from "./mapping.js";

/** What the stream needs from its owner. */
export interface EventStreamOptions {
  /**
   * Opens the HTTP stream (filters are the opener's business). `since` is undefined on the first
   * connection and after reconnects when no event was seen yet.
   */
  open(since: string | undefined, signal: AbortSignal): Promise<NodeJS.ReadableStream>;
  /** A new (not duplicate) event. */
  onEvent(event: EngineEvent): void;
  /** The stream is open; reconnect is true when it was open before (events may have been missed). */
  onConnected(reconnect: boolean): void;
  /** The stream closed or failed; a reconnect is scheduled unless stopped. */
  onDisconnected(error: unknown): void;
  /** First reconnect delay; doubles up to maxBackoffMs (api/backoff.ts, minus up to 20 % at random). */
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  /** How many recent event keys to remember for de-duplication. */
  dedupeWindow?: number;
}

/** The event stream of one engine; start() once, stop() to release everything. */
export class EventStream {
  private stopped = false;
  private started = false;
  private everConnected = false;
  private current: NodeJS.ReadableStream | undefined;
  private abort: AbortController | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** Reconnects since the stream was last open: the back-off's attempt. */
  private failures = 0;
  private lastTimeNano: string | undefined;
  private readonly seen = new Map<string, true>();
  private readonly backoff: Backoff;
  private readonly dedupeWindow: number;
  /** How many times the stream was (re)opened; for tests and metrics. */
  connections = 0;

  constructor(private readonly options: EventStreamOptions) {
    // Jitter so that many runtimes do not hammer an engine that comes back in lock-step.
    this.backoff = { initialMs: options.initialBackoffMs ?? 200, maxMs: options.maxBackoffMs ?? 5_000, jitter: 0.2 };
    this.dedupeWindow = options.dedupeWindow ?? 4_096;
  }

  /** True while the HTTP stream is open and being read. */
  get connected(): boolean {
    return this.current !== undefined;
  }

  /** Opens the stream (idempotent). */
  start(): void {
    if (this.started || this.stopped) return;
    this.started = true;
    void this.connect();
  }

  /** Closes the stream and cancels reconnects; never throws. */
  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.abort?.abort();
    this.abort = undefined;
    const s = this.current;
    this.current = undefined;
    if (s) destroyQuietly(s);
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    const abort = new AbortController();
    this.abort = abort;
    let stream: NodeJS.ReadableStream;
    try {
      stream = await this.options.open(this.lastTimeNano ? sinceFromTimeNano(this.lastTimeNano) : undefined, abort.signal);
    } catch (err) {
      if (!this.stopped) {
        this.safe(() => this.options.onDisconnected(err));
        this.scheduleReconnect();
      }
      return;
    }
    if (this.stopped) {
      destroyQuietly(stream);
      return;
    }
    this.current = stream;
    this.connections++;
    this.failures = 0;
    const reconnect = this.everConnected;
    this.everConnected = true;
    const splitter = new LineSplitter();
    let finished = false;
    const finish = (err: unknown) => {
      if (finished) return;
      finished = true;
      const last = splitter.end();
      if (last !== undefined) this.handleLine(last);
      if (this.current !== stream) return; // stopped, or already replaced
      this.current = undefined;
      destroyQuietly(stream);
      this.safe(() => this.options.onDisconnected(err));
      this.scheduleReconnect();
    };
    // When the engine dies the response emits `aborted`, `error` (ECONNRESET) and `close`, no `end`;
    // an unhandled `error` would kill the process, so every one of them is handled.
    stream.on("data", (chunk: Buffer | string) => {
      for (const line of splitter.push(chunk)) this.handleLine(line);
    });
    stream.on("error", (err: unknown) => finish(err));
    stream.on("aborted", () => finish(new Error("event stream aborted")));
    stream.on("end", () => finish(new Error("event stream ended")));
    stream.on("close", () => finish(new Error("event stream closed")));
    this.safe(() => this.options.onConnected(reconnect));
  }

  private handleLine(line: string): void {
    const event = parseEventLine(line);
    if (!event) return;
    const key = `${event.timeNano}|${event.id}|${event.action}`;
    if (this.seen.has(key)) return;
    this.seen.set(key, true);
    if (this.seen.size > this.dedupeWindow) {
      const oldest = this.seen.keys().next().value;
      if (oldest !== undefined) this.seen.delete(oldest);
    }
    if (this.lastTimeNano === undefined || compareDigits(event.timeNano, this.lastTimeNano) > 0) {
      this.lastTimeNano = event.timeNano;
    }
    this.safe(() => this.options.onEvent(event));
  }

  private scheduleReconnect(): void {
    if (this.stopped || this.timer) return;
    const delay = backoffDelay(this.backoff, ++this.failures);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.connect();
    }, delay);
    this.timer.unref();
  }

  /** Listener failures must not break the stream's bookkeeping. */
  private safe(fn: () => void): void {
    try {
      fn();
    } catch {
      // A listener's bug is the listener's; the stream keeps going.
    }
  }
}

function destroyQuietly(stream: NodeJS.ReadableStream): void {
  const s = stream as NodeJS.ReadableStream & { destroy?: () => void };
  s.on("error", () => undefined);
  s.destroy?.();
}

/** Compares two non-negative decimal digit strings numerically. */
function compareDigits(a: string, b: string): number {
  const x = a.replace(/^0+/, "");
  const y = b.replace(/^0+/, "");
  if (x.length !== y.length) return x.length - y.length;
  return x < y ? -1 : x > y ? 1 : 0;
}
