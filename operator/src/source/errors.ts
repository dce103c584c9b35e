/**
 * Maps what isomorphic-git and the network throw onto coxswain's stable codes. Messages name the
 * repository by its credential-free location only.
 */
import { CoxError } from "../api/errors.js";
import { HttpDeadlineError } from "./http.js";
import { redactUrl } from "./url.js";

/** What a network operation was doing, for messages. */
export type GitNetworkOp = "clone" | "fetch" | "push";

interface IsoGitErrorShape {
  code?: string;
  message?: string;
  data?: { statusCode?: number; statusMessage?: string; reason?: string; what?: string };
}

/**
 * Turns an error from clone/fetch/push into a CoxError:
 * deadline → GitTimeout; HTTP 401/403 → GitAuthFailed; HTTP 404 or a server that does not speak smart
 * HTTP → RepoNotFound; non-fast-forward or a refused ref update → GitPushRejected; anything else →
 * GitFetchFailed (transient).
 */
export function mapNetworkError(err: unknown, ctx: { op: GitNetworkOp; location: string; timedOut: boolean; timeoutMs: number; ref?: string }): CoxError {
  if (err instanceof CoxError) return err;
  const e = (err ?? {}) as IsoGitErrorShape;
  const what = ctx.ref ? `${ctx.op} of ${ctx.ref} ${ctx.op === "push" ? "to" : "from"} ${ctx.location}` : `${ctx.op} ${ctx.op === "push" ? "to" : "from"} ${ctx.location}`;
  const detail = redactUrl(String(e.message ?? err)).slice(0, 300);
  if (ctx.timedOut || err instanceof HttpDeadlineError) {
    return new CoxError("GitTimeout", `${what} did not complete within ${ctx.timeoutMs} ms (the server accepted the connection but did not answer in time)`, {
      cause: err,
      details: { op: ctx.op, timeoutMs: ctx.timeoutMs },
    });
  }
  switch (e.code) {
    case "HttpError": {
      const status = e.data?.statusCode ?? 0;
      if (status === 401 || status === 403) {
        return new CoxError("GitAuthFailed", `${what} was refused with HTTP ${status}: the server did not accept the credentials (expected valid basic-auth credentials)`, {
          cause: err,
          details: { op: ctx.op, status },
        });
      }
      if (status === 404) {
        return new CoxError("RepoNotFound", `${what} failed with HTTP 404: there is no Git repository at that URL`, {
          cause: err,
          details: { op: ctx.op, status },
        });
      }
      return new CoxError("GitFetchFailed", `${what} failed with HTTP ${status}: ${detail}`, { cause: err, details: { op: ctx.op, status } });
    }
    case "SmartHttpError":
    case "EmptyServerResponseError":
      return new CoxError("RepoNotFound", `${what} failed: the server did not answer as a smart-HTTP Git server (${detail})`, {
        cause: err,
        details: { op: ctx.op },
      });
    case "PushRejectedError":
      return new CoxError("GitPushRejected", `${what} was rejected: the remote ref moved and our commit does not descend from it (${e.data?.reason ?? "not-fast-forward"})`, {
        cause: err,
        details: { op: ctx.op, reason: e.data?.reason },
      });
    case "GitPushError":
      return new CoxError("GitPushRejected", `${what} was refused by the server: ${detail}`, { cause: err, details: { op: ctx.op } });
    default:
      return new CoxError("GitFetchFailed", `${what} failed: ${detail}`, { cause: err, details: { op: ctx.op, code: e.code } });
  }
}

/** True when err is isomorphic-git's NotFoundError (a missing ref, object or path). */
export function isNotFound(err: unknown): boolean {
  return (err as IsoGitErrorShape | undefined)?.code === "NotFoundError";
}
