/**
 * Thin, typed access to one Docker engine through dockerode's modem: explicit connection options (never
 * the DOCKER_* environment), a version prefix pinned after negotiation, per-call abort signals, and the
 * translation of transport and HTTP failures into CoxErrors.
 */
import { X509Certificate, createPrivateKey, type KeyObject } from "node:crypto";
import Docker from "dockerode";
import { CoxError } from "../../api/errors.js";
import type { RegistryAuth } from "../../manifest/image.js";
import type { TlsCredentials } from "../types.js";

/** Where an engine listens, parsed from a Node's endpoint. */
export type EngineTarget = { kind: "unix"; socketPath: string; endpoint: string } | { kind: "tcp"; host: string; port: number; endpoint: string; tls?: TlsCredentials };

/**
 * Parses "unix:///path/docker.sock" or "tcp://host:port". With `tls`, a tcp endpoint is spoken to over
 * HTTPS (server certificate verified against tls.ca, for the endpoint's host name or IP; client
 * certificate when given), after checking the PEM (checkTlsCredentials). Anything else is an
 * InvalidArgument naming the accepted forms; TLS on a unix socket is an InvalidArgument too.
 */
export function parseEndpoint(endpoint: string, tls?: TlsCredentials): EngineTarget {
  if (endpoint.startsWith("unix://")) {
    const socketPath = endpoint.slice("unix://".length);
    if (socketPath.startsWith("/")) {
      if (tls !== undefined) {
        throw new CoxError("InvalidArgument", `Docker endpoint ${endpoint} is a unix socket; TLS credentials apply to tcp://host:port endpoints only`);
      }
      return { kind: "unix", socketPath, endpoint };
    }
  } else if (endpoint.startsWith("tcp://")) {
    const m = /^tcp:\/\/([^/:]+|\[[^\]]+\]):(\d{1,5})\/?$/.exec(endpoint);
    if (m && Number(m[2]) > 0 && Number(m[2]) < 65536) {
      const target: EngineTarget = { kind: "tcp", host: m[1]!.replace(/^\[|\]$/g, ""), port: Number(m[2]), endpoint };
      if (tls !== undefined) {
        checkTlsCredentials(tls, endpoint);
        target.tls = { ...tls };
      }
      return target;
    }
  }
  throw new CoxError("InvalidArgument", `Docker endpoint ${JSON.stringify(endpoint)} is not supported; expected unix:///absolute/path/docker.sock or tcp://host:port`);
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

/**
 * Checks TLS credentials before they are used, so that a broken Secret is reported as what it is and not
 * as an unreachable node: the CA is one or more PEM certificates, the client certificate and key are
 * given together, each parses, and the key belongs to the certificate. Throws SecretInvalid naming the
 * field and what was expected; messages never contain PEM text.
 */
export function checkTlsCredentials(tls: TlsCredentials, endpoint: string): void {
  const bad = (field: string, problem: string, cause?: unknown): CoxError =>
    new CoxError("SecretInvalid", `TLS credentials for ${endpoint}: ${field} ${problem}`, {
      cause,
      details: { endpoint, field },
    });
  if (typeof tls.ca !== "string" || tls.ca.trim() === "") throw bad("ca", "is empty; expected the PEM certificate of the CA that signed the engine's certificate");
  const cas = tls.ca.match(PEM_CERTIFICATE) ?? [];
  if (cas.length === 0) throw bad("ca", "holds no PEM certificate; expected -----BEGIN CERTIFICATE----- … -----END CERTIFICATE-----");
  cas.forEach((pem, i) => {
    try {
      new X509Certificate(pem);
    } catch (err) {
      throw bad("ca", `certificate ${i + 1} of ${cas.length} does not parse as X.509 (${(err as Error).message})`, err);
    }
  });
  const hasCert = tls.cert !== undefined && tls.cert.trim() !== "";
  const hasKey = tls.key !== undefined && tls.key.trim() !== "";
  if (hasCert !== hasKey) {
    throw bad(hasCert ? "key" : "cert", `is missing; the client certificate and its key are given together or not at all`);
  }
  if (!hasCert) return;
  let cert: X509Certificate;
  try {
    const first = tls.cert!.match(PEM_CERTIFICATE)?.[0];
    if (first === undefined) throw new Error("no -----BEGIN CERTIFICATE----- block");
    cert = new X509Certificate(first);
  } catch (err) {
    throw bad("cert", `is not a PEM X.509 certificate (${(err as Error).message})`, err);
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(tls.key!);
  } catch (err) {
    throw bad("key", `is not a PEM private key (${(err as Error).message})`, err);
  }
  if (!cert.checkPrivateKey(key)) throw bad("key", "does not belong to the client certificate (their public keys differ)");
}

