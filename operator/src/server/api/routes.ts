/**
 * The API's JSON endpoints: a request path and query → a status and a body, from an ApiSource (what
 * the operator holds, read at the time of the request), and the writes' paths → an ApiWriter (each write a
 * commit in Git: sync/api-writes.ts). No HTTP here: server.ts authenticates, answers and streams the
 * events; views.ts shapes.
 */
import type { NodeSnapshot } from "../../scheduler/types.js";
import type { ObservedNode } from "../../runtime/fleet.js";
import { toCoxError, type ErrorCode } from "../../api/errors.js";
import { CLUSTER_SCOPE, type StatusState } from "../../status/store.js";
import type { EventFeed } from "./events.js";
import { OPENAPI_DOCUMENT } from "./openapi.js";
import type { ApiToken } from "./tokens.js";
import { commitPage, commitsView, commitView, DEFAULT_COMMITS_LIMIT, findCommit, findWorkload, MAX_COMMITS_LIMIT, nodesView, proposalsView, servicesView, workloadsView, type CommitAuthor } from "./views.js";

/** What the API reads, at the time of each request. */
export interface ApiSource {
  /** The status records (a copy). */
  state(): StatusState;
  /** The fleet's nodes and the scheduler's accounting of them. */
  nodes(): { observed: ObservedNode[]; snapshot: NodeSnapshot[] };
  /** Running previews. */
  previews(): { name: string; ref: string; commit: string; namespaces: readonly string[]; expiresAt: number }[];
  /** Authors of these commits, from Git (commits Git cannot read are left out). */
  authors(shas: readonly string[]): Promise<Map<string, CommitAuthor>>;
}

/** What a write of the API made: the commit on the deploy branch, which the sync then applies. */
export interface WriteResult {
  action: "promote" | "cordon" | "uncordon" | "retry";
  /** Rollout/<ns>/<name>, Node/<name>, or the retried commit's sha. */
  target: string;
  /** The token's user named in the commit. */
  user: string;
  commit: string;
  /** The head it was committed on. */
  parent: string;
  branch: string;
  subject: string;
  /** Pushed to the remote (false: committed to a repository on disk). */
  pushed: boolean;
}

/**
 * The API's writes, each a commit on the deploy branch (sync/api-writes.ts). They reject with CoxErrors:
 * ApiNotFound, ApiConflict, ManifestNotEditable (details file, line), ApiWriteFailed, InvalidArgument.
 */
export interface ApiWriter {
  promote(kind: string, namespace: string, name: string, user: string, full: boolean): Promise<WriteResult>;
  cordon(name: string, unschedulable: boolean, user: string): Promise<WriteResult>;
  retry(sha: string, user: string): Promise<WriteResult>;
}

/** The read API of startServer. */
export interface ApiOptions {
  source: ApiSource;
  /** The writes (POST); without, every POST answers 405. */
  writer?: ApiWriter;
  /** Bearer tokens (`--api-token-file`); without any, the server must listen on loopback. */
  tokens?: ApiToken[];
  /** The live events of GET /api/v1/events (404 without). */
  events?: EventFeed;
  /** Interval of the heartbeat comments on the event stream (default 15 s). */
  heartbeatMs?: number;
}

/** An answer: status and JSON body (errors as `{ code, message }`). */
export interface ApiAnswer {
  status: number;
  body: object;
}

