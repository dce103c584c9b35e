/**
 * coxswain's HTTP surface: the webhook receiver, liveness, readiness and metrics.
 *
 *   POST /api/v1/webhooks/{github,gitlab,gitea,bitbucket,generic}
 *   GET  /healthz   liveness: 200 whenever the process answers at all (the body tells what it knows)
 *   GET  /readyz    readiness: 200 or 503 with the checks and their reasons (JSON)
 *   GET  /metrics   Prometheus' text format
 *   GET  /api/v1/…  the read API (api/routes.ts; the events stream, GET /api/v1/events, is served here)
 *   POST /api/v1/{workloads/…/promote, nodes/…/cordon, nodes/…/uncordon, commits/…/retry}  the writes (write tokens)
 *   GET  /, /ui/…   the web dashboard, with `ui` (ui/page.ts; its files hold no data, so they need no token)
 *
 * Liveness never fails for something outside the process (a Git outage, a status write, no node): a
 * supervisor that restarts on a failed liveness check would restart a healthy operator, which fixes none
 * of these. Readiness does fail for them, as Kubernetes splits the two.
 *
 * Every request is first counted against its client's rate (429 RateLimited, Retry-After). A webhook's
 * body is bounded (413 RequestTooLarge: a declared Content-Length over the limit is refused before reading
 * anything; a body that grows past it is cut off and the rest discarded unread), then verified with the
 * provider's signature or token (401 WebhookUnauthorized; onPush is not called), then parsed: a push calls
 * onPush at once and answers 200, a ping answers 200, any other event 202 (ignored). Errors are JSON
 * `{ "code": …, "message": … }`. Nothing logged or answered contains a secret, a signature or a body.
 *
 * Refused requests (401, 413, 429, and bodies the client abandoned) are counted per reason and reported
 * in /healthz as `webhooks.refused`; the log gets at most one line a minute per client about them
 * (refusals.ts), so whoever can reach the port cannot fill the log.
 *
 * The API (with `api`): every /api/v1 path but the webhooks needs a bearer token when tokens are
 * configured (401 with WWW-Authenticate; 403 for a read token on anything but GET/HEAD; the writes are
 * POST and take no body), and without
 * tokens the server refuses to listen anywhere but on loopback (ApiTokensRequired). No CORS headers are
 * sent: a browser page of another origin cannot read the API. API requests are not logged (a failure is,
 * by method and path without the query); tokens never are.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { CoxError, type ErrorCode } from "../api/errors.js";
import { silentLogger, type Logger } from "../api/log.js";
import type { FeedEvent } from "./api/events.js";
import { ANONYMOUS_USER, answerApi, answerApiWrite, isWritePath, type ApiOptions } from "./api/routes.js";
import { authorize, isLoopbackHost } from "./api/tokens.js";
import { RateLimiter } from "./rate.js";
import { RefusalLog, type RefusalReason } from "./refusals.js";
import { UI_FILES, UI_HEADERS } from "./ui/page.js";
import { deliveryId, parseWebhookEvent, PROVIDERS, verifyWebhook, type Provider, type PushEvent } from "./webhooks.js";

/** Default largest webhook body: GitHub caps payloads at 25 MB, but a push of a few commits is a few KiB. */
const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;
/** Largest body read (and dropped) of an API write, which takes none. */
const MAX_WRITE_BODY_BYTES = 64 * 1024;
/** Default sustained requests per second per client. */
const DEFAULT_RATE_PER_SECOND = 10;

/** Secrets: one shared by every provider, or one per provider (a provider without one refuses all requests). */
export type WebhookSecrets = string | Partial<Record<Provider, string>>;

