/**
 * Probe execution and threshold tracking, following Kubernetes' rules. No scheduling loop: the fleet
 * decides when a probe is due (ProbeTracker.dueAt, or runtime/health.ts) and calls runProbe.
 */
import { request, type OutgoingHttpHeaders } from "node:http";
import { request as httpsRequest } from "node:https";
import { connect, type Socket } from "node:net";
import { ChannelCredentials, Client, credentials, Metadata, status as grpcStatus, type ServiceError } from "@grpc/grpc-js";
import { CoxError } from "../api/errors.js";
import { HEALTH_SERVICE, type HealthCheckRequest, type HealthCheckResponse } from "./grpc-health.js";
import type { ExecResult, NodeRuntime } from "./types.js";

/** One custom header of an HTTP probe (Kubernetes httpGet.httpHeaders); names may repeat. */
export interface ProbeHttpHeader {
  name: string;
  value: string;
}

/** An HTTP GET probe. */
export interface HttpProbeTarget {
  type: "http";
  /** Address to connect to: httpGet.host when the manifest sets it, else the node's address. */
  host: string;
  port: number;
  path: string;
  /** "HTTPS" connects with TLS and, as the kubelet, does not verify the certificate (default "HTTP"). */
  scheme?: "HTTP" | "HTTPS";
  /**
   * Headers sent in order; a header named like a default (User-Agent, Accept) replaces it, and "Host"
   * replaces the Host header (Kubernetes' way to probe a virtual host).
   */
  headers?: readonly ProbeHttpHeader[];
}

/** A TCP connect probe. */
export interface TcpProbeTarget {
  type: "tcp";
  host: string;
  port: number;
}

/** A gRPC probe: grpc.health.v1.Health/Check over plaintext HTTP/2, as the kubelet's. */
export interface GrpcProbeTarget {
  type: "grpc";
  host: string;
  port: number;
  /** The service asked about (HealthCheckRequest.service); "" (the default) asks about the whole server. */
  service?: string;
}

/** An exec probe run through a node's runtime in one container. */
export interface RuntimeExecProbeTarget {
  type: "exec";
  /** argv, no shell (wrap in ["sh", "-c", …] for one), as Kubernetes' exec.command. */
  command: readonly string[];
  runtime: Pick<NodeRuntime, "exec">;
  containerId: string;
}

/** An exec probe given as a function (tests, or a caller that already holds the runtime call). */
export interface FunctionExecProbeTarget {
  type: "exec";
  /** Runs the command with the deadline; a rejection is a failed probe. */
  run: (timeoutMs: number) => Promise<ExecResult>;
  /** For messages; defaults to "exec". */
  command?: readonly string[];
}

/** Where to probe: an HTTP GET, a TCP connect, a gRPC health check, or a command in the container. */
export type ProbeTarget = HttpProbeTarget | TcpProbeTarget | GrpcProbeTarget | RuntimeExecProbeTarget | FunctionExecProbeTarget;

/** The result of one probe; `message` says what was seen, e.g. "HTTP 404 from GET http://127.0.0.1:30001/healthz". */
export interface ProbeOutcome {
  ok: boolean;
  message: string;
}

/** At most this much of an HTTP body is read before the connection is dropped (Kubernetes: 10 KiB). */
const MAX_BODY_BYTES = 10 * 1024;

/** User-Agent of HTTP probes (Kubernetes sends kube-probe/<version>). */
export const PROBE_USER_AGENT = "coxswain-probe/1";

function hostForUrl(host: string): string {
  return host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
}

/**
 * Runs one probe with a deadline and never throws. HTTP: GET without following redirects; success is
 * 200 ≤ status < 400 (a 3xx counts as success), the body is read up to MAX_BODY_BYTES and discarded, and
 * an error while reading it is a failure. TCP: success is an established connection, closed at once.
 * Exec: success is exit code 0; any other code, a command that could not run (the runtime threw: the
 * container stopped, the node is unreachable) and a timeout are failures, the message carrying the
 * command's output. gRPC: one Health/Check call on a fresh plaintext connection; success is the status
 * SERVING, anything else (NOT_SERVING, UNKNOWN, SERVICE_UNKNOWN, an RPC error such as NOT_FOUND for a
 * service the server does not know, no connection) is a failure, with the kubelet's messages. A probe that
 * has not finished within `timeoutMs` fails with "timed out after N ms".
 */
