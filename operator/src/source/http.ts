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
          const out: GitHttpResponse = {
            url: req.url,
            method: req.method ?? "GET",
            statusCode: response.statusCode ?? 0,
            statusMessage: response.statusMessage ?? "",
            headers: outHeaders,
            body: bodyIterator(response),
          };
          if (out.statusCode === 200 && outHeaders["content-type"] === "application/x-git-upload-pack-advertisement") {
            // Small (one line per ref): buffer it so an unborn HEAD can be worked around (see patchUnbornHead).
            collect(out.body!).then((buf) => resolve({ ...out, body: once(patchUnbornHead(buf)) }), reject);
          } else resolve(out);
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

/** An async iterator yielding one chunk. */
async function* once(chunk: Uint8Array): AsyncIterableIterator<Uint8Array> {
  yield chunk;
}

/** The response as an async iterator; it rejects with the deadline error when the response is destroyed. */
function bodyIterator(res: http.IncomingMessage): AsyncIterableIterator<Uint8Array> {
  return res[Symbol.asyncIterator]() as AsyncIterableIterator<Uint8Array>;
}

/**
 * isomorphic-git's fetch cannot work without a HEAD in the remote's ref advertisement ("Could not find
 * HEAD", thrown after the remote-tracking refs were written but before the pack is stored). git
 * http-backend advertises no HEAD when HEAD names a branch that does not exist — common for a bare
 * repository made by `git init --bare` (HEAD → master) that only ever received `main`. This rewrites such
 * an advertisement as if HEAD pointed at main (else master, else the first branch): a "HEAD" line first,
 * carrying the capabilities plus `symref=HEAD:<branch>`. Advertisements that have a HEAD, or no refs at
 * all (an empty repository), are returned unchanged.
 */
export function patchUnbornHead(adv: Buffer): Buffer {
  const pkts: Buffer[] = [];
  let i = 0;
  while (i + 4 <= adv.length) {
    const len = parseInt(adv.subarray(i, i + 4).toString("latin1"), 16);
    if (Number.isNaN(len) || (len !== 0 && (len < 4 || i + len > adv.length))) return adv;
    const size = len === 0 ? 4 : len;
    pkts.push(adv.subarray(i, i + size));
    i += size;
  }
  if (i !== adv.length) return adv;
  const text = (pkt: Buffer): string => pkt.subarray(4).toString("latin1");
  const firstIdx = pkts.findIndex((p) => p.length > 4 && /^[0-9a-f]{40} /.test(text(p)));
  if (firstIdx < 0) return adv;
  const first = text(pkts[firstIdx]!);
  const nul = first.indexOf("\0");
  if (nul < 0) return adv;
  const refs = pkts
    .slice(firstIdx)
    .filter((p) => p.length > 4)
    .map((p) => {
      const t = text(p).split("\0")[0]!.replace(/\n$/, "");
      return { oid: t.slice(0, 40), name: t.slice(41) };
    });
  if (refs.some((r) => r.name === "HEAD" || r.name === "capabilities^{}")) return adv;
  const branches = refs.filter((r) => r.name.startsWith("refs/heads/"));
  const target = branches.find((r) => r.name === "refs/heads/main") ?? branches.find((r) => r.name === "refs/heads/master") ?? [...branches].sort((a, b) => (a.name < b.name ? -1 : 1))[0];
  if (!target) return adv;
  const caps = first.slice(nul + 1).replace(/\n$/, "");
  const pkt = (payload: string): Buffer => {
    const body = Buffer.from(payload, "latin1");
    return Buffer.concat([Buffer.from((body.length + 4).toString(16).padStart(4, "0"), "latin1"), body]);
  };
  const head = pkt(`${target.oid} HEAD\0${caps} symref=HEAD:${target.name}\n`);
  const firstWithoutCaps = pkt(`${first.slice(0, nul)}\n`);
  return Buffer.concat([...pkts.slice(0, firstIdx), head, firstWithoutCaps, ...pkts.slice(firstIdx + 1)]);
}