/** Options of startServer. */
export interface ServerOptions {
  /** "HOST:PORT" ("127.0.0.1:8080", "[::1]:8080", ":8080" for every interface; port 0 picks a free one). */
  listen: string;
  /** Webhook secrets; without any, every webhook is refused with 401. */
  secrets?: WebhookSecrets;
  /** A verified push. Called at once, before the answer is sent; its errors answer 500. Should only trigger work. */
  onPush: (event: PushEvent) => void;
  /** GET /healthz body (always answered 200, with `ok: true`). */
  health?: () => Record<string, unknown> | Promise<Record<string, unknown>>;
  /** GET /readyz body; `ready: false` in it answers 503. Without it, /readyz answers 200 `{ ready: true }`. */
  ready?: () => { ready: boolean };
  /** GET /metrics: the exposition text and its content type; without it, /metrics is 404. */
  metrics?: () => Promise<{ contentType: string; text: string }>;
  /** Called once per webhook request with its provider and result (metrics). */
  onWebhook?: (provider: Provider, result: WebhookResult) => void;
  /** Largest webhook body (default 1 MiB). */
  maxBodyBytes?: number;
  /** Requests per second per client address (default 10; burst twice that). */
  rate?: number;
  /** Burst of the rate limit (default 2 × rate). */
  burst?: number;
  /**
   * One line per push and per failed request; refused requests (401, 413, 429) at most one line a minute
   * per client. Never secrets, signatures or bodies.
   */
  log?: Logger;
  /** Clock of the rate limit and of the refusal log (tests). */
  now?: () => number;
  /** The read API under /api/v1 (webhooks aside); without it, those paths answer 404. */
  api?: ApiOptions;
  /** Serve the web dashboard at / (it reads the read API, so `api` is needed too). */
  ui?: boolean;
}

/** Default interval of the heartbeat comments on the event stream: below the 30–60 s idle timeouts of common proxies. */
const DEFAULT_HEARTBEAT_MS = 15_000;
/** Bytes an event stream may have waiting for a slow client before it is cut off. */
const MAX_STREAM_BUFFER_BYTES = 1024 * 1024;

/** What became of a webhook request. */
export type WebhookResult = "triggered" | "pong" | "ignored" | "invalid" | "unauthorized" | "too_large" | "rate_limited" | "incomplete" | "error";

/** A listening server. */
export interface RunningServer {
  /** http://HOST:PORT (for an all-interfaces listen, the loopback address). */
  readonly url: string;
  readonly port: number;
  readonly host: string;
  /** Refused requests so far, per reason (also in GET /healthz as `webhooks.refused`). */
  refused(): Record<RefusalReason, number>;
  /** Stops listening and closes open connections. */
  close(): Promise<void>;
}

/**
 * Parses a listen address: "HOST:PORT", "[IPv6]:PORT" or ":PORT" (every interface). InvalidArgument
 * otherwise. Pure.
 */
export function parseListen(text: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]\s]*)):([0-9]{1,5})$/.exec(text.trim());
  const port = Number(m?.[3]);
  if (!m || port > 65535) {
    throw new CoxError("InvalidArgument", `--listen: expected HOST:PORT such as 127.0.0.1:8080 (got ${JSON.stringify(text)})`);
  }
  const host = m[1] ?? (m[2] === "" ? "0.0.0.0" : m[2]!);
  return { host, port };
}

