/**
 * HTTP traffic through a proxy under test: one-off GETs and steady keep-alive clients that count answers
 * per backend and record every failed request. Tests assert counts and failures, never durations.
 */
import http from "node:http";
import https from "node:https";
import type { TLSSocket } from "node:tls";
import { expect } from "vitest";
import { waitFor } from "./wait.js";

/** One GET on a fresh connection to 127.0.0.1:port: the body (trimmed); rejects on any status but 200. */
export function get(port: number, opts: { localAddress?: string } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: "127.0.0.1", port, path: "/", agent: false, ...(opts.localAddress !== undefined ? { localAddress: opts.localAddress } : {}) }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (body += c));
      res.on("end", () => (res.statusCode === 200 ? resolve(body.trim()) : reject(new Error(`HTTP ${res.statusCode}: ${body.slice(0, 200)}`))));
      res.on("error", reject);
    });
    req.setTimeout(10_000, () => req.destroy(new Error("timeout")));
    req.on("error", reject);
  });
}

/** What one request got: its status, its body (trimmed) and, over HTTPS, whom the server's certificate names. */
export interface Answer {
  status: number;
  body: string;
  /** HTTPS: the subject's common name of the certificate the server presented. */
  certificate?: string;
}

/** Where fetchAnswer sends its request. */
export interface AnswerRequest {
  /** The address to connect to; default 127.0.0.1. */
  address?: string;
  /** The Host header; default address:port. */
  host?: string;
  /** Default "/". */
  path?: string;
  /** HTTPS, trusting `ca`, asking for `servername` (SNI; none when absent). The name is not verified: the test looks at `certificate`. */
  tls?: { ca: string; servername?: string };
}

/**
 * One GET on a fresh connection to address:port, whatever the status (a proxy's 404 or 503 is an answer
 * too); rejects on a connection error or after 10 s.
 */
export function fetchAnswer(port: number, r: AnswerRequest = {}): Promise<Answer> {
  const address = r.address ?? "127.0.0.1";
  const options: https.RequestOptions = {
    host: address,
    port,
    path: r.path ?? "/",
    agent: false,
    ...(r.host !== undefined ? { setHost: false, headers: { host: r.host } } : {}),
    ...(r.tls ? { ca: r.tls.ca, ...(r.tls.servername !== undefined ? { servername: r.tls.servername } : {}), checkServerIdentity: () => undefined } : {}),
  };
  return new Promise((resolve, reject) => {
    const req = (r.tls ? https : http).get(options, (res) => {
      const certificate = r.tls ? ((res.socket as TLSSocket).getPeerCertificate().subject?.CN as string | undefined) : undefined;
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: body.trim(), ...(certificate !== undefined ? { certificate } : {}) }));
      res.on("error", reject);
    });
    req.setTimeout(10_000, () => req.destroy(new Error("timeout")));
    req.on("error", reject);
  });
}

/**
 * The bodies of `n` GETs to address:port, one after another, each on a fresh connection (so a proxy's
 * balancing decides each one), counted by body; rejects on any status but 200.
 */
export async function countAnswers(address: string, port: number, n: number): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const a = await fetchAnswer(port, { address });
    if (a.status !== 200) throw new Error(`HTTP ${a.status}: ${a.body.slice(0, 200)}`);
    counts.set(a.body, (counts.get(a.body) ?? 0) + 1);
  }
  return counts;
}

/** Steady keep-alive clients: loops of back-to-back requests over one http.Agent. */
export interface Load {
  /** Successful responses per body (trimmed: the backend's name). */
  counts: Map<string, number>;
  /** Every failed request: a socket error, a timeout or a status other than 200. */
  failures: string[];
  /** Milliseconds from sending to the end of the answer, of every successful request. */
  latencies: number[];
  /** Stops the loops (each finishes its request in flight) and closes the connections. */
  stop(): Promise<void>;
}

/**
 * Starts `clients` loops of requests to host:port (127.0.0.1 unless given), for `target.path` ("/") with
 * the Host header `target.host` (host:port); call stop() when done.
 */
