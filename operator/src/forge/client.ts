/**
 * The REST calls coxswain makes on a forge (GitHub, GitLab, Gitea), behind one small interface: find the
 * open pull/merge request of a branch, list, create and edit its comments, and set a commit status. Each
 * forge's own shapes (as documented by it):
 * - GitHub (API base https://api.github.com, `Authorization: Bearer <token>`):
 *   GET /repos/{o}/{r}/pulls?head={o}:{branch}&state=open → [{number}];
 *   GET|POST /repos/{o}/{r}/issues/{n}/comments ({body}) → [{id, body}] | {id};
 *   PATCH /repos/{o}/{r}/issues/comments/{id} ({body});
 *   POST /repos/{o}/{r}/statuses/{sha} ({state: pending|success|failure|error, context, description}).
 * - GitLab (API base like https://gitlab.com/api/v4, `PRIVATE-TOKEN: <token>`, the project as its
 *   URL-encoded path): GET /projects/{id}/merge_requests?source_branch={branch}&state=opened → [{iid}];
 *   GET|POST /projects/{id}/merge_requests/{iid}/notes; PUT /projects/{id}/merge_requests/{iid}/notes/{id};
 *   POST /projects/{id}/statuses/{sha} ({state: pending|running|success|failed|canceled, name, description}).
 * - Gitea (API base like https://gitea.example/api/v1, `Authorization: token <token>`):
 *   GET /repos/{o}/{r}/pulls?state=open → [{number, head: {ref}}], filtered here by head.ref;
 *   GET (every one, not paged) and POST /repos/{o}/{r}/issues/{n}/comments; PATCH /repos/{o}/{r}/issues/comments/{id};
 *   POST /repos/{o}/{r}/statuses/{sha} ({state: pending|success|error|failure|warning, context, description}).
 * Other lists are read page by page (at most MAX_PAGES pages). A failed call throws ForgeRequestFailed with the
 * method, path and HTTP status, never the token (it is only ever in a header).
 */
import { CoxError } from "../api/errors.js";

/** The forges coxswain speaks to. */
export const FORGE_KINDS = ["github", "gitlab", "gitea"] as const;
/** One of FORGE_KINDS. */
export type ForgeKind = (typeof FORGE_KINDS)[number];

/** The default API base of a forge, when it has a public one (GitHub's and gitlab.com's). */
export const DEFAULT_FORGE_URLS: Partial<Record<ForgeKind, string>> = { github: "https://api.github.com", gitlab: "https://gitlab.com/api/v4" };

/** A commit status as coxswain posts it (mapped to each forge's own states). */
export interface ForgeStatus {
  sha: string;
  state: "pending" | "success" | "failure";
  /** The status' name on the forge: "coxswain/plan", "coxswain/rollout". */
  context: string;
  /** At most STATUS_DESCRIPTION_MAX characters (GitHub's limit). */
  description: string;
}

/** A comment of a pull/merge request. */
export interface ForgeComment {
  id: number;
  body: string;
}

/** The calls coxswain makes on a forge. */
export interface ForgeClient {
  readonly kind: ForgeKind;
  /** The number (GitLab: iid) of the open pull/merge request whose source branch is `branch`; undefined when none. */
  findRequest(branch: string): Promise<number | undefined>;
  listComments(request: number): Promise<ForgeComment[]>;
  /** Creates a comment; its id. */
  createComment(request: number, body: string): Promise<number>;
  editComment(request: number, id: number, body: string): Promise<void>;
  setStatus(status: ForgeStatus): Promise<void>;
}

/** Where a forge is and who coxswain is on it. */
export interface ForgeClientOptions {
  kind: ForgeKind;
  /** The API base, e.g. https://api.github.com. */
  url: string;
  /** "owner/name" (GitLab: the project's full path, groups included). */
  repo: string;
  token: string;
  /** Deadline of each request (default 10 s). */
  timeoutMs?: number;
  /** Aborts the requests in flight (the operator stopping). */
  signal?: AbortSignal;
}

/** GitHub refuses status descriptions longer than this. */
const STATUS_DESCRIPTION_MAX = 140;
const PER_PAGE = 50;
const MAX_PAGES = 20;