/** Starts the server; resolves once it listens. */
export async function startServer(opts: ServerOptions): Promise<RunningServer> {
  const { host, port } = parseListen(opts.listen);
  if (opts.ui && !opts.api) throw new CoxError("InvalidArgument", "the dashboard (ui) reads the read API: give api too");
  if (opts.api && !opts.api.tokens?.length && !isLoopbackHost(host)) {
    throw new CoxError("ApiTokensRequired", `--listen ${opts.listen}: the read API would be open to the network; give --api-token-file, or listen on 127.0.0.1 or ::1`);
  }
  const maxBody = opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const limiter = new RateLimiter({ perSecond: opts.rate ?? DEFAULT_RATE_PER_SECOND, ...(opts.burst ? { burst: opts.burst } : {}), ...(opts.now ? { now: opts.now } : {}) });
  const log = opts.log ?? silentLogger;
  const refusals = new RefusalLog({ log, ...(opts.now ? { now: opts.now } : {}) });
  const secretFor = (p: Provider): string => (typeof opts.secrets === "string" ? opts.secrets : (opts.secrets?.[p] ?? ""));

  const server = http.createServer((req, res) => {
    void handle(req, res).catch((err: unknown) => {
      log.error(`http: ${req.method} ${safePath(req.url)}: ${err instanceof Error ? err.message : String(err)}`);
      if (!res.headersSent) send(res, 500, { code: "RuntimeCallFailed", message: "internal error" });
      else res.destroy();
    });
  });
  // Bounded time for headers and the whole request: a client that trickles bytes cannot hold a socket.
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  server.keepAliveTimeout = 5_000;

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const client = req.socket.remoteAddress ?? "unknown";
    const path = safePath(req.url);
    const m = /^\/api\/v1\/webhooks\/([a-z]+)$/.exec(path);
    const provider = m && (PROVIDERS as readonly string[]).includes(m[1]!) ? (m[1] as Provider) : undefined;
    const counted = (result: WebhookResult): void => {
      if (provider) opts.onWebhook?.(provider, result);
    };
    const rate = limiter.take(client);
    if (!rate.allowed) {
      counted("rate_limited");
      res.setHeader("retry-after", String(Math.max(1, Math.ceil(rate.retryAfterMs / 1000))));
      refusals.refused(client, "rateLimited", `429 ${req.method} ${path}: over ${opts.rate ?? DEFAULT_RATE_PER_SECOND} requests per second`);
      return refuse(req, res, 429, "RateLimited", `more than ${opts.rate ?? DEFAULT_RATE_PER_SECOND} requests per second from ${client}`);
    }
    if (path === "/healthz") {
      if (req.method !== "GET" && req.method !== "HEAD") return refuse(req, res, 405, undefined, "use GET /healthz", { allow: "GET, HEAD" });
      // Alive: answering at all is the check; what the body says is information.
      const body: Record<string, unknown> = { ...(await opts.health?.()), ok: true, webhooks: { refused: refusals.counts() } };
      return send(res, 200, body, req.method === "HEAD");
    }
    if (path === "/readyz") {
      if (req.method !== "GET" && req.method !== "HEAD") return refuse(req, res, 405, undefined, "use GET /readyz", { allow: "GET, HEAD" });
      const body = opts.ready?.() ?? { ready: true };
      return send(res, body.ready ? 200 : 503, body, req.method === "HEAD");
    }
    if (path === "/metrics" && opts.metrics) {
      if (req.method !== "GET" && req.method !== "HEAD") return refuse(req, res, 405, undefined, "use GET /metrics", { allow: "GET, HEAD" });
      const { contentType, text } = await opts.metrics();
      res.writeHead(200, { "content-type": contentType, "content-length": Buffer.byteLength(text) });
      res.end(req.method === "HEAD" ? undefined : text);
      return;
    }
    if (!provider && opts.api && path.startsWith("/api/v1/") && !path.startsWith("/api/v1/webhooks/")) return serveApi(req, res, opts.api, path);
    const file = opts.ui ? UI_FILES.get(path) : undefined;
    if (file) {
      if (req.method !== "GET" && req.method !== "HEAD") return refuse(req, res, 405, undefined, `use GET for ${path}`, { allow: "GET, HEAD" });
      res.writeHead(200, { ...UI_HEADERS, "content-type": file.contentType, "content-length": Buffer.byteLength(file.body) });
      res.end(req.method === "HEAD" ? undefined : file.body);
      return;
    }
    if (!provider) {
      return refuse(req, res, 404, undefined, `no such endpoint; webhooks are POST /api/v1/webhooks/{${PROVIDERS.join(",")}}`);
    }
    if (req.method !== "POST") return refuse(req, res, 405, undefined, `use POST for ${path}`, { allow: "POST" });

    const declared = Number(req.headers["content-length"]);
    if (Number.isFinite(declared) && declared > maxBody) {
      counted("too_large");
      refusals.refused(client, "tooLarge", `413 webhook ${provider}: a body of ${declared} bytes (at most ${maxBody})`);
      return refuse(req, res, 413, "RequestTooLarge", `the body is ${declared} bytes; at most ${maxBody} are accepted`);
    }
    const body = await readBody(req, maxBody);
    if (body === null) {
      // Nobody is left to answer; counted, not logged each time, like a refusal (anyone can do this).
      counted("incomplete");
      refusals.refused(client, "incomplete", `webhook ${provider}: the client went away before the body was complete`);
      res.destroy();
      return;
    }
    if (body === undefined) {
      counted("too_large");
      refusals.refused(client, "tooLarge", `413 webhook ${provider}: a body over ${maxBody} bytes`);
      return refuse(req, res, 413, "RequestTooLarge", `the body exceeds ${maxBody} bytes`);
    }
    const verified = verifyWebhook(provider, req.headers, body, secretFor(provider));
    if (!verified.ok) {
      counted("unauthorized");
      refusals.refused(client, "unauthorized", `401 webhook ${provider}: ${verified.reason}`);
      return send(res, 401, { code: "WebhookUnauthorized", message: verified.reason });
    }
    const event = parseWebhookEvent(provider, req.headers, body);
    const delivery = deliveryId(provider, req.headers);
    switch (event.kind) {
      case "ping":
        counted("pong");
        log.debug(`webhook ${provider}: ping`);
        return send(res, 200, { result: "pong" });
      case "ignored":
        counted("ignored");
        return send(res, 202, { result: "ignored", event: event.event });
      case "invalid":
        counted("invalid");
        log.warn(`webhook ${provider} from ${client}: 400 ${event.message}`);
        return send(res, 400, { code: "InvalidArgument", message: event.message });
      case "push": {
        const push: PushEvent = { provider };
        if (event.ref !== undefined) push.ref = event.ref;
        if (event.after !== undefined) push.after = event.after;
        if (delivery !== undefined) push.delivery = delivery;
        try {
          opts.onPush(push);
        } catch (err) {
          counted("error");
          log.error(`webhook ${provider}: onPush failed: ${err instanceof Error ? err.message : String(err)}`);
          return send(res, 500, { code: "RuntimeCallFailed", message: "the push could not be handed to the operator" });
        }
        counted("triggered");
        log.info(`webhook ${provider}: push${push.ref ? ` ${push.ref}` : ""}${push.after ? ` ${push.after.slice(0, 7)}` : ""}${delivery ? ` (delivery ${delivery})` : ""}`);
        return send(res, 200, { result: "triggered", ...(push.ref ? { ref: push.ref } : {}), ...(push.after ? { after: push.after } : {}) });
      }
    }
  }

  /** Open event streams, ended first when the server closes. */
  const streams = new Set<http.ServerResponse>();

  async function serveApi(req: http.IncomingMessage, res: http.ServerResponse, api: ApiOptions, path: string): Promise<void> {
    const auth = authorize(api.tokens, req.headers.authorization, req.method ?? "GET");
    if (!auth.ok) return refuse(req, res, auth.status, auth.code, auth.message, auth.challenge ? { "www-authenticate": auth.challenge } : {});
    if (isWritePath(path)) {
      if (req.method !== "POST") return refuse(req, res, 405, undefined, `use POST for ${path}`, { allow: "POST" });
      if (!api.writer) return refuse(req, res, 405, undefined, "this server takes no writes");
      // The writes take no body: whatever is sent is read and dropped, bounded.
      const body = await readBody(req, MAX_WRITE_BODY_BYTES);
      if (body === null) return; // the client went away: nothing is written for it
      if (body === undefined) return refuse(req, res, 413, "RequestTooLarge", `a write takes no body (got over ${MAX_WRITE_BODY_BYTES} bytes)`);
      const answer = await answerApiWrite(api.writer, path, new URL(req.url ?? "/", "http://api").searchParams, auth.user ?? ANONYMOUS_USER);
      return send(res, answer.status, answer.body);
    }
    if (req.method !== "GET" && req.method !== "HEAD") return refuse(req, res, 405, undefined, `use GET for ${path}`, { allow: "GET, HEAD" });
    if (path === "/api/v1/events") {
      if (req.method !== "GET") return refuse(req, res, 405, undefined, "use GET for the event stream", { allow: "GET" });
      if (!api.events) return refuse(req, res, 404, "ApiNotFound", "no event stream");
      return stream(req, res, api);
    }
    const answer = await answerApi(api.source, path, new URL(req.url ?? "/", "http://api").searchParams);
    send(res, answer.status, answer.body, req.method === "HEAD");
  }

  /** The event stream: what Last-Event-ID missed (or a reset), then each event as it comes, and heartbeats. */
  function stream(req: http.IncomingMessage, res: http.ServerResponse, api: ApiOptions): void {
    const feed = api.events!;
    const header = req.headers["last-event-id"];
    const last = typeof header === "string" && /^\d+$/.test(header.trim()) ? Number(header.trim()) : undefined;
    // Connection: close, so that ending the stream on stop closes its socket cleanly after the last bytes.
    res.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache", "x-accel-buffering": "no", connection: "close" });
    const write = (e: FeedEvent): void => {
      // A client that does not read cannot make the operator hold its events: past the bound it is cut off
      // (it reconnects with Last-Event-ID and gets what it missed, or a reset).
      if (res.writableLength > MAX_STREAM_BUFFER_BYTES) res.destroy();
      else res.write(`id: ${e.id}\nevent: ${e.type}\ndata: ${JSON.stringify(e.data)}\n\n`);
    };
    // Subscribed and replayed in one turn of the event loop: nothing published can fall between the two.
    const unsubscribe = feed.subscribe(write);
    const replay = feed.since(last);
    res.write(": coxswain events\n\n");
    if ("reset" in replay) res.write(`id: ${feed.lastId}\nevent: reset\ndata: ${JSON.stringify(replay.reset)}\n\n`);
    else for (const e of replay.events) write(e);
    const heartbeat = setInterval(() => res.write(": heartbeat\n\n"), api.heartbeatMs ?? DEFAULT_HEARTBEAT_MS);
    heartbeat.unref();
    streams.add(res);
    res.once("close", () => {
      clearInterval(heartbeat);
      unsubscribe();
      streams.delete(res);
    });
  }

  const sockets = new Set<import("node:net").Socket>();
  server.on("connection", (s) => {
    sockets.add(s);
    s.once("close", () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", (err: NodeJS.ErrnoException) => reject(new CoxError("InvalidArgument", `--listen ${opts.listen}: cannot listen (${err.code ?? err.message})`, { cause: err })));
    server.listen(port, host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const shownHost = host === "0.0.0.0" ? "127.0.0.1" : host === "::" ? "::1" : host;
  return {
    url: `http://${shownHost.includes(":") ? `[${shownHost}]` : shownHost}:${address.port}`,
    port: address.port,
    host,
    refused: () => refusals.counts(),
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // Event streams end cleanly (the client sees the end of the stream, not a reset); what is left is cut.
      const ended = [...streams].map(
        (res) =>
          new Promise<void>((resolve) => {
            res.socket?.once("close", () => resolve());
            res.end();
          }),
      );
      await Promise.race([Promise.all(ended), new Promise((resolve) => setTimeout(resolve, 1_000).unref())]);
      for (const s of sockets) s.destroy();
      await closed;
    },
  };
}

/**
 * Reads the body up to `max` bytes; undefined (and the rest is left unread) when it is longer, null when
 * the client goes away (or the request errs) before it is complete.
 */
function readBody(req: http.IncomingMessage, max: number): Promise<Buffer | undefined | null> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > max) {
        req.off("data", onData);
        req.off("end", onEnd);
        chunks.length = 0;
        resolve(undefined);
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => resolve(Buffer.concat(chunks));
    req.on("data", onData);
    req.once("end", onEnd);
    req.once("error", () => resolve(null));
    // A client that goes away mid-body: settle (a no-op when the body was complete or cut off already).
    req.once("close", () => resolve(null));
  });
}

