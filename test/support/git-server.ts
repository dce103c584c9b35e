/**
 * A real smart-HTTP Git server for tests: a Node http server on 127.0.0.1 that runs `git http-backend` as
 * a CGI program for each request (the same program that serves Git behind Apache or nginx). Clone, fetch
 * and push work with the git CLI and isomorphic-git alike. Optional basic auth. It can also be told to
 * stall (accept connections and never answer) to test deadlines.
 */
import { spawn, execFile, type ChildProcess } from "node:child_process";
import { mkdir } from "node:fs/promises";
import http from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { join } from "node:path";
import { promisify } from "node:util";

const execFileAsync = promisify(execFile);

/**
 * How the server misbehaves on purpose: answer normally, never answer, send headers and then nothing, or
 * reset every connection at once (a remote that is down).
 */
export type StallMode = false | "no-response" | "headers-then-stall" | "reset";

/** A running server. */
export interface GitServer {
  /** http://127.0.0.1:<port>/<repoName> (no credentials). */
  url(repoName: string): string;
  /** The URL with user:password@ (for tests of credentials in URLs). */
  urlWithCredentials(repoName: string, username: string, password: string): string;
  readonly port: number;
  /** Number of requests served (including refused and stalled ones). */
  readonly requests: number;
  /** Number of fetch requests (git-upload-pack: ref advertisement or pack), so pushes of status do not count. */
  readonly fetches: number;
  /** From now on, requests are accepted and stalled in the given way (false = serve normally again). */
  stall(mode: StallMode): void;
  /** Stops listening, kills every http-backend child still running and drops open connections. */
  close(): Promise<void>;
}

/** Options of startGitServer. */
export interface GitServerOptions {
  /** Directory holding bare repositories (GIT_PROJECT_ROOT). */
  root: string;
  /** When set, every request needs these basic-auth credentials (else 401 with WWW-Authenticate). */
  auth?: { username: string; password: string };
  /** Port to listen on (default 0: a free one); a server restarted on the same port looks like a remote that came back. */
  port?: number;
  /** Called with the Authorization header of every request (tests that check what a client sends). */
  onAuthorization?: (header: string | undefined) => void;
}