/** Makes the client of a forge. */
export function createForgeClient(opts: ForgeClientOptions): ForgeClient {
  const base = opts.url.replace(/\/+$/, "");
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const auth: Record<string, string> =
    opts.kind === "github" ? { authorization: `Bearer ${opts.token}`, accept: "application/vnd.github+json" } : opts.kind === "gitlab" ? { "private-token": opts.token } : { authorization: `token ${opts.token}` };
  const call = async (method: string, path: string, body?: unknown): Promise<unknown> => {
    let res: Response;
    try {
      res = await fetch(`${base}${path}`, {
        method,
        headers: { ...auth, "user-agent": "coxswain", ...(body !== undefined ? { "content-type": "application/json" } : {}) },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: opts.signal ? AbortSignal.any([opts.signal, AbortSignal.timeout(timeoutMs)]) : AbortSignal.timeout(timeoutMs),
      });
    } catch (err) {
      throw new CoxError("ForgeRequestFailed", `${opts.kind}: ${method} ${path}: ${(err as Error).message}`, { details: { method, path }, cause: err });
    }
    const text = await res.text();
    if (!res.ok) {
      throw new CoxError("ForgeRequestFailed", `${opts.kind}: ${method} ${path}: HTTP ${res.status}`, { details: { method, path, status: res.status } });
    }
    try {
      return text === "" ? undefined : JSON.parse(text);
    } catch {
      throw new CoxError("ForgeRequestFailed", `${opts.kind}: ${method} ${path}: the answer is not JSON`, { details: { method, path, status: res.status } });
    }
  };
  /** Every item of a paged list (`page` from 1, PER_PAGE a page; the page size parameter is the forge's). */
  const list = async (path: string, size: string): Promise<Record<string, unknown>[]> => {
    const out: Record<string, unknown>[] = [];
    for (let page = 1; page <= MAX_PAGES; page++) {
      const got = await call("GET", `${path}${path.includes("?") ? "&" : "?"}${size}=${PER_PAGE}&page=${page}`);
      if (!Array.isArray(got)) throw new CoxError("ForgeRequestFailed", `${opts.kind}: GET ${path}: expected a list`);
      out.push(...(got as Record<string, unknown>[]));
      if (got.length < PER_PAGE) break;
    }
    return out;
  };
  const all = async (path: string): Promise<Record<string, unknown>[]> => {
    const got = await call("GET", path);
    if (!Array.isArray(got)) throw new CoxError("ForgeRequestFailed", `${opts.kind}: GET ${path}: expected a list`);
    return got as Record<string, unknown>[];
  };
  const comments = (items: Record<string, unknown>[]): ForgeComment[] => items.map((c) => ({ id: Number(c.id), body: String(c.body ?? "") }));
  const description = (s: ForgeStatus) => (s.description.length <= STATUS_DESCRIPTION_MAX ? s.description : `${s.description.slice(0, STATUS_DESCRIPTION_MAX - 1)}…`);
  const enc = encodeURIComponent;

  if (opts.kind === "gitlab") {
    const project = `/projects/${enc(opts.repo)}`;
    return {
      kind: opts.kind,
      async findRequest(branch) {
        const found = await list(`${project}/merge_requests?source_branch=${enc(branch)}&state=opened`, "per_page");
        return found.length > 0 ? Number(found[0]!.iid) : undefined;
      },
      listComments: async (mr) => comments(await list(`${project}/merge_requests/${mr}/notes?sort=asc`, "per_page")),
      createComment: async (mr, body) => Number(((await call("POST", `${project}/merge_requests/${mr}/notes`, { body })) as { id: number }).id),
      editComment: async (mr, id, body) => void (await call("PUT", `${project}/merge_requests/${mr}/notes/${id}`, { body })),
      setStatus: async (s) => void (await call("POST", `${project}/statuses/${s.sha}`, { state: s.state === "failure" ? "failed" : s.state, name: s.context, description: description(s) })),
    };
  }
  const repo = `/repos/${opts.repo.split("/").map(enc).join("/")}`;
  const owner = opts.repo.split("/")[0]!;
  return {
    kind: opts.kind,
    async findRequest(branch) {
      if (opts.kind === "github") {
        const found = await list(`${repo}/pulls?head=${enc(`${owner}:${branch}`)}&state=open`, "per_page");
        return found.length > 0 ? Number(found[0]!.number) : undefined;
      }
      const found = await list(`${repo}/pulls?state=open`, "limit");
      const pr = found.find((p) => (p.head as { ref?: unknown } | undefined)?.ref === branch);
      return pr ? Number(pr.number) : undefined;
    },
    // Gitea's issue comments are not paged (only since/before): one call answers them all.
    listComments: async (n) => comments(opts.kind === "github" ? await list(`${repo}/issues/${n}/comments`, "per_page") : await all(`${repo}/issues/${n}/comments`)),
    createComment: async (n, body) => Number(((await call("POST", `${repo}/issues/${n}/comments`, { body })) as { id: number }).id),
    editComment: async (_n, id, body) => void (await call("PATCH", `${repo}/issues/comments/${id}`, { body })),
    setStatus: async (s) => void (await call("POST", `${repo}/statuses/${s.sha}`, { state: s.state, context: s.context, description: description(s) })),
  };
}
