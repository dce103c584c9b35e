/**
 * Where a repository lives: a path on disk or an http(s) URL. Credentials in a URL are split off here, so
 * that nothing downstream (messages, `location`, the mirror's config, file names) ever sees them.
 */
import { createHash } from "node:crypto";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { CoxError } from "../api/errors.js";

/** HTTP basic credentials for a remote repository. */
export interface GitCredentials {
  username: string;
  password: string;
}

/** A parsed `--repo` value. */
export type RepoLocation =
  | { kind: "local"; path: string }
  | {
      kind: "remote";
      /** The URL without user:password@ (what goes into messages, config and `location`). */
      url: string;
      /** Credentials taken from the URL, if it carried any. */
      credentials?: GitCredentials;
    };

/**
 * Parses a `--repo` value. http(s) URLs become remote locations with credentials removed; file:// URLs
 * and anything without a scheme are paths; other schemes (ssh://, git@host:) are rejected with
 * RepoNotFound because isomorphic-git speaks only smart HTTP.
 */
export function parseRepoLocation(repo: string): RepoLocation {
  const trimmed = repo.trim();
  if (trimmed === "") throw new CoxError("RepoNotFound", "the repository location is empty; expected a path or an http(s) URL");
  if (/^https?:\/\//i.test(trimmed)) {
    let url: URL;
    try {
      url = new URL(trimmed);
    } catch {
      // The raw text may hold credentials: never echo it back, and do not chain the parser's error (it quotes it).
      throw new CoxError("RepoNotFound", "the repository URL is not a valid http(s) URL");
    }
    let credentials: GitCredentials | undefined;
    if (url.username !== "" || url.password !== "") {
      credentials = { username: decodeURIComponent(url.username), password: decodeURIComponent(url.password) };
      url.username = "";
      url.password = "";
    }
    url.hash = "";
    return credentials ? { kind: "remote", url: url.toString(), credentials } : { kind: "remote", url: url.toString() };
  }
  if (/^file:\/\//i.test(trimmed)) return { kind: "local", path: fileURLToPath(trimmed) };
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(trimmed) || /^[^/\\]+@[^/\\]+:/.test(trimmed)) {
    throw new CoxError("RepoNotFound", `unsupported repository location ${redactUrl(trimmed)}: expected a local path or an http(s) URL (ssh and git:// are not supported)`);
  }
  return { kind: "local", path: trimmed };
}

/** Removes user:password@ from anything that looks like a URL, for messages. */
export function redactUrl(text: string): string {
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/)[^/@\s]*@/gi, "$1");
}

/** The mirror directory of a remote URL: `<stateDir>/mirrors/<sha256(url)[0:16]>.git` (url without credentials). */
export function mirrorPath(stateDir: string, url: string): string {
  const id = createHash("sha256").update(url).digest("hex").slice(0, 16);
  return join(stateDir, "mirrors", `${id}.git`);
}

/** The Authorization header value for basic auth; sent up front so that a fetch costs one round trip. */
export function basicAuthHeader(credentials: GitCredentials): string {
  return "Basic " + Buffer.from(`${credentials.username}:${credentials.password}`, "utf8").toString("base64");
}
