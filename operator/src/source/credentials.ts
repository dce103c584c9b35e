/**
 * Where the credentials of a remote repository come from: the environment (COXSWAIN_GIT_USERNAME,
 * COXSWAIN_GIT_PASSWORD) or a file named by a flag. Secrets stay in memory: they go into one HTTP
 * header (source/url.ts basicAuthHeader) and nowhere else. Nothing here ever puts a secret, or a line of
 * a secret file, into an error message or a warning: problems are reported by line number and key.
 *
 * Credentials file format (git-credential style, one `key=value` per line):
 *
 *     # comments and blank lines are ignored
 *     username=deployer
 *     password=ghp_xxxxxxxxxxxxxxxxxxxx      (a token goes here)
 *
 * `protocol=`, `host=`, `path=` and `url=` lines (what `git credential fill` prints) are accepted and
 * ignored. `username` is optional: with a token alone it defaults to DEFAULT_TOKEN_USERNAME. Values are
 * taken verbatim after the first "=" (no quoting, no trimming of inner spaces; a trailing "\r" is removed).
 * A file readable by group or others is accepted with a warning, as ssh does for keys it still uses.
 */
import { promises as fsp, type Stats } from "node:fs";
import { CoxError } from "../api/errors.js";
import type { GitCredentials } from "./url.js";

/** The environment variable holding the username. */
const ENV_USERNAME = "COXSWAIN_GIT_USERNAME";
/** The environment variable holding the password or token. */
const ENV_PASSWORD = "COXSWAIN_GIT_PASSWORD";
/**
 * Username sent with a token when none is given. GitHub and Gitea accept any non-empty username with a
 * token; GitLab (`oauth2` for OAuth tokens) and Bitbucket (`x-token-auth`) want theirs set explicitly.
 */
export const DEFAULT_TOKEN_USERNAME = "x-access-token";
/** Largest secret file read (a credentials or webhook secret file is a few lines). */
const MAX_SECRET_FILE_BYTES = 64 * 1024;

/** Credentials and where they came from (for a log line that names the source, never the secret). */
export interface ResolvedCredentials {
  credentials: GitCredentials;
  /** "file <path>" or "environment (COXSWAIN_GIT_USERNAME/COXSWAIN_GIT_PASSWORD)". */
  source: string;
  /** E.g. a file readable by others; safe to print (no secret in it). */
  warnings: string[];
}

/**
 * Credentials from COXSWAIN_GIT_USERNAME / COXSWAIN_GIT_PASSWORD; undefined when neither is set.
 * A password (token) alone gets DEFAULT_TOKEN_USERNAME; a username alone is InvalidArgument.
 */
export function credentialsFromEnv(env: NodeJS.ProcessEnv = process.env): GitCredentials | undefined {
  const username = env[ENV_USERNAME] ?? "";
  const password = env[ENV_PASSWORD] ?? "";
  if (username === "" && password === "") return undefined;
  if (password === "") {
    throw new CoxError("InvalidArgument", `${ENV_USERNAME} is set but ${ENV_PASSWORD} is empty; expected a password or token in ${ENV_PASSWORD}`);
  }
  return { username: username === "" ? DEFAULT_TOKEN_USERNAME : username, password };
}

/** Parses the text of a credentials file (format: see the module comment). Pure. */
export function parseCredentials(text: string, where = "credentials file"): GitCredentials {
  let username: string | undefined;
  let password: string | undefined;
  const lines = text.split("\n");
  for (const [i, raw] of lines.entries()) {
    const line = raw.replace(/\r$/, "");
    if (line.trim() === "" || line.trimStart().startsWith("#")) continue;
    const eq = line.indexOf("=");
    const key = eq < 0 ? "" : line.slice(0, eq).trim();
    if (eq < 0 || key === "") {
      // Never echo the line: it may be a bare token.
      throw new CoxError("InvalidArgument", `${where}, line ${i + 1}: expected key=value (username=…, password=…)`);
    }
    const value = line.slice(eq + 1);
    switch (key) {
      case "username":
        if (username !== undefined) throw new CoxError("InvalidArgument", `${where}, line ${i + 1}: username is given twice`);
        username = value;
        break;
      case "password":
        if (password !== undefined) throw new CoxError("InvalidArgument", `${where}, line ${i + 1}: password is given twice`);
        password = value;
        break;
      case "protocol":
      case "host":
      case "path":
      case "url":
        break; // git credential fill prints these; the repository URL decides where credentials go
      default:
        throw new CoxError("InvalidArgument", `${where}, line ${i + 1}: unknown key ${JSON.stringify(key.slice(0, 40))}; expected username, password (or protocol, host, path, url)`);
    }
  }
  if (password === undefined || password === "") {
    throw new CoxError("InvalidArgument", `${where}: no password= line (or it is empty); expected password=<password or token>`);
  }
  return { username: username === undefined || username === "" ? DEFAULT_TOKEN_USERNAME : username, password };
}

/**
 * Reads a credentials file (format: see the module comment). Missing or unreadable file, or bad content →
 * CoxError InvalidArgument whose message names the path and line, never the content. A file readable by
 * group or others yields a warning.
 */
export async function readCredentialsFile(path: string): Promise<{ credentials: GitCredentials; warnings: string[] }> {
  const { text, warnings } = await readSecretFile(path, "credentials file");
  return { credentials: parseCredentials(text, `credentials file ${path}`), warnings };
}

/**
 * The credentials coxswain uses for a remote repository: the file when one is named (explicit wins over
 * ambient), else the environment, else none. Credentials written into the --repo URL still win over both
 * (openRepository). Throws InvalidArgument for a bad file or environment.
 */
export async function resolveGitCredentials(opts: { file?: string; env?: NodeJS.ProcessEnv } = {}): Promise<ResolvedCredentials | undefined> {
  if (opts.file) {
    const { credentials, warnings } = await readCredentialsFile(opts.file);
    return { credentials, source: `file ${opts.file}`, warnings };
  }
  const fromEnv = credentialsFromEnv(opts.env ?? process.env);
  return fromEnv ? { credentials: fromEnv, source: `environment (${ENV_USERNAME}/${ENV_PASSWORD})`, warnings: [] } : undefined;
}

/**
 * Reads a small file that holds a secret. Errors name the path and what is wrong, never the content.
 * Warns (does not refuse) when group or others may read it.
 */
export async function readSecretFile(path: string, what: string): Promise<{ text: string; warnings: string[] }> {
  let st: Stats;
  try {
    st = await fsp.stat(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? "error";
    throw new CoxError("InvalidArgument", `${what} ${path} cannot be read (${code}); expected a readable file`);
  }
  if (!st.isFile()) throw new CoxError("InvalidArgument", `${what} ${path} is not a regular file`);
  if (st.size > MAX_SECRET_FILE_BYTES) {
    throw new CoxError("InvalidArgument", `${what} ${path} is ${st.size} bytes; expected a small file (at most ${MAX_SECRET_FILE_BYTES} bytes)`);
  }
  let text: string;
  try {
    text = await fsp.readFile(path, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? "error";
    throw new CoxError("InvalidArgument", `${what} ${path} cannot be read (${code}); expected a readable file`);
  }
  const warnings: string[] = [];
  if (process.platform !== "win32" && (st.mode & 0o077) !== 0) {
    warnings.push(`${what} ${path} has mode ${(st.mode & 0o777).toString(8).padStart(4, "0")}: group or others can read it; run chmod 600 ${path}`);
  }
  return { text, warnings };
}