export function runProbe(target: ProbeTarget, timeoutMs: number): Promise<ProbeOutcome> {
  return new Promise<ProbeOutcome>((resolve) => {
    let settled = false;
    let cleanup: () => void = () => {};
    const finish = (outcome: ProbeOutcome): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      cleanup();
      resolve(outcome);
    };
    const timer = setTimeout(() => finish({ ok: false, message: `timed out after ${timeoutMs} ms` }), Math.max(0, timeoutMs));
    try {
      if (target.type === "tcp") probeTcp(target, finish, (c) => (cleanup = c));
      else if (target.type === "exec") probeExec(target, timeoutMs, finish);
      else if (target.type === "grpc") probeGrpc(target, timeoutMs, finish, (c) => (cleanup = c));
      else probeHttp(target, finish, (c) => (cleanup = c));
    } catch (err) {
      finish({ ok: false, message: err instanceof Error ? err.message : String(err) });
    }
  });
}

/** At most this much of an exec probe's output goes into its message. */
const EXEC_MESSAGE_OUTPUT = 256;

function describeCommand(command: readonly string[] | undefined): string {
  return command === undefined ? "exec" : `exec ${JSON.stringify(command)}`;
}

function probeExec(target: RuntimeExecProbeTarget | FunctionExecProbeTarget, timeoutMs: number, finish: (o: ProbeOutcome) => void): void {
  const what = describeCommand(target.command);
  const run = "run" in target ? target.run(timeoutMs) : target.runtime.exec(target.containerId, target.command, timeoutMs);
  run.then(
    (result) => {
      if (result.timedOut) return finish({ ok: false, message: `${what} timed out after ${timeoutMs} ms` });
      const output = result.output.trim();
      const shown = output.length > EXEC_MESSAGE_OUTPUT ? `${output.slice(0, EXEC_MESSAGE_OUTPUT)}…` : output;
      finish({
        ok: result.exitCode === 0,
        message: `${what} exited with exit code ${result.exitCode}${shown === "" ? "" : `: ${shown}`}`,
      });
    },
    (err: unknown) => finish({ ok: false, message: `${what} could not run: ${err instanceof Error ? err.message : String(err)}` }),
  );
}

/**
 * The headers of an HTTP probe: Kubernetes' defaults (User-Agent, Accept: star/star) with the target's
 * headers over them (case-insensitive; repeated names send every value), and Connection: close.
 */
export function probeHeaders(target: Pick<HttpProbeTarget, "headers">): OutgoingHttpHeaders {
  const out = new Map<string, { name: string; values: string[] }>([
    ["user-agent", { name: "User-Agent", values: [PROBE_USER_AGENT] }],
    ["accept", { name: "Accept", values: ["*/*"] }],
  ]);
  const custom = new Set<string>();
  for (const h of target.headers ?? []) {
    const key = h.name.toLowerCase();
    if (key === "connection" || key === "content-length" || key === "transfer-encoding") continue;
    if (!custom.has(key)) out.set(key, { name: h.name, values: [] });
    custom.add(key);
    out.get(key)!.values.push(h.value);
  }
  const headers: OutgoingHttpHeaders = {};
  for (const { name, values } of out.values()) headers[name] = values.length === 1 ? values[0]! : values;
  headers.Connection = "close";
  return headers;
}

function probeTcp(target: Extract<ProbeTarget, { type: "tcp" }>, finish: (o: ProbeOutcome) => void, setCleanup: (c: () => void) => void): void {
  const socket = connect({ host: target.host, port: target.port });
  setCleanup(() => socket.destroy());
  socket.once("connect", () => finish({ ok: true, message: `connected to ${hostForUrl(target.host)}:${target.port}` }));
  socket.on("error", (err) => finish({ ok: false, message: err.message }));
}

type SecureConnector = ReturnType<ChannelCredentials["_createSecureConnector"]>;

/**
 * Plaintext credentials of one probe that remember the probe's connections so that they can be closed.
 * grpc-js does not abort a connection still waiting for the server's HTTP/2 settings when its channel
 * closes: against a server that accepted the TCP connection but never answers (a hung process whose
 * kernel still completes handshakes) every probe would leave a socket open for good. grpc-js calls the
 * connector's destroy() when the channel lets go of it; the probe also closes them itself when it ends.
 */
class ProbeCredentials extends ChannelCredentials {
  readonly #insecure = credentials.createInsecure();
  readonly #sockets = new Set<Socket>();

  _isSecure(): boolean {
    return false;
  }

  /** Equal to itself only: a probe never shares a connection with another one. */
  _equals(other: ChannelCredentials): boolean {
    return other === this;
  }

