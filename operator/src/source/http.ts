/**
 * The HTTP client handed to isomorphic-git for clone, fetch and push. isomorphic-git's own Node client
 * takes no deadline, and fetch/clone hang forever on a server that accepts and never answers; here every
 * request (including reading its whole response body) carries AbortSignal.timeout(timeoutMs).
 */
import http from "node:http";
import https from "node:https";
import type { GitHttpRequest, GitHttpResponse, HttpClient } from "isomorphic-git";

/** An HTTP client for one Git operation, and whether any of its requests ran out of time. */
export interface TimedHttpClient {
  readonly client: HttpClient;
  /** True once a request of this client was aborted by its deadline (the operation then failed with GitTimeout). */
  timedOut(): boolean;
}

/** The error a request is destroyed with when its deadline passes. */
export class HttpDeadlineError extends Error {
  constructor(readonly timeoutMs: number) {
    super(`no complete HTTP response within ${timeoutMs} ms`);
    this.name = "HttpDeadlineError";
  }
}

/**
 * Makes an isomorphic-git HttpClient whose every request must complete, body included, within
 * `timeoutMs`. One client per operation, so that `timedOut()` tells that operation's story.
 * Redirects are not followed (a smart-HTTP Git server does not need them).
 */
export function timedHttpClient(timeoutMs: number): TimedHttpClient {
  let timedOut = false;
  const client: HttpClient = {
    async request(req: GitHttpRequest): Promise<GitHttpResponse> {
      const signal = AbortSignal.timeout(timeoutMs);
      const body = req.body ? await collect(req.body) : undefined;
      const headers: Record<string, string> = { ...(req.headers ?? {}) };
      if (body) headers["content-length"] = String(body.byteLength);
      const url = new URL(req.url);
      const transport = url.protocol === "https:" ? https : http;
      return new Promise<GitHttpResponse>((resolve, reject) => {
        let res: http.IncomingMessage | undefined;
        const onAbort = (): void => {
          timedOut = true;
          const err = new HttpDeadlineError(timeoutMs);
          request.destroy(err);
          res?.destroy(err);
          reject(err);
        };
        const request = transport.request(url, { method: req.method ?? "GET", headers }, (response) => {
          res = response;
          response.once("close", () => signal.removeEventListener("abort", onAbort));
          const outHeaders: Record<string, string> = {};
          for (const [k, v] of Object.entries(response.headers)) {
            if (v !== undefined) outHeaders[k] = Array.isArray(v) ? v.join(", ") : v;
          }
          resolve({
            url: req.url,
            method: req.method ?? "GET",
            statusCode: response.statusCode ?? 0,
            statusMessage: response.statusMessage ?? "",
            headers: outHeaders,
            body: bodyIterator(response),
          });
        });
        request.once("error", (err) => {
          signal.removeEventListener("abort", onAbort);
          reject(err);
        });
        signal.addEventListener("abort", onAbort, { once: true });
        request.end(body);
      });
    },
  };
  return { client, timedOut: () => timedOut };
}

/** Reads a request body (an async iterator or an array of chunks) into one buffer, so it gets a Content-Length. */
async function collect(body: AsyncIterableIterator<Uint8Array> | Iterable<Uint8Array>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of body as AsyncIterable<Uint8Array>) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks);
}

/** The response as an async iterator; it rejects with the deadline error when the response is destroyed. */
function bodyIterator(res: http.IncomingMessage): AsyncIterableIterator<Uint8Array> {
  return res[Symbol.asyncIterator]() as AsyncIterableIterator<Uint8Array>;
}
