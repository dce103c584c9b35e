/**
 * The HTTP client side of `bench:proxy` (test/bench/proxy.bench.ts), run as a child process of its own so
 * that neither the operator (in the bench's process) nor the backends (pod processes) share its event loop.
 * Driven over the IPC channel: one request message in, one reply out, in the order asked.
 *
 * - load: N keep-alive connections, opened and warmed up before the window, then a closed loop (each
 *   connection sends its next request when the previous one answered) for a fixed duration. Counted: the
 *   requests sent and answered inside the window; errors (refused, reset, timeouts, non-200 answers) by
 *   kind, for every request sent inside it. A failed connection is opened again. Latency is send → last
 *   byte of the answer. Closed loop: a stall delays the next sends instead of piling them up, so p99 is
 *   of the requests made (coordinated omission), and a slower target shows first as fewer requests/s.
 * - probe: a few keep-alive connections sending one request each every `gapMs` for as long as asked,
 *   remembering per backend (the answer's body: the pod's name) the first and last answer's time.
 * - first-answer: a new connection and one request every `everyMs` until one is answered with 200.
 *
 * Times are CLOCK_MONOTONIC (process.hrtime) in ms, the same clock in every process of the machine, so the
 * bench compares them with its own. The client is a minimal HTTP/1.1 one over net sockets (answers framed
 * by Content-Length, which the backends always send): Node's http client would cost more CPU than what is
 * measured on a 2-core machine.
 */
import { connect, type Socket } from "node:net";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** CLOCK_MONOTONIC in milliseconds, comparable across processes. */
export function monotonicMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/** What the bench asks. */
export type ClientAsk =
  | { type: "load"; host: string; port: number; clients: number; warmupMs: number; durationMs: number }
  | { type: "probe-start"; host: string; port: number; connections: number; gapMs: number }
  | { type: "probe-seen" }
  | { type: "probe-stop" }
  | { type: "first-answer"; host: string; port: number; everyMs: number; timeoutMs: number };

/** One message to the child: `id` comes back in the reply. */
export type ClientRequest = ClientAsk & { id: number };

/** The result of a load run. */
export interface LoadResult {
  /** Requests sent and answered (200) inside the window. */
  requests: number;
  windowMs: number;
  /** Send → answer, ms, of the counted requests (unsorted). */
  latencies: number[];
  /** Errors of requests sent inside the window, by kind ("ECONNRESET", "HTTP 503", "timeout", …). */
  errors: Record<string, number>;
  /** Connections opened again after one failed or was closed by the other side. */
  reconnects: number;
  /** Answers per backend (the answer's body). */
  byBackend: Record<string, number>;
  /** CPU the client used in the window, as a share of one core (0–1). */
  cpu: number;
}

/** What the prober has seen since it started. */
export interface ProbeSeen {
  /** Per backend: monotonic ms of its first and last answer, and how many. */
  backends: Record<string, { first: number; last: number; count: number }>;
  requests: number;
  /** Errors by kind, with the monotonic ms of the first and last. */
  errors: Record<string, { count: number; first: number; last: number }>;
  /** Monotonic ms when the probe started (for its rate). */
  since: number;
}

/** The answer to a first-answer request. */
export interface FirstAnswer {
  /** Monotonic ms of the first 200 answer, or undefined after timeoutMs. */
  at?: number;
  attempts: number;
}

/** The child's replies. */
export type ClientReply = { id: number; error?: string; result?: LoadResult | ProbeSeen | FirstAnswer | null };

const REQUEST = Buffer.from("GET / HTTP/1.1\r\nHost: bench\r\n\r\n", "latin1");
const HEADER_END = Buffer.from("\r\n\r\n", "latin1");
/** An answer slower than this counts as a timeout error (and its connection is replaced). */
const REQUEST_TIMEOUT_MS = 5_000;

/** One keep-alive connection carrying one request at a time. */
class Connection {
  private buf: Buffer = Buffer.alloc(0);
  private pending: { resolve: (a: { status: number; body: string }) => void; reject: (e: Error) => void; timer: NodeJS.Timeout } | undefined;
  /** The server said Connection: close, or the socket failed: open a new one before the next request. */
  dead = false;

  private constructor(private readonly socket: Socket) {
    socket.setNoDelay(true);
    socket.on("data", (chunk: Buffer) => this.onData(chunk));
    socket.on("error", (err: NodeJS.ErrnoException) => this.fail(err.code ?? err.message));
    socket.on("close", () => this.fail("closed before the answer"));
  }