  _createSecureConnector(...args: Parameters<ChannelCredentials["_createSecureConnector"]>): SecureConnector {
    const inner = this.#insecure._createSecureConnector(...args);
    return {
      connect: (socket) => {
        this.#sockets.add(socket);
        return inner.connect(socket);
      },
      waitForReady: () => inner.waitForReady(),
      getCallCredentials: () => inner.getCallCredentials(),
      destroy: () => {
        inner.destroy();
        this.closeAll();
      },
    };
  }

  /** Destroys every connection the probe opened. */
  closeAll(): void {
    for (const socket of this.#sockets) socket.destroy();
    this.#sockets.clear();
  }
}

/**
 * One Health/Check, as the kubelet's gRPC prober (pkg/probe/grpc): insecure credentials, the probe's
 * User-Agent, the deadline of the probe, a new connection each time (closed afterwards). Unlike the kubelet,
 * which dials with WithBlock and so waits out the whole timeout on a refused connection, a refused or
 * reset connection fails at once (grpc-js reports UNAVAILABLE); the outcome is the same failure.
 */
function probeGrpc(target: GrpcProbeTarget, timeoutMs: number, finish: (o: ProbeOutcome) => void, setCleanup: (c: () => void) => void): void {
  const addr = `${hostForUrl(target.host)}:${target.port}`;
  const creds = new ProbeCredentials();
  const client = new Client(addr, creds, {
    "grpc.primary_user_agent": PROBE_USER_AGENT,
    "grpc.enable_retries": 0,
    "grpc.use_local_subchannel_pool": 1, // a connection of this probe's own, never one shared with another probe
  });
  const check = HEALTH_SERVICE.Check;
  const request: HealthCheckRequest = { service: target.service ?? "" };
  const call = client.makeUnaryRequest<HealthCheckRequest, HealthCheckResponse>(
    check.path,
    check.requestSerialize,
    check.responseDeserialize,
    request,
    new Metadata(),
    { deadline: Date.now() + timeoutMs },
    (err: ServiceError | null, response?: HealthCheckResponse) => {
      if (err) return finish({ ok: false, message: grpcErrorMessage(err, addr, timeoutMs) });
      const status = response?.status ?? "UNKNOWN";
      if (status !== "SERVING") return finish({ ok: false, message: `service unhealthy (responded with ${JSON.stringify(status)})` });
      finish({ ok: true, message: "service healthy" });
    },
  );
  setCleanup(() => {
    call.cancel();
    client.close();
    creds.closeAll();
  });
}

/** The kubelet's wording for a failed Health/Check (pkg/probe/grpc), by status code. */
function grpcErrorMessage(err: ServiceError, addr: string, timeoutMs: number): string {
  switch (err.code) {
    case grpcStatus.UNIMPLEMENTED:
      return `error: this server does not implement the grpc health protocol (grpc.health.v1.Health): ${err.details}`;
    case grpcStatus.DEADLINE_EXCEEDED:
      return `timeout: health rpc did not complete within ${timeoutMs} ms`;
    case grpcStatus.UNAVAILABLE:
      return `error: failed to connect service at ${JSON.stringify(addr)}: ${err.details}`;
    default:
      return `error: health rpc probe failed: ${grpcStatus[err.code] ?? err.code}: ${err.details}`;
  }
}

function probeHttp(target: HttpProbeTarget, finish: (o: ProbeOutcome) => void, setCleanup: (c: () => void) => void): void {
  const path = target.path.startsWith("/") ? target.path : `/${target.path}`;
  const https = target.scheme === "HTTPS";
  const url = `${https ? "https" : "http"}://${hostForUrl(target.host)}:${target.port}${path}`;
  const options = {
    host: target.host,
    port: target.port,
    path,
    method: "GET",
    agent: false as const, // a fresh connection per probe, as Kubernetes does (no keep-alive between probes)
    headers: probeHeaders(target),
  };
  // HTTPS probes do not verify the certificate, as the kubelet's do not.
  const req = https ? httpsRequest({ ...options, rejectUnauthorized: false }) : request(options);
  setCleanup(() => req.destroy());
  req.on("error", (err) => finish({ ok: false, message: err.message }));
  req.on("response", (res) => {
    const status = res.statusCode ?? 0;
    const outcome: ProbeOutcome = { ok: status >= 200 && status < 400, message: `HTTP ${status} from GET ${url}` };
    let read = 0;
    res.on("data", (chunk: Buffer) => {
      read += chunk.length;
      if (read >= MAX_BODY_BYTES) finish(outcome); // enough: the rest is dropped with the connection
    });
    res.on("end", () => finish(outcome));
    res.on("error", (err) => finish({ ok: false, message: `reading the body of ${url} failed: ${err.message}` }));
    res.on("close", () => {
      if (!res.complete) finish({ ok: false, message: `${url} closed the connection before the body was complete` });
    });
  });
  req.end();
}

/** Probe timing and thresholds as in a Pod spec; unset fields take Kubernetes' defaults. */
export interface ProbeParams {
  /** Seconds after the container started before the first probe (default 0). */
  initialDelaySeconds: number;
  /** Seconds between probes (default 10). */
  periodSeconds: number;
  /** Consecutive successes that make a failing probe pass (default 1). */
  successThreshold: number;
  /** Consecutive failures that make a passing probe fail (default 3). */
  failureThreshold: number;
}

/** Kubernetes' probe defaults. */
export const PROBE_DEFAULTS: Readonly<ProbeParams> = Object.freeze({
  initialDelaySeconds: 0,
  periodSeconds: 10,
  successThreshold: 1,
  failureThreshold: 3,
});

/** What a ProbeTracker says after recording a result. */
export interface ProbeRecordResult {
  /** The tracked state after this result. */
  ready: boolean;
  /** True when this result flipped the state. */
  changed: boolean;
}

/**
 * Pure threshold tracking for one probe of one container run, as Kubernetes' prober worker does it:
 * the state starts false (readiness; pass `initiallyReady` true for liveness, which starts passing);
 * it becomes true after successThreshold consecutive successes and false after failureThreshold
 * consecutive failures; results in between leave it as it was. Results recorded before the initial
 * delay has passed are ignored. Times are epoch milliseconds.
 */
export class ProbeTracker {
  /** The resolved parameters. */
  readonly params: Readonly<ProbeParams>;
  /** Epoch ms the container run started. */
  readonly startedAt: number;
  #ready: boolean;
  #since: number | undefined;
  #successes = 0;
  #failures = 0;
  #dueAt: number;

