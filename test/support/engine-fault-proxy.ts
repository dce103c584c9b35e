/**
 * A fault-injecting HTTP proxy in front of a Docker engine, for reliability tests: it listens on a unix
 * socket of its own (a Node's `endpoint` points there) and passes every Engine API request to the real
 * engine's socket, unless its mode says otherwise. The mode can be switched at any time:
 *
 * - "pass": every request and answer goes through untouched.
 * - "hang": an engine that stopped answering (as a SIGSTOPped dockerd): new requests are accepted and held
 *   without an answer, answers under way (event streams included) stop flowing. Back to another mode, the
 *   held requests whose client still waits reach the engine, as a resumed daemon reads them, and what was
 *   held of the answers flows again.
 * - "slow": every answer is held `delayMs` before its head is passed on (the engine acted already).
 * - "flaky": every other call fails, alternately with a 500 made up by the proxy (the engine never saw the
 *   call) and with a connection reset after the engine answered (the engine acted, its answer is lost: the
 *   case that tempts a client to do it twice). Only actions (POST, PUT, DELETE) unless `reads` is set;
 *   with `only`, only the calls it picks (method, path without the version) count and fail. With `perPath`,
 *   the first, third, … call to each path fails instead (one call in two, and the call after a failed one
 *   on the same path gets through whatever else runs beside it).
 *
 * It counts what it sees: calls, failures it injected, and per container name the creates, starts, stops
 * and removes it saw and those the engine carried out (answered 2xx), so a test can tell a retry from a
 * double action. Containers are named by their create's `name`; later calls by id are mapped back.
 */
import fs from "node:fs";
import http from "node:http";

/** How the proxy treats calls; see the file comment. */
export type FaultMode = { kind: "pass" } | { kind: "hang" } | { kind: "slow"; delayMs: number } | { kind: "flaky"; reads?: boolean; only?: (method: string, path: string) => boolean; perPath?: boolean };

/** What happened to the calls on one container name. */
export interface ContainerCalls {
  /** The pod label of its create (io.coxswain.pod), when it had one. */
  pod?: string;
  /** Calls seen (whatever became of them) and calls the engine carried out (2xx; a start's 304 too). */
  create: { seen: number; done: number };
  start: { seen: number; done: number };
  stop: { seen: number; done: number };
  remove: { seen: number; done: number };
}

/** Counters of a proxy. */
export interface FaultStats {
  /** Requests received. */
  calls: number;
  /** Requests held by "hang" (all of them, also those later passed on). */
  held: number;
  /** Answers delayed by "slow". */
  delayed: number;
  /** Calls failed by "flaky" with a made-up 500, and with a reset after the engine's answer. */
  injected500: number;
  injectedReset: number;
}

type Action = "create" | "start" | "stop" | "remove";

/** The container call a request is, from its method and path (version prefix already cut). */
function actionOf(method: string, path: string): { action: Action; ref?: string } | undefined {
  if (method === "POST" && path === "/containers/create") return { action: "create" };
  let m = /^\/containers\/([^/]+)\/(start|stop)$/.exec(path);
  if (m && method === "POST") return { action: m[2] as Action, ref: decodeURIComponent(m[1]!) };
  m = /^\/containers\/([^/]+)$/.exec(path);
  if (m && method === "DELETE") return { action: "remove", ref: decodeURIComponent(m[1]!) };
  return undefined;
}

/** A running fault proxy. */
export class EngineFaultProxy {
  private mode: FaultMode = { kind: "pass" };
  /** Work waiting for the end of a hang, in arrival order. */
  private held: (() => void)[] = [];
  private flakyCount = 0;
  /** Calls per path in a "flaky" mode with perPath. */
  private readonly pathCounts = new Map<string, number>();
  private perPathFaults = 0;
  private readonly byName = new Map<string, ContainerCalls>();
  private readonly nameOfId = new Map<string, string>();
  private readonly counters: FaultStats = { calls: 0, held: 0, delayed: 0, injected500: 0, injectedReset: 0 };
  private readonly server: http.Server;

  private constructor(
    /** The proxy's own socket. */
    readonly socketPath: string,
    private readonly upstreamSocket: string,
  ) {
    this.server = http.createServer((req, res) => this.handle(req, res));
    this.server.keepAliveTimeout = 60_000;
  }

  /** Starts a proxy on `socketPath` in front of the engine at `upstreamSocket`, in mode "pass". */
  static async start(upstreamSocket: string, socketPath: string): Promise<EngineFaultProxy> {
    fs.rmSync(socketPath, { force: true });
    const proxy = new EngineFaultProxy(socketPath, upstreamSocket);
    await new Promise<void>((resolve, reject) => {
      proxy.server.once("error", reject);
      proxy.server.listen(socketPath, () => resolve());
    });
    return proxy;
  }

  /** "unix://" + socketPath: what a Node's endpoint says. */
  get endpoint(): string {
    return `unix://${this.socketPath}`;
  }

  /** Switches the mode; leaving "hang" lets what it held go on, in order. */
  setMode(mode: FaultMode): void {
    this.mode = mode;
    if (mode.kind !== "hang") {
      const held = this.held;
      this.held = [];
      for (const go of held) go();
    }
  }

  /** The counters so far (a copy). */
  stats(): FaultStats {
    return { ...this.counters };
  }

  /** Calls per container name, sorted by name (copies). */
  containers(): Map<string, ContainerCalls> {
    const names = [...this.byName.keys()].sort();
    return new Map(names.map((n) => [n, structuredClone(this.byName.get(n)!)]));
  }

