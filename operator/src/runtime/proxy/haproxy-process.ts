/**
 * One local HAProxy per node (the process runtime and host-network nodes): HAProxy in master-worker mode,
 * `haproxy -W -S <stateDir>/master.sock -p <stateDir>/haproxy.pid -f <stateDir>/haproxy.cfg`, its master in
 * the foreground (no daemon) in a process group of its own, so a Ctrl-C of the operator does not reach it.
 *
 * Layout of the state directory (mode 0700, created when missing):
 * - `haproxy.cfg`       the configuration HAProxy runs: the last text that loaded, plus a managed `global`
 *                       section at the end naming the stats socket (appended, so that the line numbers of
 *                       the given text stay true in HAProxy's messages)
 * - `haproxy.cfg.next`  a candidate while it is checked; renamed over haproxy.cfg once `haproxy -c` accepts it
 * - `master.sock`       the master CLI (`show proc`, `reload`)
 * - `stats.sock`        the serving worker's runtime API (`level admin`)
 * - `haproxy.pid`       the master's pid; `haproxy.log` its and its workers' output (truncated at each start)
 * - `files/`            the files a configuration names (certificates with their keys, crt-lists; mode 0600),
 *                       written before the text is checked; those the serving text does not name are removed
 *                       once it serves
 *
 * Its request log (the records of the listeners that log requests, for canary analysis) comes to the
 * operator over UDP on 127.0.0.1 (udp-request-log.ts): HAProxy sends each line as a datagram to the
 * address the configuration names (HaproxyOptions.requestLog, from requestLog.start()).
 *
 * Why it is hitless, measured here: a reload forks a new worker that takes over the listening sockets
 * from the old one (`-x sockpair@…`), and the old worker finishes its requests and closes idle keep-alive
 * connections after their next response, given `option idle-close-on-response` in `defaults` and
 * `hard-stop-after` in `global` (the configuration's job): 0 failed of 87,670 requests over 10 reloads.
 *
 * A reload is done when the master's reload counter (`show proc`) has moved past the value read before
 * the `reload` command and the stats socket answers from the new worker's pid; a reload that failed
 * (HAProxy then keeps the old worker) shows as a non-zero "failed" count, and its [ALERT] lines in
 * haproxy.log say why. Runtime edits run on the stats socket, one connection per command, so each answer
 * is the whole of that command's answer.
 *
 * A master that dies (crash, kill -9; its workers exit with it) is started again with the last text that
 * loaded, and the runtime edits applied since are replayed, with the kubelet's restart back-off (first
 * restart at once, then 10 s doubling to 5 min, reset after 10 min of running: runtime/health.ts). A master
 * left running by an earlier manager of the same state directory (the operator was killed) is adopted: its
 * pid file names it and its command line names this directory's master socket. Signals go only to that
 * master and its own workers, each checked by pid and start time first.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { closeSync, openSync } from "node:fs";
import { chmod, mkdir, readFile, readdir, rename, rm, stat, writeFile } from "node:fs/promises";
import { connect } from "node:net";
import { join, resolve as resolvePath } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { CoxError, toCoxError } from "../../api/errors.js";
import { KeyedMutex } from "../../source/mutex.js";
import { RESTART_BACKOFF, restartDelayMs } from "../health.js";
import { runCommand } from "../process/exec.js";
import { isAlive, liveDescendants, readCmdline, readProcStat } from "../process/proc.js";
import { checkProxyFileNames } from "./files.js";
import { alertLines, bindFailures, parseInfoPid, parseShowProc, parseStatCsv, runtimeAnswerError, type MasterProcs } from "./haproxy-cli.js";
import type { NodeProxy, ProxyChange, ProxyChangeFile, ProxyHealth, ProxyServerStats } from "./types.js";
import { UdpRequestLog } from "./udp-request-log.js";

/** Options of a HaproxyProcess. */
export interface HaproxyProcessOptions {
  /** The directory this manager owns (one per node proxy; made absolute); see the module comment for its layout. */
  stateDir: string;
  /** The haproxy program; default /usr/sbin/haproxy (Debian's package). */
  binary?: string;
  /** How long a start, a reload or a `haproxy -c` may take before ProxyUnreachable; default 30 s. */
  readyTimeoutMs?: number;
  /** How long close() lets the proxy finish its connections (soft stop) before stopping it hard; default 10 s. */
  stopTimeoutMs?: number;
}

