/**
 * A forge on 127.0.0.1 that speaks the subset of GitHub's, GitLab's or Gitea's REST API coxswain uses
 * (forge/client.ts names the shapes, as each forge documents them): open pull/merge requests of a branch,
 * a request's comments (list, create, edit), commit statuses. It checks the token in each forge's own
 * header (401 otherwise), records every request, keeps what was posted in one normalized form for the
 * assertions (GitLab's "failed" reads "failure", its "name" reads "context"), and can fail the next calls.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { ForgeKind } from "../../operator/src/forge/client.js";

/** One request as the fake forge received it. */
export interface ForgeRequest {
  method: string;
  /** The path below the API base, with its query. */
  path: string;
  body: unknown;
  /** The request carried the token in the forge's header. */
  authorized: boolean;
}

/** A status as posted, normalized across forges. */
export interface PostedStatus {
  sha: string;
  state: string;
  context: string;
  description: string;
}

/** A running fake forge. */
export interface FakeForge {
  kind: ForgeKind;
  /** The API base to give coxswain (--forge-url). */
  url: string;
  requests: ForgeRequest[];
  statuses: PostedStatus[];
  /** Comments by request number. */
  comments: Map<number, { id: number; body: string }[]>;
  /** Opens request `number` from `branch`. */
  openRequest(branch: string, number: number): void;
  /** Answers the next `count` requests with `status` (default 500). */
  failNext(count: number, status?: number): void;
  close(): Promise<void>;
}

/** Starts a fake forge of `kind` for repository `repo` ("owner/name") that accepts `token`. */
export async function startFakeForge(kind: ForgeKind, repo: string, token: string): Promise<FakeForge> {
  const requests: ForgeRequest[] = [];
  const statuses: PostedStatus[] = [];
  const comments = new Map<number, { id: number; body: string }[]>();
  const open = new Map<string, number>();
  let nextId = 1000;
  let failing = 0;
  let failStatus = 500;
  const prefix = kind === "github" ? "" : kind === "gitlab" ? "/api/v4" : "/api/v1";
  const scope = kind === "gitlab" ? `/projects/${encodeURIComponent(repo)}` : `/repos/${repo}`;
  const authorized = (req: IncomingMessage) =>
    kind === "github" ? req.headers.authorization === `Bearer ${token}` : kind === "gitlab" ? req.headers["private-token"] === token : req.headers.authorization === `token ${token}`;

  const route = (method: string, path: string, query: URLSearchParams, body: Record<string, unknown>): [number, unknown] => {
    const firstPage = (query.get("page") ?? "1") === "1";
    if (!path.startsWith(scope)) return [404, { message: "Not Found" }];
    const rest = path.slice(scope.length);
    let m: RegExpExecArray | null;
    if (method === "POST" && (m = /^\/statuses\/([0-9a-f]{40})$/.exec(rest))) {
      const state = String(body.state);
      const context = String(kind === "gitlab" ? body.name : body.context);
      statuses.push({ sha: m[1]!, state: state === "failed" ? "failure" : state, context, description: String(body.description ?? "") });
      return [201, { id: nextId++, sha: m[1], state, ...(kind === "gitlab" ? { name: context, status: state } : { context }), description: body.description }];
    }
    if (method === "GET" && (rest === "/pulls" || rest === "/merge_requests")) {
      const all = [...open].map(([branch, n]) => (kind === "gitlab" ? { iid: n, source_branch: branch, state: "opened" } : { number: n, head: { ref: branch }, state: "open" }));
      let found = all;
      if (kind === "github") found = all.filter((p) => `${repo.split("/")[0]}:${(p as { head: { ref: string } }).head.ref}` === query.get("head"));
      if (kind === "gitlab") found = all.filter((p) => (p as { source_branch: string }).source_branch === query.get("source_branch"));
      return [200, firstPage ? found : []];
    }
    const list = kind === "gitlab" ? /^\/merge_requests\/(\d+)\/notes$/ : /^\/issues\/(\d+)\/comments$/;
    if ((m = list.exec(rest))) {
      const n = Number(m[1]);
      if (![...open.values()].includes(n)) return [404, { message: "Not Found" }];
      const of = comments.get(n) ?? [];
      if (method === "GET") return [200, firstPage || kind === "gitea" ? of : []]; // Gitea does not page issue comments
      if (method === "POST") {
        const c = { id: nextId++, body: String(body.body) };
        comments.set(n, [...of, c]);
        return [201, c];
      }
    }
    const edit = kind === "gitlab" ? /^\/merge_requests\/(\d+)\/notes\/(\d+)$/ : /^\/issues\/comments\/(\d+)$/;
    if ((method === "PATCH" || method === "PUT") && (m = edit.exec(rest))) {
      const id = Number(kind === "gitlab" ? m[2] : m[1]);
      for (const of of comments.values()) {
        const c = of.find((x) => x.id === id);
        if (c) {
          c.body = String(body.body);
          return [200, c];
        }
      }
      return [404, { message: "Not Found" }];
    }
    return [404, { message: "Not Found" }];
  };

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const url = new URL(req.url ?? "/", "http://127.0.0.1");
      const text = Buffer.concat(chunks).toString("utf8");
      let body: Record<string, unknown> = {};
      try {
        body = text ? (JSON.parse(text) as Record<string, unknown>) : {};
      } catch {
        body = {};
      }
      const path = url.pathname.startsWith(prefix) ? url.pathname.slice(prefix.length) : url.pathname;
      const ok = authorized(req);
      requests.push({ method: req.method ?? "GET", path: `${path}${url.search}`, body: text ? body : undefined, authorized: ok });
      let answer: [number, unknown];
      if (failing > 0) {
        failing--;
        answer = [failStatus, { message: "injected failure" }];
      } else answer = ok ? route(req.method ?? "GET", path, url.searchParams, body) : [401, { message: "Bad credentials" }];
      res.writeHead(answer[0], { "content-type": "application/json" });
      res.end(JSON.stringify(answer[1]));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    kind,
    url: `http://127.0.0.1:${port}${prefix}`,
    requests,
    statuses,
    comments,
    openRequest: (branch, number) => void open.set(branch, number),
    failNext(count, status = 500) {
      failing = count;
      failStatus = status;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