  /** Zeroes every counter (names already mapped to ids stay known). */
  resetCounts(): void {
    this.byName.clear();
    this.pathCounts.clear();
    Object.assign(this.counters, { calls: 0, held: 0, delayed: 0, injected500: 0, injectedReset: 0 });
  }

  /** Stops listening and cuts every connection. */
  async close(): Promise<void> {
    this.setMode({ kind: "pass" });
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    fs.rmSync(this.socketPath, { force: true });
  }

  /** Runs `fn` now, or when the hang ends. */
  private flowing(fn: () => void): void {
    if (this.mode.kind === "hang") this.held.push(fn);
    else fn();
  }

  private entry(name: string): ContainerCalls {
    let e = this.byName.get(name);
    if (!e) {
      e = { create: { seen: 0, done: 0 }, start: { seen: 0, done: 0 }, stop: { seen: 0, done: 0 }, remove: { seen: 0, done: 0 } };
      this.byName.set(name, e);
    }
    return e;
  }

  /** The name of a container referred to by id (full or prefix) or by name. */
  private nameOf(ref: string): string {
    const direct = this.nameOfId.get(ref);
    if (direct) return direct;
    if (/^[0-9a-f]{12,64}$/.test(ref)) for (const [id, name] of this.nameOfId) if (id.startsWith(ref)) return name;
    return ref.replace(/^\//, "");
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    this.counters.calls++;
    const url = new URL(req.url ?? "/", "http://engine");
    const path = url.pathname.replace(/^\/v\d+\.\d+/, "");
    const method = req.method ?? "GET";
    const action = actionOf(method, path);
    // The request body is read now (create bodies name the pod; the engine gets it when the call goes on).
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("error", () => undefined);
    res.on("error", () => undefined);
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      let name: string | undefined;
      if (action?.action === "create") {
        name = url.searchParams.get("name") ?? undefined;
        if (name !== undefined) {
          const e = this.entry(name);
          try {
            const pod = (JSON.parse(body.toString("utf8")) as { Labels?: Record<string, string> }).Labels?.["io.coxswain.pod"];
            if (pod) e.pod = pod;
          } catch {
            // not JSON: no pod
          }
        }
      } else if (action?.ref !== undefined) name = this.nameOf(action.ref);
      if (name !== undefined) this.entry(name)[action!.action].seen++;
      const go = () => this.forward(req, res, method, path, body, action?.action, name);
      if (this.mode.kind === "hang") {
        this.counters.held++;
        // Passed on when the hang ends, unless the client gave up meanwhile.
        this.held.push(() => {
          if (!res.destroyed && !req.socket.destroyed) go();
        });
      } else go();
    });
  }

  private forward(req: http.IncomingMessage, res: http.ServerResponse, method: string, path: string, body: Buffer, action: Action | undefined, name: string | undefined): void {
    let fault: "500" | "reset" | undefined;
    const m = this.mode;
    if (m.kind === "flaky" && (m.only ? m.only(method, path) : method !== "GET" || m.reads === true)) {
      if (m.perPath === true) {
        const n = (this.pathCounts.get(path) ?? 0) + 1;
        this.pathCounts.set(path, n);
        if (n % 2 === 1) fault = this.perPathFaults++ % 2 === 0 ? "500" : "reset";
      } else {
        this.flakyCount++;
        if (this.flakyCount % 2 === 0) fault = this.flakyCount % 4 === 2 ? "500" : "reset";
      }
    }
    if (fault === "500") {
      this.counters.injected500++;
      res.writeHead(500, { "Content-Type": "application/json" });
      res.end(JSON.stringify({ message: "injected fault: the engine failed this call" }));
      return;
    }
    const headers = { ...req.headers };
    delete headers["content-length"];
    const upstream = http.request({ socketPath: this.upstreamSocket, method, path: req.url, headers: { ...headers, "content-length": String(body.length) } });
    upstream.on("error", () => res.destroy());
    res.on("close", () => upstream.destroy());
    upstream.on("response", (answer) => {
      const status = answer.statusCode ?? 502;
      const ok = (status >= 200 && status < 300) || (status === 304 && action === "start");
      if (ok && action !== undefined && name !== undefined) this.entry(name)[action].done++;
      // A create's answer names the id the later calls use.
      const idChunks: Buffer[] | undefined = action === "create" && status === 201 && name !== undefined ? [] : undefined;
      const learnId = () => {
        try {
          const id = (JSON.parse(Buffer.concat(idChunks!).toString("utf8")) as { Id?: string }).Id;
          if (id) this.nameOfId.set(id, name!);
        } catch {
          // no id
        }
      };
      // Nothing is read of the answer until it is passed on (or dropped by a reset).
      answer.pause();
      if (fault === "reset") {
        this.counters.injectedReset++;
        answer.on("data", (c: Buffer) => idChunks?.push(c));
        answer.on("end", () => {
          if (idChunks) learnId();
          req.socket.destroy();
        });
        answer.resume();
        return;
      }
      const delay = this.mode.kind === "slow" ? this.mode.delayMs : 0;
      const pass = () =>
        this.flowing(() => {
          if (res.destroyed) return;
          res.writeHead(status, answer.statusMessage, answer.headers);
          answer.on("data", (c: Buffer) => {
            idChunks?.push(c);
            // Held while the engine hangs, in order.
            if (this.mode.kind === "hang" || this.held.length > 0) {
              answer.pause();
              this.flowing(() => {
                if (!res.destroyed) res.write(c);
                answer.resume();
              });
            } else res.write(c);
          });
          answer.on("end", () => {
            if (idChunks) learnId();
            this.flowing(() => res.end());
          });
          answer.resume();
        });
      if (delay > 0) {
        this.counters.delayed++;
        setTimeout(pass, delay).unref();
      } else pass();
    });
    upstream.end(body);
  }
}