/** Debian's haproxy package installs it here. */
const DEFAULT_BINARY = "/usr/sbin/haproxy";
/** The name HAProxy's messages use for the configuration, whichever file was checked. */
const CONFIG_NAME = "haproxy.cfg";
/** How often a wait for the proxy looks again (the master CLI and the stats socket answer in well under this). */
const POLL_MS = 25;
/** How often an adopted master (not our child: no exit event) is looked at. */
const ADOPTED_POLL_MS = 1_000;
/** One CLI call's deadline. */
const CLI_TIMEOUT_MS = 10_000;
/** After a hard stop (SIGTERM), how long before SIGKILL; and after SIGKILL, how long to wait for the exit. */
const KILL_GRACE_MS = 5_000;
/** Longest unix socket path (sun_path is 108 bytes with its NUL); HAProxy binds "<path>.<pid>.tmp" first. */
const MAX_SOCKET_PATH = 107 - ".4194304.tmp".length;
/** HAProxy gets no variables of the operator's (no credentials); configurations do not read any. */
const HAPROXY_ENV = { PATH: "/usr/sbin:/usr/bin:/sbin:/bin" };
/** Mutex key: every apply, restart and close runs alone. */
const LOCK = "proxy";

/** One run of the master process. */
interface Master {
  pid: number;
  /** /proc start time of `pid`: a pid reused by another program is never signalled. */
  startTime: number;
  /** Epoch ms. */
  startedAt: number;
  /** Our child (an exit event), or undefined for an adopted master (polled). */
  child?: ChildProcess;
  /** Resolves when the process is gone. */
  gone: Promise<void>;
  dead: boolean;
  /** How it ended, for messages. */
  exit?: string;
  /** While a start waits for it to serve, the starter handles its death, not the watcher. */
  starting: boolean;
  /** close() is stopping it: its exit is expected. */
  stopping: boolean;
  poll?: NodeJS.Timeout;
}

/** The text that last loaded. */
interface Applied {
  text: string;
  hash: string;
  appliedAt: number;
}

function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

function unreachable(message: string, cause?: unknown, details?: Record<string, unknown>): CoxError {
  return new CoxError("ProxyUnreachable", message, { cause, details });
}

/**
 * One command on a HAProxy CLI socket (master or stats): connect, send the line, half-close, read the
 * answer until HAProxy closes. Rejects on a socket error or after `timeoutMs`.
 */
function cliCall(path: string, command: string, timeoutMs = CLI_TIMEOUT_MS): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = connect(path);
    const timer = setTimeout(() => socket.destroy(new Error(`no answer to '${command}' within ${timeoutMs} ms`)), timeoutMs);
    socket.on("connect", () => socket.end(`${command}\n`));
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    socket.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    socket.on("close", (hadError) => {
      clearTimeout(timer);
      if (!hadError) resolve(Buffer.concat(chunks).toString("utf8"));
    });
  });
}

/**
 * Dedupe key of a runtime edit for replay after a restart: `set server <backend>/<server> <field>` keeps
 * only its last value; any other command is kept once, in the order last applied.
 */
function editKey(command: string): string {
  const words = command.trim().split(/\s+/);
  return words[0] === "set" && words[1] === "server" && words.length >= 4 ? words.slice(0, 4).join(" ") : command.trim();
}