/** Starts the server on 127.0.0.1, port 0 (a free port). */
export async function startGitServer(opts: GitServerOptions): Promise<GitServer> {
  const children = new Set<ChildProcess>();
  const sockets = new Set<Socket>();
  let stallMode: StallMode = false;
  let requests = 0;
  let fetches = 0;

  const server = http.createServer((req, res) => {
    requests++;
    if ((req.url ?? "").includes("git-upload-pack")) fetches++;
    opts.onAuthorization?.(req.headers.authorization);
    if (stallMode === "reset") {
      req.socket.destroy();
      return;
    }
    if (stallMode === "no-response") return; // keep the socket open, say nothing
    if (stallMode === "headers-then-stall") {
      res.writeHead(200, { "content-type": "application/x-git-upload-pack-advertisement" });
      res.flushHeaders();
      return;
    }
    if (opts.auth && !authorized(req.headers.authorization, opts.auth)) {
      res.writeHead(401, { "www-authenticate": 'Basic realm="coxswain-test"', "content-type": "text/plain" });
      res.end("authentication required\n");
      return;
    }
    serveCgi(req, res, opts, children);
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 0, "127.0.0.1", () => resolve());
  });
  const port = (server.address() as AddressInfo).port;

  return {
    port,
    get requests() {
      return requests;
    },
    get fetches() {
      return fetches;
    },
    url: (name) => `http://127.0.0.1:${port}/${name}`,
    urlWithCredentials: (name, username, password) => `http://${encodeURIComponent(username)}:${encodeURIComponent(password)}@127.0.0.1:${port}/${name}`,
    stall(mode) {
      stallMode = mode;
    },
    async close() {
      for (const child of children) if (child.pid !== undefined && child.exitCode === null) process.kill(child.pid, "SIGKILL");
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function authorized(header: string | undefined, auth: { username: string; password: string }): boolean {
  if (!header?.startsWith("Basic ")) return false;
  const decoded = Buffer.from(header.slice("Basic ".length), "base64").toString("utf8");
  return decoded === `${auth.username}:${auth.password}`;
}

/** Runs git http-backend for one request: CGI environment in, CGI headers ("Status:") and body out. */
function serveCgi(req: http.IncomingMessage, res: http.ServerResponse, opts: GitServerOptions, children: Set<ChildProcess>): void {
  const url = new URL(req.url ?? "/", "http://127.0.0.1");
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    GIT_CONFIG_NOSYSTEM: "1",
    GIT_PROJECT_ROOT: opts.root,
    GIT_HTTP_EXPORT_ALL: "1",
    // http-backend refuses receive-pack for anonymous users unless http.receivepack is set; the bare repos
    // set it, and REMOTE_USER marks the request as authenticated either way.
    REMOTE_USER: opts.auth?.username ?? "anonymous",
    REMOTE_ADDR: req.socket.remoteAddress ?? "127.0.0.1",
    REQUEST_METHOD: req.method ?? "GET",
    PATH_INFO: decodeURIComponent(url.pathname),
    QUERY_STRING: url.search.replace(/^\?/, ""),
    CONTENT_TYPE: req.headers["content-type"] ?? "",
    GIT_PROTOCOL: (req.headers["git-protocol"] as string | undefined) ?? "",
    HTTP_CONTENT_ENCODING: (req.headers["content-encoding"] as string | undefined) ?? "",
  };
  // Without CONTENT_LENGTH http-backend reads the (chunked) body to EOF.
  if (req.headers["content-length"] !== undefined) env.CONTENT_LENGTH = req.headers["content-length"];
  const child = spawn("git", ["http-backend"], { env, stdio: ["pipe", "pipe", "pipe"] });
  children.add(child);
  child.once("exit", () => children.delete(child));
  child.stdin.on("error", () => undefined); // the backend may exit before reading everything
  req.pipe(child.stdin);
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString("utf8")));

  let head = Buffer.alloc(0);
  let headersDone = false;
  child.stdout.on("data", (chunk: Buffer) => {
    if (headersDone) {
      res.write(chunk);
      return;
    }
    head = Buffer.concat([head, chunk]);
    const crlf = head.indexOf("\r\n\r\n");
    const lf = head.indexOf("\n\n");
    const end = crlf >= 0 && (lf < 0 || crlf < lf) ? { at: crlf, len: 4 } : lf >= 0 ? { at: lf, len: 2 } : undefined;
    if (!end) return;
    headersDone = true;
    let status = 200;
    let message = "OK";
    const headers: Record<string, string> = {};
    for (const line of head.subarray(0, end.at).toString("latin1").split(/\r?\n/)) {
      const i = line.indexOf(":");
      if (i < 0) continue;
      const key = line.slice(0, i).trim();
      const value = line.slice(i + 1).trim();
      if (key.toLowerCase() === "status") {
        const m = /^(\d{3})\s*(.*)$/.exec(value);
        if (m) {
          status = Number(m[1]);
          message = m[2] || message;
        }
      } else headers[key] = value;
    }
    res.writeHead(status, message, headers);
    const rest = head.subarray(end.at + end.len);
    if (rest.length > 0) res.write(rest);
  });
  child.stdout.once("end", () => {
    if (!headersDone) {
      res.writeHead(502, { "content-type": "text/plain" });
      res.end(`git http-backend produced no CGI headers\n${stderr}`);
    } else res.end();
  });
  res.once("close", () => {
    if (child.exitCode === null && child.pid !== undefined) child.kill("SIGKILL");
  });
}

/**
 * Creates an empty bare repository `<root>/<name>` (default branch main) that accepts pushes over HTTP.
 * Returns its path.
 */
export async function createBareRepo(root: string, name: string): Promise<string> {
  const path = join(root, name);
  await mkdir(path, { recursive: true });
  await execFileAsync("git", ["init", "--quiet", "--bare", "--initial-branch=main", path]);
  await execFileAsync("git", ["--git-dir", path, "config", "http.receivepack", "true"]);
  return path;
}
