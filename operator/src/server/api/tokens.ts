/**
 * Bearer tokens of the read API (`--api-token-file`) and the decision for each request. Pure but for
 * reading the file.
 *
 * The file: one token per line, `<scope> <token> [<user>]`; scope `read` (GET) or `write` (GET and the
 * writes); the user names the token in what the API commits to Git and in logs (default `token-<line>`).
 * Blank lines and lines starting with `#` are skipped. A token is at least 16 characters of
 * `[A-Za-z0-9._~+/=-]`. Errors name the file and the line, never its content.
 *
 * Tokens are compared through their SHA-256 digests with timingSafeEqual: the time of a refusal does
 * not tell how much of a guess was right.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { CoxError } from "../../api/errors.js";
import { readSecretFile } from "../../source/credentials.js";

/** What a token allows: reads only, or reads and writes. */
export type TokenScope = "read" | "write";

/** One token of the file (the token itself only as its digest). */
export interface ApiToken {
  scope: TokenScope;
  user: string;
  /** SHA-256 of the token. */
  digest: Buffer;
}

/** Shortest token accepted. */
const MIN_TOKEN_LENGTH = 16;

const TOKEN = /^[A-Za-z0-9._~+/=-]+$/;
const USER = /^[A-Za-z0-9._@-]{1,64}$/;

/** Parses the token file's text; InvalidArgument naming `where` and the line (never the token). Pure. */
export function parseApiTokens(text: string, where: string): ApiToken[] {
  const tokens: ApiToken[] = [];
  const seen = new Set<string>();
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    const at = `${where}:${i + 1}`;
    const [scope, token, user, ...rest] = line.split(/\s+/);
    if (scope !== "read" && scope !== "write") throw new CoxError("InvalidArgument", `${at}: expected "read <token> [user]" or "write <token> [user]" (the scope first)`);
    if (token === undefined || !TOKEN.test(token) || token.length < MIN_TOKEN_LENGTH) {
      throw new CoxError("InvalidArgument", `${at}: expected a token of at least ${MIN_TOKEN_LENGTH} characters of A-Z a-z 0-9 . _ ~ + / = - after the scope`);
    }
    if (rest.length > 0 || (user !== undefined && !USER.test(user))) throw new CoxError("InvalidArgument", `${at}: expected at most a user name (letters, digits, . _ @ -) after the token`);
    const digest = sha256(token);
    if (seen.has(digest.toString("hex"))) throw new CoxError("InvalidArgument", `${at}: the same token is on an earlier line`);
    seen.add(digest.toString("hex"));
    tokens.push({ scope, user: user ?? `token-${i + 1}`, digest });
  });
  if (tokens.length === 0) throw new CoxError("InvalidArgument", `${where}: no token; expected lines "read <token> [user]" or "write <token> [user]"`);
  return tokens;
}

/** Reads `--api-token-file`; warnings (a file readable by others) are safe to print. */
export async function readApiTokenFile(path: string): Promise<{ tokens: ApiToken[]; warnings: string[] }> {
  const { text, warnings } = await readSecretFile(path, "API token file");
  return { tokens: parseApiTokens(text, path), warnings };
}

/** The decision on one API request. */
export type Authorization = { ok: true; user?: string; scope?: TokenScope } | { ok: false; status: 401 | 403; code: "ApiUnauthorized" | "ApiForbidden"; message: string; challenge?: string };

/**
 * Decides an API request: without tokens configured, everything is allowed (the server only starts so
 * on loopback: isLoopbackHost); with them, a `Bearer` token of the file is needed (401 otherwise, with
 * the challenge for WWW-Authenticate), and a write (any method but GET and HEAD) needs a write token
 * (403). Pure.
 */
export function authorize(tokens: readonly ApiToken[] | undefined, header: string | undefined, method: string): Authorization {
  if (!tokens || tokens.length === 0) return { ok: true };
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? "");
  if (!m) return { ok: false, status: 401, code: "ApiUnauthorized", message: "this API needs an Authorization: Bearer <token> header", challenge: 'Bearer realm="coxswain"' };
  const digest = sha256(m[1]!);
  const token = tokens.find((t) => timingSafeEqual(t.digest, digest));
  if (!token) return { ok: false, status: 401, code: "ApiUnauthorized", message: "the bearer token is not one of --api-token-file", challenge: 'Bearer realm="coxswain", error="invalid_token"' };
  if (method !== "GET" && method !== "HEAD" && token.scope !== "write") {
    return { ok: false, status: 403, code: "ApiForbidden", message: `the token of ${token.user} is read-only; a write needs a write token` };
  }
  return { ok: true, user: token.user, scope: token.scope };
}

/** True for a listen host only this machine can reach: 127.0.0.0/8, ::1, localhost. Pure. */
export function isLoopbackHost(host: string): boolean {
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host) || host === "::1" || host === "::ffff:127.0.0.1" || host.toLowerCase() === "localhost";
}

function sha256(text: string): Buffer {
  return createHash("sha256").update(text, "utf8").digest();
}