/**
 * Runs fn with every DOCKER_* variable removed from process.env, restoring them afterwards. docker-modem
 * reads DOCKER_HOST, DOCKER_CERT_PATH, DOCKER_TLS_VERIFY, DOCKER_CLIENT_TIMEOUT… in its constructor and
 * lets them override explicit options (with DOCKER_HOST set, socketPath was ignored); the constructor is
 * synchronous, so no other code can observe the gap.
 */
function withoutDockerEnv<T>(fn: () => T): T {
  const saved: Array<[string, string | undefined]> = [];
  for (const key of Object.keys(process.env)) {
    if (key.startsWith("DOCKER_")) {
      saved.push([key, process.env[key]]);
      delete process.env[key];
    }
  }
  try {
    return fn();
  } finally {
    for (const [key, value] of saved) if (value !== undefined) process.env[key] = value;
  }
}

/**
 * Builds a dockerode client for a target. `version` is the pinned API version ("1.41") or undefined for
 * unversioned requests (GET /version during negotiation). No `timeout` is set on purpose: it is a socket
 * idle timeout that kills event streams and long pulls; callers pass an abort signal per request instead.
 *
 * No `agent` either (Node's global agent is used): docker-modem runs util.inspect(options, {showHidden,
 * depth: null}) on every request for a debug line, even with debugging off, and an agent in the options
 * makes that walk the agent's whole socket pool — measured here: 50 parallel inspects took 300–600 ms
 * with an agent option (any agent, even http.globalAgent) and 6–12 ms without.
 */
export function createDockerClient(target: EngineTarget, version: string | undefined): Docker {
  // (TLS: ca/cert/key go to https.request; Node verifies the chain and the host name or IP.)
  const options: Record<string, unknown> = {
    // Every field docker-modem could take from the environment is set explicitly.
    host: undefined,
    port: undefined,
    socketPath: undefined,
    protocol: "http",
    ca: undefined,
    cert: undefined,
    key: undefined,
    timeout: undefined,
    pathPrefix: undefined,
    version: version === undefined ? undefined : `v${version}`,
  };
  if (target.kind === "unix") options.socketPath = target.socketPath;
  else {
    options.host = target.host;
    options.port = target.port;
    if (target.tls) {
      options.protocol = "https";
      options.ca = target.tls.ca;
      if (target.tls.cert !== undefined && target.tls.key !== undefined) {
        options.cert = target.tls.cert;
        options.key = target.tls.key;
      }
    }
  }
  return withoutDockerEnv(() => new Docker(options as Docker.DockerOptions));
}