/**
 * Answers an error and closes the connection. A body the client is still sending is read and discarded
 * first (for at most a second; then the socket is destroyed): answering and closing while the client
 * still writes makes the kernel reset the connection, and the client would see ECONNRESET instead of the
 * answer. A body declared too large (413) is answered at once — reading it is what the limit prevents.
 */
function refuse(req: http.IncomingMessage, res: http.ServerResponse, status: number, code: ErrorCode | undefined, message: string, headers: Record<string, string> = {}): void {
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
  res.setHeader("connection", "close");
  const answer = () => send(res, status, code ? { code, message } : { message });
  if (req.complete || status === 413) {
    answer();
    if (!req.complete) drainThenDestroy(req);
    return;
  }
  const timer = setTimeout(() => req.socket.destroy(), 1_000);
  timer.unref();
  req.once("end", () => {
    clearTimeout(timer);
    answer();
  });
  req.resume();
}

/** Discards what the client still sends, for at most a second, then drops the connection. */
function drainThenDestroy(req: http.IncomingMessage): void {
  req.resume();
  const timer = setTimeout(() => req.socket.destroy(), 1_000);
  timer.unref();
  req.once("end", () => clearTimeout(timer));
}

function send(res: http.ServerResponse, status: number, body: object, headOnly = false): void {
  const text = `${JSON.stringify(body)}\n`;
  // Headers set earlier with setHeader (retry-after, allow, connection) are merged in by writeHead.
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(text) });
  res.end(headOnly ? undefined : text);
}

/** The path of a request URL without its query (which could carry a token in other tools' setups). */
function safePath(url: string | undefined): string {
  return (url ?? "/").split("?", 1)[0]!.slice(0, 200);
}