  /** Starts tracking a container run that started at `startedAt`. Throws InvalidArgument for non-positive thresholds or period, or a negative delay. */
  constructor(params: Partial<ProbeParams>, startedAt: number, initiallyReady = false) {
    const p: ProbeParams = { ...PROBE_DEFAULTS };
    for (const key of Object.keys(PROBE_DEFAULTS) as (keyof ProbeParams)[]) {
      const value = params[key];
      if (value !== undefined) p[key] = value;
    }
    for (const key of ["periodSeconds", "successThreshold", "failureThreshold"] as const) {
      if (!(p[key] >= 1)) throw new CoxError("InvalidArgument", `probe ${key} must be at least 1; got ${p[key]}`);
    }
    if (!(p.initialDelaySeconds >= 0)) {
      throw new CoxError("InvalidArgument", `probe initialDelaySeconds must be 0 or more; got ${p.initialDelaySeconds}`);
    }
    this.params = Object.freeze(p);
    this.startedAt = startedAt;
    this.#ready = initiallyReady;
    this.#since = initiallyReady ? startedAt : undefined;
    this.#dueAt = startedAt + p.initialDelaySeconds * 1000;
  }

  /** The current state (readiness: ready; liveness: alive). */
  get ready(): boolean {
    return this.#ready;
  }

  /** Epoch ms of the last flip to true (or the start, when initially ready); undefined while false. */
  get readySince(): number | undefined {
    return this.#ready ? this.#since : undefined;
  }

  /** Epoch ms when the next probe is due: the end of the initial delay, then periodSeconds after the last result. */
  get dueAt(): number {
    return this.#dueAt;
  }

  /** Consecutive successes (0 after a failure). */
  get consecutiveSuccesses(): number {
    return this.#successes;
  }

  /** Consecutive failures (0 after a success). */
  get consecutiveFailures(): number {
    return this.#failures;
  }

  /** Records one probe result observed at `now` and returns the state it leads to. */
  record(ok: boolean, now: number): ProbeRecordResult {
    if (now < this.startedAt + this.params.initialDelaySeconds * 1000) return { ready: this.#ready, changed: false };
    if (ok) {
      this.#successes += 1;
      this.#failures = 0;
    } else {
      this.#failures += 1;
      this.#successes = 0;
    }
    this.#dueAt = now + this.params.periodSeconds * 1000;
    const before = this.#ready;
    if (ok && !this.#ready && this.#successes >= this.params.successThreshold) this.#ready = true;
    else if (!ok && this.#ready && this.#failures >= this.params.failureThreshold) this.#ready = false;
    const changed = before !== this.#ready;
    if (changed) this.#since = this.#ready ? now : undefined;
    return { ready: this.#ready, changed };
  }
}