/** One HTTP request to the engine. */
export interface EngineRequest {
  method: "GET" | "POST" | "PUT" | "DELETE";
  /** Path without the version prefix, e.g. "/containers/json". */
  path: string;
  /** Query parameters; objects are JSON-encoded (filters), arrays repeat the key. */
  query?: Record<string, unknown>;
  /** JSON body for POST. */
  body?: unknown;
  /** A tar archive sent as the body (application/tar), for PUT /containers/{id}/archive. */
  tar?: Buffer;
  /** Statuses outside 2xx that count as success (304 "already started/stopped"). */
  okStatuses?: number[];
  /** Resolve with the response stream instead of the parsed body. */
  stream?: boolean;
  /** Registry credentials, sent as the X-Registry-Auth header (POST /images/create). */
  authconfig?: RegistryAuth;
  /** Aborts the request (and the response stream) when fired. */
  signal?: AbortSignal;
}

/** The error docker-modem produces for an HTTP status it was not told to accept. */
export interface EngineHttpError extends Error {
  statusCode: number;
  json?: unknown;
}

/** True when err is an HTTP error from the engine, optionally with the given status. */
function isEngineHttpError(err: unknown, status?: number): err is EngineHttpError {
  return err instanceof Error && typeof (err as Partial<EngineHttpError>).statusCode === "number" && (status === undefined || (err as EngineHttpError).statusCode === status);
}

/** The engine's own error message from an HTTP error ("No such container: …"), else the error's message. */
export function engineMessage(err: unknown): string {
  if (isEngineHttpError(err)) {
    const json = err.json;
    if (json && typeof json === "object" && typeof (json as { message?: unknown }).message === "string") {
      return (json as { message: string }).message;
    }
    if (typeof json === "string" && json.trim()) return json.trim();
    if (Buffer.isBuffer(json) && json.length) return json.toString("utf8").trim();
  }
  return err instanceof Error ? err.message : String(err);
}

/** Sends one request through dockerode's modem. Rejects with the modem's error (see classifyEngineError). */
export function dial<T>(docker: Docker, req: EngineRequest): Promise<T> {
  const statusCodes: Record<number, true> = { 200: true, 201: true, 204: true };
  for (const s of req.okStatuses ?? []) statusCodes[s] = true;
  const options: Record<string, unknown> = { _query: req.query ?? {} };
  // docker-modem sends JSON(opts._body || opts) for POST; an empty object is sent as no body at all.
  if (req.method === "POST") options._body = req.body ?? {};
  const dialOptions: Record<string, unknown> = {
    path: `${req.path}?`,
    method: req.method,
    options,
    statusCodes,
    isStream: req.stream === true,
  };
  if (req.tar) dialOptions.file = req.tar;
  if (req.authconfig) dialOptions.authconfig = req.authconfig;
  if (req.signal) dialOptions.abortSignal = req.signal;
  return new Promise<T>((resolve, reject) => {
    (docker.modem as unknown as { dial(o: unknown, cb: (err: unknown, data: unknown) => void): void }).dial(dialOptions, (err, data) => (err ? reject(err) : resolve(data as T)));
  });
}

/** Transport error codes that mean "nobody answers at this endpoint". */
const UNREACHABLE_CODES = new Set(["ECONNREFUSED", "ENOENT", "ECONNRESET", "EPIPE", "EHOSTUNREACH", "ENETUNREACH", "ETIMEDOUT", "ENOTFOUND", "EAI_AGAIN", "EACCES", "ENOTSOCK", "ECONNABORTED"]);

/** Context for error messages: which node, which call, which deadline. */
export interface CallContext {
  node: string;
  endpoint: string;
  /** What was attempted, e.g. "create container cx_default_web-1_app". */
  what: string;
  timeoutMs?: number;
  /** True when our deadline fired (as opposed to a caller's signal). */
  timedOut?: boolean;
}

/** OpenSSL's certificate verification results, as Node reports them in err.code. */
const CERT_VERIFY_CODES = new Set([
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_DECRYPT_CERT_SIGNATURE",
  "UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY",
  "CERT_SIGNATURE_FAILURE",
  "CERT_NOT_YET_VALID",
  "CERT_HAS_EXPIRED",
  "CERT_REVOKED",
  "CERT_UNTRUSTED",
  "CERT_REJECTED",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "INVALID_CA",
  "INVALID_PURPOSE",
  "PATH_LENGTH_EXCEEDED",
  "HOSTNAME_MISMATCH",
]);