export function startLoad(port: number, clients = 4, host = "127.0.0.1", target: { host?: string; path?: string } = {}): Load {
  const agent = new http.Agent({ keepAlive: true, maxSockets: clients });
  const counts = new Map<string, number>();
  const failures: string[] = [];
  const latencies: number[] = [];
  let running = true;
  const one = (): Promise<void> =>
    new Promise((resolve) => {
      const fail = (why: string): void => {
        failures.push(why);
        resolve();
      };
      const t0 = performance.now();
      const headers = target.host !== undefined ? { setHost: false, headers: { host: target.host } } : {};
      const req = http.request({ host, port, path: target.path ?? "/", agent, ...headers }, (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => (body += c));
        res.on("error", (err) => fail(err.message));
        res.on("end", () => {
          if (res.statusCode !== 200) return fail(`HTTP ${res.statusCode}: ${body.slice(0, 200)}`);
          latencies.push(performance.now() - t0);
          const name = body.trim();
          counts.set(name, (counts.get(name) ?? 0) + 1);
          resolve();
        });
      });
      req.setTimeout(10_000, () => req.destroy(new Error("request timeout")));
      req.on("error", (err) => fail(err.message));
      req.end();
    });
  const loops = Array.from({ length: clients }, async () => {
    while (running) await one();
  });
  return {
    counts,
    failures,
    latencies,
    stop: async () => {
      running = false;
      await Promise.all(loops);
      agent.destroy();
    },
  };
}

/**
 * Traffic goes where it should: every backend in `serving` answers at least `n` more requests, and then a
 * whole round of that passes in which none in `idle` answered any request; no request of the load failed.
 * Rounds repeat until one is clean (within the wait's deadline), because after a reload the old worker may
 * still answer the one request a kept-alive connection had already sent it — on a loaded machine that can
 * land a round later than usual. A backend that keeps getting traffic still fails the test.
 */
export async function servedBy(load: Load, serving: string[], idle: string[], n = 40): Promise<void> {
  const count = (name: string): number => load.counts.get(name) ?? 0;
  const more = async (): Promise<void> => {
    const base = serving.map(count);
    await waitFor(`${serving.join(", ")} to answer ${n} more requests`, () => serving.every((s, i) => count(s) >= base[i]! + n), 60_000);
  };
  await more();
  await waitFor(
    `a round of requests with none to ${idle.join(", ") || "(nothing)"}`,
    async () => {
      const idleBefore = idle.map(count);
      await more();
      return idle.every((name, i) => count(name) === idleBefore[i]);
    },
    120_000,
  );
  expect(load.failures).toEqual([]);
}

/** One answer of sendRequests: the status and body (trimmed: the backend's name), or the error; and how long it took. */
export interface TimedAnswer {
  status?: number;
  body?: string;
  error?: string;
  /** Milliseconds from sending to the end of the answer. */
  ms: number;
}

/**
 * Sends exactly `total` GETs to host:port (127.0.0.1 unless given) over `clients` keep-alive connections,
 * back to back, and resolves with every answer, whatever its status, in the order they ended.
 */
export async function sendRequests(port: number, total: number, clients = 4, host = "127.0.0.1"): Promise<TimedAnswer[]> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: clients });
  const answers: TimedAnswer[] = [];
  let sent = 0;
  const one = (): Promise<void> =>
    new Promise((resolve) => {
      const t0 = performance.now();
      const done = (a: Omit<TimedAnswer, "ms">): void => {
        answers.push({ ...a, ms: performance.now() - t0 });
        resolve();
      };
      const req = http.request({ host, port, path: "/", agent }, (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => (body += c));
        res.on("error", (err) => done({ error: err.message }));
        res.on("end", () => done({ status: res.statusCode ?? 0, body: body.trim() }));
      });
      req.setTimeout(10_000, () => req.destroy(new Error("request timeout")));
      req.on("error", (err) => done({ error: err.message }));
      req.end();
    });
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (sent < total) {
        sent++;
        await one();
      }
    }),
  );
  agent.destroy();
  return answers;
}