/** Answers GET `path` (below /api/v1/) with `query`; the events stream is not answered here. */
export async function answerApi(source: ApiSource, path: string, query: URLSearchParams): Promise<ApiAnswer> {
  const parts = path
    .replace(/^\/api\/v1\/?/, "")
    .split("/")
    .map(decodeSegment);
  const [what, ...rest] = parts;
  if (parts.some((p) => p === undefined)) return notFound(path);
  if (what === "openapi.json" && rest.length === 0) return { status: 200, body: OPENAPI_DOCUMENT };
  if (what === "commits" && rest.length === 0) {
    const limit = query.get("limit") === null ? DEFAULT_COMMITS_LIMIT : Number(query.get("limit"));
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_COMMITS_LIMIT) {
      return { status: 400, body: { code: "InvalidArgument", message: `limit: expected a whole number from 1 to ${MAX_COMMITS_LIMIT} (got ${JSON.stringify(query.get("limit"))})` } };
    }
    const state = source.state();
    return { status: 200, body: commitsView(state, limit, await source.authors(commitPage(state, limit))) };
  }
  if (what === "commits" && rest.length === 1) {
    const state = source.state();
    const c = findCommit(state, rest[0]!);
    if (!c) return notFound(path, `no commit ${JSON.stringify(rest[0])} was processed (a full sha, or a prefix of at least 4 hex digits naming one)`);
    return { status: 200, body: commitView(state, c, (await source.authors([c.commit])).get(c.commit)) };
  }
  if (what === "workloads" && rest.length === 0) return { status: 200, body: workloadsView(source.state()) };
  if (what === "workloads" && rest.length === 3) {
    const w = findWorkload(source.state(), rest[0]!, rest[1]!, rest[2]!);
    return w ? { status: 200, body: w } : notFound(path, `no workload ${rest.join("/")} (kind/namespace/name; namespace _cluster for cluster-scoped kinds)`);
  }
  if (what === "nodes" && rest.length === 0) {
    const { observed, snapshot } = source.nodes();
    return { status: 200, body: nodesView(source.state(), observed, snapshot) };
  }
  if (what === "services" && rest.length === 0) return { status: 200, body: servicesView(source.state()) };
  if (what === "proposals" && rest.length === 0) return { status: 200, body: proposalsView(source.state(), source.previews()) };
  return notFound(path);
}

/** The user a write names when the API has no tokens (loopback only). */
export const ANONYMOUS_USER = "anonymous";

/** HTTP status of each error code a write can answer with. */
const WRITE_STATUS: Partial<Record<ErrorCode, number>> = { InvalidArgument: 400, ApiNotFound: 404, ApiConflict: 409, ManifestNotEditable: 422, ApiWriteFailed: 503 };

/**
 * Whether POST `path` is a write: .../workloads/{kind}/{ns}/{name}/promote, .../nodes/{name}/cordon or
 * /uncordon, .../commits/{sha}/retry. Pure.
 */
export function isWritePath(path: string): boolean {
  return writeRoute(path) !== undefined;
}

/** Answers POST `path` (a write) as `user`: 202 with the WriteResult, or an error with its code. */
export async function answerApiWrite(writer: ApiWriter, path: string, query: URLSearchParams, user: string): Promise<ApiAnswer> {
  const route = writeRoute(path);
  if (!route) return notFound(path);
  const full = query.get("full");
  if (full !== null && full !== "true" && full !== "false") return { status: 400, body: { code: "InvalidArgument", message: `full: expected true or false (got ${JSON.stringify(full)})` } };
  try {
    const [a, b, c] = route.args;
    const result =
      route.action === "promote"
        ? await writer.promote(a!, b === CLUSTER_SCOPE ? "" : b!, c!, user, full === "true")
        : route.action === "retry"
          ? await writer.retry(a!, user)
          : await writer.cordon(a!, route.action === "cordon", user);
    return { status: 202, body: result };
  } catch (err) {
    const e = toCoxError(err, "ApiWriteFailed");
    const status = WRITE_STATUS[e.code] ?? 503;
    const code = WRITE_STATUS[e.code] ? e.code : "ApiWriteFailed";
    const at = e.code === "ManifestNotEditable" && e.details ? { file: String(e.details.file), line: Number(e.details.line) } : {};
    return { status, body: { code, message: e.message, ...at } };
  }
}

function writeRoute(path: string): { action: "promote" | "cordon" | "uncordon" | "retry"; args: string[] } | undefined {
  const parts = path
    .replace(/^\/api\/v1\/?/, "")
    .split("/")
    .map(decodeSegment);
  if (parts.some((p) => p === undefined || p === "")) return undefined;
  const [what, ...rest] = parts as string[];
  const action = rest[rest.length - 1];
  if (what === "workloads" && rest.length === 4 && action === "promote") return { action, args: rest.slice(0, 3) };
  if (what === "nodes" && rest.length === 2 && (action === "cordon" || action === "uncordon")) return { action, args: rest.slice(0, 1) };
  if (what === "commits" && rest.length === 2 && action === "retry") return { action, args: rest.slice(0, 1) };
  return undefined;
}

function notFound(path: string, message = `no such endpoint ${path}; GET /api/v1/openapi.json lists them`): ApiAnswer {
  return { status: 404, body: { code: "ApiNotFound", message } };
}

function decodeSegment(s: string): string | undefined {
  try {
    return decodeURIComponent(s);
  } catch {
    return undefined;
  }
}