/** The local HAProxy of one node; see the module comment. */
export class HaproxyProcess implements NodeProxy {
  /** `<stateDir>/files`: see the module comment. */
  readonly filesDir: string;
  /** `<stateDir>/peers.sock`: see NodeProxy.peersSocket. */
  readonly peersSocket: string;
  /** Over UDP on 127.0.0.1: see the module comment. */
  readonly requestLog = new UdpRequestLog();
  readonly #dir: string;
  readonly #binary: string;
  readonly #readyTimeoutMs: number;
  readonly #stopTimeoutMs: number;
  readonly #paths: { config: string; candidate: string; master: string; stats: string; pid: string; log: string };
  readonly #lock = new KeyedMutex();
  #master: Master | undefined;
  #applied: Applied | undefined;
  /** Runtime edits since the last reload, by editKey, in the order last applied: replayed after a restart. */
  readonly #edits = new Map<string, string>();
  #lastError: ProxyHealth["lastError"];
  #restarts = 0;
  /** Restarts since the master last ran for RESTART_BACKOFF.resetAfterMs: the back-off's exponent. */
  #loopRestarts = 0;
  #restartTimer: NodeJS.Timeout | undefined;
  #adoptChecked = false;
  #closed = false;

  constructor(options: HaproxyProcessOptions) {
    // Absolute: HAProxy runs in this directory, and its command line must name the same paths to be adopted.
    this.#dir = resolvePath(options.stateDir);
    this.#binary = options.binary ?? DEFAULT_BINARY;
    this.#readyTimeoutMs = options.readyTimeoutMs ?? 30_000;
    this.#stopTimeoutMs = options.stopTimeoutMs ?? 10_000;
    const p = (name: string): string => join(this.#dir, name);
    this.filesDir = p("files");
    this.peersSocket = p("peers.sock");
    this.#paths = {
      config: p(CONFIG_NAME),
      candidate: p(`${CONFIG_NAME}.next`),
      master: p("master.sock"),
      stats: p("stats.sock"),
      pid: p("haproxy.pid"),
      log: p("haproxy.log"),
    };
    for (const socket of [this.#paths.master, this.#paths.stats, this.peersSocket]) {
      if (Buffer.byteLength(socket) > MAX_SOCKET_PATH) {
        throw new CoxError("InvalidArgument", `proxy state directory ${this.#dir} is too long for a unix socket path (${socket})`);
      }
    }
  }

  async apply(change: ProxyChange): Promise<void> {
    await this.#lock.run(LOCK, async () => {
      if (this.#closed) throw unreachable("the node proxy was closed");
      try {
        if (change.reload) await this.#load(change.text, change.files ?? []);
        else await this.#edit(change.commands);
        this.#lastError = undefined;
      } catch (err) {
        const e = toCoxError(err, "ProxyUnreachable");
        this.#lastError = { code: e.code, message: e.message, at: Date.now() };
        throw e;
      }
    });
  }