/**
 * True when err comes from TLS: the handshake, certificate verification or a TLS alert (EPROTO with an
 * OpenSSL reason, e.g. "wrong version number" when the other side does not speak TLS).
 */
export function isTlsError(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown } | null;
  const code = e?.code;
  if (typeof code !== "string") return false;
  if (code === "EPROTO") return typeof e?.message === "string" && /SSL routines|TLS/i.test(e.message);
  return code.startsWith("ERR_SSL_") || code.startsWith("ERR_TLS_") || CERT_VERIFY_CODES.has(code);
}

/** OpenSSL's reason out of its error text ("…:SSL routines:ssl3_get_record:wrong version number:…" → "wrong version number"). */
function tlsReason(message: string): string {
  const m = /SSL routines:[^:]*:([^:]+)/.exec(message);
  return (m ? m[1]! : message).trim();
}

/**
 * Turns whatever a call threw into a CoxError: TLS failures, transport failures and deadlines →
 * NodeUnreachable (TLS ones with the reason and details.tls = Node's code), HTTP errors →
 * RuntimeCallFailed with the engine's message and status in details.
 */
export function classifyEngineError(err: unknown, ctx: CallContext): CoxError {
  if (err instanceof CoxError) return err;
  const e = err as { code?: unknown; name?: unknown; message?: unknown };
  if (isTlsError(err)) {
    const code = e.code as string;
    return new CoxError(
      "NodeUnreachable",
      `node ${ctx.node} (${ctx.endpoint}): ${ctx.what}: TLS with the Docker engine failed (${code}: ${tlsReason(String(e.message))}); ` +
        `expected an engine whose certificate is signed by the configured CA and names this host, accepting the client certificate`,
      { cause: err, details: { node: ctx.node, endpoint: ctx.endpoint, tls: code } },
    );
  }
  if (ctx.timedOut || e?.name === "AbortError" || e?.name === "TimeoutError") {
    return new CoxError("NodeUnreachable", `node ${ctx.node} (${ctx.endpoint}): ${ctx.what}: the Docker engine did not answer within ${ctx.timeoutMs ?? "?"} ms`, {
      cause: err,
      details: { node: ctx.node, endpoint: ctx.endpoint, timeoutMs: ctx.timeoutMs },
    });
  }
  if (typeof e?.code === "string" && UNREACHABLE_CODES.has(e.code)) {
    return new CoxError("NodeUnreachable", `node ${ctx.node} (${ctx.endpoint}): ${ctx.what}: cannot reach the Docker engine (${e.code}); expected a Docker engine listening there`, {
      cause: err,
      details: { node: ctx.node, endpoint: ctx.endpoint, errno: e.code },
    });
  }
  if (isEngineHttpError(err) && err.statusCode === 400 && /HTTP request to an HTTPS server/i.test(engineMessage(err))) {
    return new CoxError("NodeUnreachable", `node ${ctx.node} (${ctx.endpoint}): ${ctx.what}: the engine speaks TLS on this port; give the node TLS credentials`, {
      cause: err,
      details: { node: ctx.node, endpoint: ctx.endpoint, tls: "PLAIN_HTTP_TO_TLS_PORT" },
    });
  }
  if (isEngineHttpError(err)) {
    return new CoxError("RuntimeCallFailed", `node ${ctx.node}: ${ctx.what}: the Docker engine answered HTTP ${err.statusCode}: ${engineMessage(err)}`, {
      cause: err,
      details: { node: ctx.node, status: err.statusCode },
    });
  }
  return new CoxError("RuntimeCallFailed", `node ${ctx.node}: ${ctx.what}: ${typeof e?.message === "string" ? e.message : String(err)}`, { cause: err, details: { node: ctx.node } });
}