  static open(host: string, port: number): Promise<Connection> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host, port });
      const onError = (err: NodeJS.ErrnoException): void => reject(new Error(err.code ?? err.message));
      socket.once("error", onError);
      socket.once("connect", () => {
        socket.off("error", onError);
        resolve(new Connection(socket));
      });
    });
  }

  request(): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => this.fail("timeout"), REQUEST_TIMEOUT_MS);
      this.pending = { resolve, reject, timer };
      this.socket.write(REQUEST);
    });
  }

  close(): void {
    this.dead = true;
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const end = this.buf.indexOf(HEADER_END);
    if (end < 0) return;
    const head = this.buf.toString("latin1", 0, end);
    const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
    if (length === null) {
      this.fail("answer without Content-Length");
      return;
    }
    const total = end + HEADER_END.length + Number(length[1]);
    if (this.buf.length < total) return;
    const body = this.buf.toString("utf8", end + HEADER_END.length, total).trim();
    this.buf = this.buf.subarray(total);
    if (/\r\nconnection:\s*close/i.test(head)) this.dead = true;
    const p = this.pending;
    this.pending = undefined;
    if (p) {
      clearTimeout(p.timer);
      p.resolve({ status: Number(head.slice(9, 12)), body });
    }
  }

  private fail(why: string): void {
    this.dead = true;
    const p = this.pending;
    this.pending = undefined;
    if (p) {
      clearTimeout(p.timer);
      p.reject(new Error(why));
    }
    this.socket.destroy();
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function load(host: string, port: number, clients: number, warmupMs: number, durationMs: number): Promise<LoadResult> {
  // Every connection is open before the clock starts; the warm-up lets both sides reach a steady state.
  const conns = await Promise.all(Array.from({ length: clients }, () => Connection.open(host, port)));
  const start = monotonicMs() + warmupMs;
  const end = start + durationMs;
  const latencies: number[] = [];
  const errors: Record<string, number> = {};
  const byBackend: Record<string, number> = {};
  let reconnects = 0;
  let cpuStart: NodeJS.CpuUsage | undefined;
  const cpuTimer = setTimeout(() => (cpuStart = process.cpuUsage()), warmupMs);
  await Promise.all(
    conns.map(async (first) => {
      let conn: Connection | undefined = first;
      for (;;) {
        const sent = monotonicMs();
        if (sent >= end) break;
        const counted = sent >= start;
        try {
          if (conn === undefined || conn.dead) {
            conn?.close();
            conn = undefined;
            reconnects++;
            conn = await Connection.open(host, port);
          }
          const { status, body } = await conn.request();
          const done = monotonicMs();
          if (!counted) continue;
          if (status !== 200) errors[`HTTP ${status}`] = (errors[`HTTP ${status}`] ?? 0) + 1;
          else if (done <= end) {
            latencies.push(done - sent);
            byBackend[body] = (byBackend[body] ?? 0) + 1;
          }
        } catch (err) {
          if (counted) errors[(err as Error).message] = (errors[(err as Error).message] ?? 0) + 1;
          conn?.close();
          conn = undefined;
          // A refused connection would otherwise spin: try again a little later.
          await sleep(1);
        }
      }
      conn?.close();
    }),
  );
  clearTimeout(cpuTimer);
  const used = cpuStart ? process.cpuUsage(cpuStart) : { user: 0, system: 0 };
  return { requests: latencies.length, windowMs: durationMs, latencies, errors, reconnects, byBackend, cpu: (used.user + used.system) / 1000 / durationMs };
}

/** The running probe, if any. */
let probe: { stop: boolean; seen: ProbeSeen; loops: Promise<void>[] } | undefined;

function startProbe(host: string, port: number, connections: number, gapMs: number): void {
  const seen: ProbeSeen = { backends: {}, requests: 0, errors: {}, since: monotonicMs() };
  const p: { stop: boolean; seen: ProbeSeen; loops: Promise<void>[] } = { stop: false, seen, loops: [] };
  const loop = async (): Promise<void> => {
    let conn: Connection | undefined;
    while (!p.stop) {
      try {
        if (conn === undefined || conn.dead) {
          conn?.close();
          conn = undefined;
          conn = await Connection.open(host, port);
        }
        const { status, body } = await conn.request();
        const at = monotonicMs();
        seen.requests++;
        if (status !== 200) throw new Error(`HTTP ${status}`);
        const b = (seen.backends[body] ??= { first: at, last: at, count: 0 });
        b.last = at;
        b.count++;
      } catch (err) {
        const at = monotonicMs();
        const e = (seen.errors[(err as Error).message] ??= { count: 0, first: at, last: at });
        e.count++;
        e.last = at;
        conn?.close();
        conn = undefined;
      }
      await sleep(gapMs);
    }
    conn?.close();
  };
  p.loops = Array.from({ length: connections }, loop);
  probe = p;
}

async function firstAnswer(host: string, port: number, everyMs: number, timeoutMs: number): Promise<FirstAnswer> {
  const deadline = monotonicMs() + timeoutMs;
  let attempts = 0;
  while (monotonicMs() < deadline) {
    attempts++;
    let conn: Connection | undefined;
    try {
      conn = await Connection.open(host, port);
      const { status } = await conn.request();
      const at = monotonicMs();
      if (status === 200) return { at, attempts };
    } catch {
      // Not listening yet (refused), or cut off by a reload: try again.
    } finally {
      conn?.close();
    }
    await sleep(everyMs);
  }
  return { attempts };
}

async function handle(m: ClientRequest): Promise<ClientReply["result"]> {
  switch (m.type) {
    case "load":
      return load(m.host, m.port, m.clients, m.warmupMs, m.durationMs);
    case "probe-start":
      if (probe) throw new Error("a probe is already running");
      startProbe(m.host, m.port, m.connections, m.gapMs);
      return null;
    case "probe-seen":
      if (!probe) throw new Error("no probe is running");
      return structuredClone(probe.seen);
    case "probe-stop": {
      const p = probe;
      probe = undefined;
      if (p) {
        p.stop = true;
        await Promise.all(p.loops);
      }
      return null;
    }
    case "first-answer":
      return firstAnswer(m.host, m.port, m.everyMs, m.timeoutMs);
  }
}

// Run as the child (the bench imports this module too, for its clock and types).
if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  if (process.send === undefined) {
    process.stderr.write("proxy-client.ts is started by test/bench/proxy.bench.ts over an IPC channel\n");
    process.exit(2);
  }
  process.on("message", (m: ClientRequest) => {
    handle(m).then(
      (result) => process.send!({ id: m.id, result } satisfies ClientReply),
      (err: unknown) => process.send!({ id: m.id, error: (err as Error).message } satisfies ClientReply),
    );
  });
  // The bench closes the channel when it is done (or dies): stop with it.
  process.on("disconnect", () => process.exit(0));
}