  health(): ProxyHealth {
    const m = this.#master;
    return {
      running: m !== undefined && !m.dead,
      ...(m !== undefined && !m.dead ? { pid: m.pid } : {}),
      ...(this.#applied ? { config: { hash: this.#applied.hash, appliedAt: this.#applied.appliedAt } } : {}),
      ...(this.#lastError ? { lastError: { ...this.#lastError } } : {}),
      restarts: this.#restarts,
    };
  }

  async stats(): Promise<ProxyServerStats[]> {
    if (this.#master === undefined || this.#master.dead) throw unreachable("the node proxy is not running");
    return parseStatCsv(await this.#statsCall("show stat"));
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#restartTimer);
    this.#restartTimer = undefined;
    try {
      await this.#lock.run(LOCK, async () => {
        // A proxy an earlier manager of this directory left running is ours to stop too.
        if (this.#master === undefined && !this.#adoptChecked) await this.#adopt();
        this.#adoptChecked = true;
        const m = this.#master;
        if (m !== undefined) await this.#stop(m);
      });
    } finally {
      await this.requestLog.close();
    }
  }

  // ------------------------------------------------------------------ whole configurations

  /** The text HAProxy runs: the given text, then the managed section (see the module comment). */
  #full(text: string): string {
    const body = text.endsWith("\n") ? text : `${text}\n`;
    return `${body}\n# Added by coxswain's node proxy manager: the runtime API of this proxy.\nglobal\n    stats socket ${this.#paths.stats} mode 600 level admin\n`;
  }

  /** Writes `files`, validates `text`; then reloads the running proxy with it, or starts one; then removes files it does not name. */
  async #load(text: string, files: readonly ProxyChangeFile[]): Promise<void> {
    await mkdir(this.#dir, { recursive: true, mode: 0o700 });
    await chmod(this.#dir, 0o700);
    await this.#writeFiles(files);
    await this.#check(text);
    if (this.#master === undefined && !this.#adoptChecked) await this.#adopt();
    this.#adoptChecked = true;
    const m = this.#master;
    if (m === undefined || m.dead) {
      clearTimeout(this.#restartTimer);
      this.#restartTimer = undefined;
      await rename(this.#paths.candidate, this.#paths.config);
      try {
        await this.#start();
      } catch (err) {
        // The last text that loaded goes back in place and, if there is one, runs again (with back-off).
        await this.#restoreConfig();
        this.#scheduleRestart();
        throw err;
      }
    } else {
      await this.#reload(m);
    }
    this.#applied = { text, hash: sha256(text), appliedAt: Date.now() };
    this.#edits.clear();
    await this.#removeFilesBut(files);
  }

  /**
   * Writes each file into files/ (mode 0600, by a rename, so HAProxy never reads half a file). Throws
   * ProxyConfigInvalid for a name that is not a plain file name.
   */
  async #writeFiles(files: readonly ProxyChangeFile[]): Promise<void> {
    if (files.length === 0) return;
    checkProxyFileNames(files);
    await mkdir(this.filesDir, { recursive: true, mode: 0o700 });
    await chmod(this.filesDir, 0o700);
    for (const f of files) {
      const path = join(this.filesDir, f.name);
      await writeFile(`${path}.tmp`, f.content, { mode: 0o600 });
      await rename(`${path}.tmp`, path);
    }
  }

  /** Removes from files/ what the serving configuration does not name (certificates of a removed Ingress, …). */
  async #removeFilesBut(files: readonly ProxyChangeFile[]): Promise<void> {
    const keep = new Set(files.map((f) => f.name));
    const present = await readdir(this.filesDir).catch(() => [] as string[]);
    await Promise.all(present.filter((name) => !keep.has(name)).map((name) => rm(join(this.filesDir, name), { force: true })));
  }

  /** Writes the candidate file and runs `haproxy -c` on it; throws ProxyConfigInvalid with HAProxy's lines. */
  async #check(text: string): Promise<void> {
    await writeFile(this.#paths.candidate, this.#full(text), { mode: 0o600 });
    const result = await runCommand(this.#binary, ["-c", "-f", this.#paths.candidate], {
      cwd: this.#dir,
      env: HAPROXY_ENV,
      timeoutMs: this.#readyTimeoutMs,
    });
    if (result.exitCode === 0) return;
    await rm(this.#paths.candidate, { force: true });
    if (result.exitCode === 127 || result.exitCode === 126) {
      throw new CoxError("CommandNotFound", `cannot run haproxy at ${this.#binary}: ${result.output.trim()}`);
    }
    if (result.timedOut) throw unreachable(`haproxy -c did not finish within ${this.#readyTimeoutMs} ms`);
    const lines = alertLines(result.output, this.#paths.candidate, CONFIG_NAME);
    throw new CoxError("ProxyConfigInvalid", `the node proxy's configuration does not load: ${lines.length > 0 ? lines.join("; ") : result.output.trim()}`, { details: { lines } });
  }

  /** Puts the last text that loaded back in place after a candidate that did not (for a restart to use). */
  async #restoreConfig(): Promise<void> {
    if (this.#applied === undefined) {
      await rm(this.#paths.config, { force: true });
      return;
    }
    await writeFile(this.#paths.candidate, this.#full(this.#applied.text), { mode: 0o600 });
    await rename(this.#paths.candidate, this.#paths.config);
  }

  /** Starts the master on haproxy.cfg and waits until its worker serves. */
  async #start(): Promise<void> {
    const logFd = openSync(this.#paths.log, "w", 0o600);
    let child: ChildProcess;
    try {
      child = spawn(this.#binary, ["-W", "-S", this.#paths.master, "-p", this.#paths.pid, "-f", this.#paths.config], {
        cwd: this.#dir,
        env: HAPROXY_ENV,
        detached: true,
        stdio: ["ignore", logFd, logFd],
      });
    } finally {
      closeSync(logFd);
    }
    const spawned = await new Promise<number | Error>((resolve) => {
      child.once("spawn", () => resolve(child.pid!));
      child.once("error", (err) => resolve(err));
    });
    if (spawned instanceof Error) {
      const code = (spawned as NodeJS.ErrnoException).code;
      if (code === "ENOENT" || code === "EACCES") {
        throw new CoxError("CommandNotFound", `cannot run haproxy at ${this.#binary}: ${spawned.message}`, { cause: spawned });
      }
      throw unreachable(`cannot start haproxy: ${spawned.message}`, spawned);
    }
    child.unref();
    let markGone!: () => void;
    const m: Master = {
      pid: spawned,
      startTime: readProcStat(spawned)?.startTime ?? -1,
      startedAt: Date.now(),
      child,
      gone: new Promise<void>((resolve) => (markGone = resolve)),
      dead: false,
      starting: true,
      stopping: false,
    };
    child.once("exit", (code, signal) => {
      m.dead = true;
      m.exit = signal !== null ? `killed by ${signal}` : `exited with code ${code}`;
      markGone();
      this.#onDeath(m);
    });
    this.#master = m;
    try {
      await this.#waitServing(m, 0, 0);
      // Checked in the same tick as `starting` is cleared below: from then on the watcher sees an exit.
      if (m.dead) throw await this.#loadFailure(0, "start", m);
    } catch (err) {
      if (!m.dead) await this.#stop(m);
      if (this.#master === m) this.#master = undefined;
      throw err;
    } finally {
      m.starting = false;
    }
  }

  /** Reloads the running master with the candidate (already checked) and waits until the new worker serves. */
  async #reload(m: Master): Promise<void> {
    const before = await this.#showProc().catch((err: unknown) => {
      throw unreachable(`the node proxy's master CLI does not answer: ${(err as Error).message}`, err);
    });
    const logOffset = (await stat(this.#paths.log).catch(() => undefined))?.size ?? 0;
    await rename(this.#paths.candidate, this.#paths.config);
    try {
      // The master re-executes itself at once; the connection may close before an answer (2.6 sends none).
      await cliCall(this.#paths.master, "reload").catch((err: NodeJS.ErrnoException) => {
        if (err.code !== "ECONNRESET" && err.code !== "EPIPE") throw unreachable(`cannot ask the node proxy to reload: ${err.message}`, err);
      });
      const failed = await this.#waitServing(m, before.reloads + 1, logOffset);
      if (failed !== undefined) throw await this.#loadFailure(logOffset, "reload");
    } catch (err) {
      await this.#restoreConfig();
      throw err;
    }
  }

  /**
   * Waits until the master `m` has done at least `minReloads` reloads and a worker of that (re)load
   * answers on the stats socket. Resolves undefined when serving; with the master's `show proc` when its
   * last reload failed (the old worker still serves). Throws when the master dies (with what haproxy.log
   * says after `logOffset`) or time runs out.
   */
  async #waitServing(m: Master, minReloads: number, logOffset: number): Promise<MasterProcs | undefined> {
    const deadline = Date.now() + this.#readyTimeoutMs;
    for (;;) {
      if (m.dead) throw await this.#loadFailure(logOffset, minReloads === 0 ? "start" : "reload", m);
      const procs = await this.#showProc().catch(() => undefined);
      if (procs !== undefined && procs.masterPid === m.pid && procs.reloads >= minReloads) {
        if (procs.failedReloads > 0) return procs;
        const worker = procs.workers.find((w) => w.reloads === 0);
        if (worker !== undefined) {
          const pid = await this.#statsCall("show info").then(parseInfoPid, () => undefined);
          if (pid === worker.pid) return undefined;
        }
      }
      if (Date.now() > deadline) {
        throw unreachable(`the node proxy did not serve its new configuration within ${this.#readyTimeoutMs} ms`);
      }
      await Promise.race([sleep(POLL_MS), m.gone]);
    }
  }

  /** Why a start or reload failed, from the [ALERT] lines HAProxy logged after `fromOffset`. */
  async #loadFailure(fromOffset: number, what: "start" | "reload", m?: Master): Promise<CoxError> {
    const log = await readFile(this.#paths.log).catch(() => Buffer.alloc(0));
    const lines = alertLines(log.subarray(fromOffset).toString("utf8"), this.#paths.config, CONFIG_NAME);
    const binds = bindFailures(lines);
    if (binds.length > 0) {
      const list = binds.map((b) => `${b.bind} (${b.reason}${b.where ? `, ${b.where}` : ""})`).join(", ");
      return new CoxError("ProxyBindFailed", `the node proxy cannot listen on ${list}`, { details: { binds, lines } });
    }
    const how = m?.exit !== undefined ? `haproxy ${m.exit}` : `the ${what} failed`;
    return unreachable(`the node proxy's ${what} did not complete: ${how}${lines.length > 0 ? `: ${lines.join("; ")}` : ""}`, undefined, { lines });
  }

  // ------------------------------------------------------------------ runtime edits

  /** Applies runtime-API commands in order; stops at the first one HAProxy refuses. */
  async #edit(commands: readonly string[]): Promise<void> {
    const m = this.#master;
    if (m === undefined || m.dead) throw unreachable("the node proxy is not running: apply a whole configuration first");
    for (const [i, command] of commands.entries()) {
      if (/[\n;]/.test(command) || command.trim() === "") {
        throw new CoxError("ProxyCommandRejected", `not one runtime-API command: ${JSON.stringify(command)}`, {
          details: { command, index: i },
        });
      }
      const answer = await this.#statsCall(command);
      const error = runtimeAnswerError(answer);
      if (error !== undefined) {
        throw new CoxError("ProxyCommandRejected", `the node proxy refused '${command}': ${error}`, {
          details: { command, index: i, answer: answer.trim() },
        });
      }
      const key = editKey(command);
      this.#edits.delete(key);
      this.#edits.set(key, command);
    }
  }

  // ------------------------------------------------------------------ sockets

  async #showProc(): Promise<MasterProcs> {
    const text = await cliCall(this.#paths.master, "show proc");
    const procs = parseShowProc(text);
    if (procs === undefined) throw new Error(`unexpected answer to 'show proc': ${text.slice(0, 200)}`);
    return procs;
  }

  async #statsCall(command: string): Promise<string> {
    try {
      return await cliCall(this.#paths.stats, command);
    } catch (err) {
      throw unreachable(`the node proxy's stats socket does not answer: ${(err as Error).message}`, err);
    }
  }

  // ------------------------------------------------------------------ watching, restarting, adopting

  /** The master died: unless that was expected, start it again after the back-off. */
  #onDeath(m: Master): void {
    clearInterval(m.poll);
    if (this.#master !== m || m.starting || m.stopping || this.#closed) return;
    this.#master = undefined;
    if (Date.now() - m.startedAt >= RESTART_BACKOFF.resetAfterMs) this.#loopRestarts = 0;
    this.#lastError = { code: "ProxyUnreachable", message: `haproxy (pid ${m.pid}) ${m.exit ?? "is gone"}`, at: Date.now() };
    this.#scheduleRestart();
  }

  #scheduleRestart(): void {
    if (this.#applied === undefined || this.#closed) return;
    const delay = restartDelayMs(this.#loopRestarts);
    this.#loopRestarts++;
    clearTimeout(this.#restartTimer);
    this.#restartTimer = setTimeout(() => {
      this.#restartTimer = undefined;
      void this.#lock.run(LOCK, () => this.#restart());
    }, delay);
    this.#restartTimer.unref();
  }

  /** Starts the master again with the last text that loaded and replays the edits applied since. */
  async #restart(): Promise<void> {
    const applied = this.#applied;
    if (this.#closed || applied === undefined || (this.#master !== undefined && !this.#master.dead)) return;
    this.#restarts++;
    try {
      await this.#restoreConfig();
      await this.#start();
      const edits = [...this.#edits.values()];
      this.#edits.clear();
      await this.#edit(edits);
      this.#lastError = undefined;
    } catch (err) {
      const e = toCoxError(err, "ProxyUnreachable");
      this.#lastError = { code: e.code, message: `restarting the node proxy: ${e.message}`, at: Date.now() };
      if (this.#master === undefined || this.#master.dead) this.#scheduleRestart();
    }
  }

  /**
   * Takes over a master an earlier manager of this state directory left running: the pid file names it,
   * it is alive, its command line names this directory's master socket, and that socket answers for it.
   */
  async #adopt(): Promise<void> {
    const pid = Number.parseInt((await readFile(this.#paths.pid, "utf8").catch(() => "")).trim(), 10);
    if (!Number.isInteger(pid) || pid <= 0) return;
    const stat = readProcStat(pid);
    const argv = readCmdline(pid)?.split("\0") ?? [];
    const s = argv.indexOf("-S");
    if (stat === undefined || stat.state === "Z" || s < 0 || argv[s + 1] !== this.#paths.master) return;
    const procs = await this.#showProc().catch(() => undefined);
    const config = await readFile(this.#paths.config, "utf8").catch(() => undefined);
    if (procs?.masterPid !== pid || config === undefined) return;
    const suffix = this.#full("").slice(1);
    if (!config.endsWith(suffix)) return;
    const text = config.slice(0, -suffix.length);
    let markGone!: () => void;
    const m: Master = {
      pid,
      startTime: stat.startTime,
      startedAt: Date.now(),
      gone: new Promise<void>((resolve) => (markGone = resolve)),
      dead: false,
      starting: false,
      stopping: false,
    };
    m.poll = setInterval(() => {
      if (isAlive(m.pid, m.startTime)) return;
      m.dead = true;
      m.exit = "is gone";
      markGone();
      this.#onDeath(m);
    }, ADOPTED_POLL_MS);
    m.poll.unref();
    this.#master = m;
    this.#applied = { text, hash: sha256(text), appliedAt: Date.now() };
  }

  // ------------------------------------------------------------------ stopping

  /** Sends `signal` to the master if it is still the process we know (pid and start time). */
  #signal(m: Master, signal: NodeJS.Signals): void {
    if (!isAlive(m.pid, m.startTime)) return;
    try {
      process.kill(m.pid, signal);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ESRCH") throw err;
    }
  }

  /** Resolves true once the master is gone (exit event, or no longer alive by pid and start time). */
  async #goneWithin(m: Master, ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (!m.dead && isAlive(m.pid, m.startTime)) {
      if (Date.now() > deadline) return false;
      await Promise.race([sleep(POLL_MS), m.gone]);
    }
    return true;
  }

  /**
   * Stops the master `m` and its workers: SIGUSR1 (soft stop: workers finish their connections, the master
   * exits after them) for stopTimeoutMs, then SIGTERM (hard stop), then SIGKILL to the master and to the
   * workers it had (its descendants, by pid and start time). Resolves when all of them are gone.
   */
  async #stop(m: Master): Promise<void> {
    m.stopping = true;
    const workers = liveDescendants(m.pid).flatMap((pid) => {
      const s = readProcStat(pid);
      return s === undefined ? [] : [{ pid, startTime: s.startTime }];
    });
    this.#signal(m, "SIGUSR1");
    if (!(await this.#goneWithin(m, this.#stopTimeoutMs))) {
      this.#signal(m, "SIGTERM");
      if (!(await this.#goneWithin(m, KILL_GRACE_MS))) this.#signal(m, "SIGKILL");
    }
    const masterGone = await this.#goneWithin(m, KILL_GRACE_MS);
    // Workers notice the master's death and exit; one that lingers is ours (a descendant of our master).
    const deadline = Date.now() + KILL_GRACE_MS;
    let left = workers.filter((w) => isAlive(w.pid, w.startTime));
    while (left.length > 0 && Date.now() < deadline) {
      await sleep(POLL_MS);
      left = left.filter((w) => isAlive(w.pid, w.startTime));
    }
    for (const w of left) {
      try {
        process.kill(w.pid, "SIGKILL");
      } catch {
        // Gone in the meantime.
      }
    }
    clearInterval(m.poll);
    if (this.#master === m) this.#master = undefined;
    if (!masterGone) throw unreachable(`haproxy (pid ${m.pid}) did not exit after SIGKILL`);
    await rm(this.#paths.pid, { force: true });
  }
}
