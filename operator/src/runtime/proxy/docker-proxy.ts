/**
 * The node proxy of a Docker node: one HAProxy container per node and owner, named "cx-proxy-<owner>",
 * labelled with the owner and io.coxswain.node-proxy (runtime/labels.ts), from the image the Node names
 * (NodeConfig.proxyImage: the official haproxy:2.6 by default). Everything goes through the Engine API
 * (DockerRuntime.request/exec), never the operator's own file system or loopback, so a remote engine
 * (tcp:// with TLS) works like a local one.
 *
 * The container, as created on the first apply:
 * - network mode host: HAProxy binds the node's Service addresses (127.0.0.0/8) and node ports directly;
 * - `haproxy -W -db -f /usr/local/etc/haproxy/haproxy.cfg` with the image's entrypoint cleared, user root
 *   (the official image runs as uid 99, which cannot bind ports below 1024) and no init process, so every
 *   image runs the same master-worker HAProxy as PID 1; stop signal SIGUSR1 (HAProxy's soft stop);
 * - the configuration, and the files it names, are put into it (PUT /containers/{id}/archive) before it
 *   starts;
 * - restart policy "always": the engine starts it again when it dies (with its own back-off) and when the
 *   engine itself starts, whatever happened before. "unless-stopped" would leave it down after an engine
 *   restart once it counted as stopped by hand, and Docker 20.10 counts any POST /containers/{id}/kill
 *   (even a harmless signal) as that; close() removes the container, so "always" never revives a proxy
 *   that was meant to go;
 * - its log is json-file with rotation (10 MB × 3): the manager reads it to learn how a load went, so it
 *   must be readable whatever the engine's default log driver is, and bounded.
 *
 * The text HAProxy runs is the given text plus a managed `global` section at the end (appended, so that
 * line numbers in HAProxy's messages stay true) with a stats socket inside the container,
 * /var/lib/haproxy/cx-stats.sock, mode 600, level operator (all statistics, server addresses
 * included, which level user hides; changes to servers need level admin).
 *
 * The files of a configuration (certificates with their keys, crt-lists: ProxyChange.files) go into
 * /usr/local/etc/haproxy/files (filesDir, mode 0700; the files 0600), in the same archive as the text that
 * names them, so they are in place before it is checked. They are never changed in place: their names are
 * hashes of their content (traffic/haproxy.ts), and one already there is simply written again. Once a
 * reload serves, one exec removes the files there that the serving text does not name (none when the
 * container can hold no others: it was created with these). Every reload puts all of its files, whatever
 * the manager put before, so a container adopted from an earlier operator gets them again.
 *
 * A reload: the candidate goes to haproxy.cfg.next with its files (one archive), `haproxy -c` checks it
 * inside the running container (exec; refused: ProxyConfigInvalid, nothing else changed), then one exec
 * keeps the running file as haproxy.cfg.prev, renames the candidate over haproxy.cfg and sends SIGUSR2 to
 * PID 1, the master.
 * The signal goes through exec, not POST /containers/{id}/kill: measured on Docker 20.10, a container that
 * was sent any signal through the kill endpoint is not restarted by its policy when it next dies. The
 * master reports on its stderr, the container's log, which is followed from the engine's clock (GET
 * /info SystemTime) before the signal: "Reloading HAProxy", then "Loading success." (the new worker was
 * forked and took over the listening sockets: hitless, given `option idle-close-on-response` and
 * `hard-stop-after`, the renderer's part) or "Loading failure!" after its [ALERT] lines (the old worker
 * keeps serving; a bind that failed is ProxyBindFailed naming it). After a failure haproxy.cfg.prev goes
 * back in place, so that a restart of the container runs the configuration that is serving. The master's
 * notices are the signal, so configurations must not set `quiet` (HAProxy 2.6 then drops "Loading
 * failure!", and the reload would end as ProxyUnreachable when readyTimeoutMs runs out).
 *
 * The first start is the same without the check (there is nothing to exec in yet): "Loading success."
 * means serving; the log ending (the container stopped) means it did not load, and the container is
 * removed again so that the engine does not restart a configuration that never loaded.
 *
 * No runtime API (runtimeApi is false): every change is a whole configuration and a reload (measured
 * hitless). Edits would need a client for the unix socket inside the container, and none is in every
 * image: the official image has perl (Debian's perl-base) but no socat or nc; the busybox test image has
 * neither (busybox nc speaks TCP only), nor, presumably, would an image built on busybox alone such as the
 * Alpine variant. Statistics use that channel when the image has one: `show stat` on the stats socket
 * through exec, with socat or else perl; without either, stats() is CommandNotFound.
 *
 * Its request log (the records of the listeners that log requests, for canary analysis): HAProxy writes
 * the lines to its standard output (`log stdout`, HaproxyOptions.requestLog from requestLog.start()), and
 * the operator follows the container's log for them (docker-request-log.ts).
 *
 * A container that dies is started again by the engine; health() follows the engine's container events
 * (running, the main pid, the engine's RestartCount) and the restart needs nothing from the manager: the
 * container keeps the last configuration that loaded, and there are no runtime edits to replay. A
 * container found stopped (by hand, or a POST /kill) is started again by the next apply. An operator that
 * restarts adopts the container by name, owner and label (the configuration it runs is read back from it)
 * instead of creating one: the proxy never stops serving for that.
 */
import { createHash } from "node:crypto";
import { CoxError, toCoxError } from "../../api/errors.js";
import { KeyedMutex } from "../../source/mutex.js";
import type { DockerRuntime } from "../docker/runtime.js";
import { ExecOutputDemuxer, LineSplitter, isValidRuntimeName, sinceOfTimestamp, type DockerContainerInspect } from "../docker/mapping.js";
import { tarOf, type TarEntry } from "../docker/tar.js";
import { LABELS } from "../labels.js";
import { checkProxyFileNames } from "./files.js";
import { DockerRequestLog } from "./docker-request-log.js";
import { alertLines, bindFailures, parseStatCsv } from "./haproxy-cli.js";
import type { NodeProxy, ProxyChange, ProxyChangeFile, ProxyHealth, ProxyServerStats } from "./types.js";

/** What a DockerProxy needs of the node's engine: a DockerRuntime (its owner and node name name the container). */
export type ProxyEngine = Pick<DockerRuntime, "owner" | "nodeName" | "request" | "exec" | "ensureImage" | "stop" | "remove" | "watch">;

/** Options of a DockerProxy. */
export interface DockerProxyOptions {
  /** The node's engine. */
  engine: ProxyEngine;
  /** The HAProxy image (NodeConfig.proxyImage); pulled when missing. */
  image: string;
  /** How long a start, a reload or a `haproxy -c` may take before ProxyUnreachable; default 30 s. */
  readyTimeoutMs?: number;
  /** How long close() lets HAProxy finish its connections (soft stop) before the engine kills it; default 10 s. */
  stopTimeoutMs?: number;
}

const CONFIG_DIR = "/usr/local/etc/haproxy";
const CONFIG_PATH = `${CONFIG_DIR}/haproxy.cfg`;
const CANDIDATE_PATH = `${CONFIG_PATH}.next`;
/** Where the files of a configuration go inside the container (filesDir). */
const FILES_DIR = `${CONFIG_DIR}/files`;
/** The name HAProxy's messages use for the configuration, whichever file was read. */
const CONFIG_NAME = "haproxy.cfg";
const STATS_SOCKET = "/var/lib/haproxy/cx-stats.sock";
/** The `peers` socket through which a reload keeps ClientIP affinity (NodeProxy.peersSocket). */
const PEERS_SOCKET = "/var/lib/haproxy/cx-peers.sock";
/** The container's command: the official image's entrypoint would add -W -db itself; ours says it. */
const COMMAND = ["haproxy", "-W", "-db", "-f", CONFIG_PATH];
/** Keeps the serving file, puts the checked candidate in its place, asks the master (PID 1) to reload. */
const RELOAD_SCRIPT = `set -e; cd ${CONFIG_DIR}; cp -f haproxy.cfg haproxy.cfg.prev; mv -f haproxy.cfg.next haproxy.cfg; kill -USR2 1`;
/** After a reload that failed: the file that is serving goes back in place. */
const RESTORE_SCRIPT = `cd ${CONFIG_DIR} && mv -f haproxy.cfg.prev haproxy.cfg`;
/** `sh -c PRUNE_SCRIPT sh <name>…`: removes every file of FILES_DIR but the ones named. */
const PRUNE_SCRIPT = [`cd ${FILES_DIR} 2>/dev/null || exit 0`, 'for f in *; do [ -e "$f" ] || continue; for k in "$@"; do [ "$f" = "$k" ] && continue 2; done; rm -f -- "$f" || exit 1; done'].join("\n");
/** Exit status of CLI_SCRIPT when the image has no client for the unix socket. */
const NO_CLIENT = 97;
/**
 * One command on a HAProxy CLI socket from inside the container: `sh -c CLI_SCRIPT sh <socket> <command>`.
 * socat when the image has it, else perl (Debian's perl-base, in the official image); both send the line,
 * half-close and print the answer until HAProxy closes.
 */
const CLI_SCRIPT = [
  'PATH="$PATH:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"',
  `if command -v socat >/dev/null 2>&1; then printf '%s\\n' "$2" | exec socat -t 10 - "UNIX-CONNECT:$1"; fi`,
  `if command -v perl >/dev/null 2>&1; then exec perl -MIO::Socket::UNIX -e '$s = IO::Socket::UNIX->new(Peer => $ARGV[0]) or die "cannot connect to $ARGV[0]: $!\\n"; print $s "$ARGV[1]\\n"; shutdown($s, 1); print while <$s>;' "$1" "$2"; fi`,
  `echo "neither socat nor perl in the image" >&2; exit ${NO_CLIENT}`,
].join("\n");
/** One CLI call's deadline. */
const CLI_TIMEOUT_MS = 10_000;
/** `show stat` answers longer than this are refused rather than cut (about 30,000 servers). */
const MAX_STATS_BYTES = 16 * 1024 * 1024;
/** Mutex key: every apply and close runs alone. */
const LOCK = "proxy";

/** The text that last loaded. */
interface Applied {
  text: string;
  hash: string;
  appliedAt: number;
}

/** The container as last inspected. */
interface Observed {
  running: boolean;
  pid: number;
  /** The engine's RestartCount (restarts by its policy; it resets when the container is started by a call). */
  restartCount: number;
}

/** The fields of GET /containers/{id}/json the proxy reads besides the runtime's. */
interface ProxyInspect extends DockerContainerInspect {
  RestartCount?: number;
  State?: NonNullable<DockerContainerInspect["State"]> & { Pid?: number; Restarting?: boolean };
}

/** How a start or reload went, from the master's log lines. */
type LoadOutcome = { ok: true } | { ok: false; alerts: string[]; why: "failed" | "stopped" | "timeout" };

function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

function unreachable(message: string, details?: Record<string, unknown>): CoxError {
  return new CoxError("ProxyUnreachable", message, details ? { details } : {});
}

/** The managed section appended to every configuration (see the module comment). */
const MANAGED_SECTION = `\n# Added by coxswain's node proxy manager: statistics of this proxy.\nglobal\n    stats socket ${STATS_SOCKET} mode 600 level operator\n`;

/** The text HAProxy runs for `text`. */
function fullConfig(text: string): string {
  return `${text.endsWith("\n") ? text : `${text}\n`}${MANAGED_SECTION}`;
}

/** The master's lines that tell how a (re)load went. */
const MASTER_EVENT = /^\[(?:NOTICE|WARNING)\]\s+\(\d+\)\s*:\s*(Reloading HAProxy|Loading success\.|Loading failure!)\s*$/;

/** The content of the first regular file in a tar archive (GET /containers/{id}/archive); PAX and other entries are skipped. */
function firstFileOfTar(tar: Buffer): Buffer | undefined {
  for (let at = 0; at + 512 <= tar.length; ) {
    const h = tar.subarray(at, at + 512);
    if (h.every((b) => b === 0)) return undefined;
    const size = Number.parseInt(h.subarray(124, 136).toString("latin1").replace(/\0.*$/s, "").trim() || "0", 8);
    if (!Number.isFinite(size) || size < 0) return undefined;
    const type = String.fromCharCode(h[156] ?? 0);
    if (type === "0" || type === "\0") return tar.subarray(at + 512, at + 512 + size);
    at += 512 + Math.ceil(size / 512) * 512;
  }
  return undefined;
}

/** The node proxy of a Docker node; see the module comment. */
export class DockerProxy implements NodeProxy {
  /**
   * False: apply({ reload: false }) is refused with ProxyCommandRejected; the controller renders the whole
   * configuration and reloads instead (see the module comment for why).
   */
  readonly runtimeApi = false;
  /** Inside the container, beside the stats socket: see NodeProxy.peersSocket. */
  readonly peersSocket = PEERS_SOCKET;
  /** The container's name on the engine: "cx-proxy-<owner>". */
  readonly containerName: string;
  /** /usr/local/etc/haproxy/files, inside the container: see the module comment. */
  readonly filesDir = FILES_DIR;
  /** Followed through the container's log: see the module comment. */
  readonly requestLog: DockerRequestLog;

  readonly #engine: ProxyEngine;
  readonly #image: string;
  readonly #readyTimeoutMs: number;
  readonly #stopTimeoutMs: number;
  readonly #lock = new KeyedMutex();
  /** The container's id, once created or adopted. */
  #id: string | undefined;
  /** The engine was asked for a container of ours to adopt (the first apply, stats or close does it). */
  #looked = false;
  #observed: Observed | undefined;
  /** Restarts counted before the engine's current RestartCount (which starting a container by a call resets). */
  #restartBase = 0;
  /** The proxy ran once: every later start by the manager is a restart. */
  #ranBefore = false;
  #applied: Applied | undefined;
  /** The names of the files the container holds, as far as this manager knows; undefined: unknown (adopted). */
  #held: Set<string> | undefined;
  /** The image the adopted container runs, when it is not #image (the Node's proxyImage changed): replaced at the next load. */
  #otherImage: string | undefined;
  #lastError: ProxyHealth["lastError"];
  /** The error health() reports because the container was seen dead; cleared when it is seen running again. */
  #deathError: ProxyHealth["lastError"];
  #unwatch: (() => void) | undefined;
  #refreshing: Promise<void> | undefined;
  #refreshAgain = false;
  #closed = false;

  constructor(options: DockerProxyOptions) {
    this.#engine = options.engine;
    this.#image = options.image;
    this.#readyTimeoutMs = options.readyTimeoutMs ?? 30_000;
    this.#stopTimeoutMs = options.stopTimeoutMs ?? 10_000;
    this.containerName = `cx-proxy-${options.engine.owner}`;
    if (!isValidRuntimeName(this.containerName)) {
      throw new CoxError("InvalidArgument", `owner ${JSON.stringify(options.engine.owner)} makes no usable container name (${this.containerName})`);
    }
    if (options.image.trim() === "") throw new CoxError("InvalidArgument", "the node proxy needs an image (NodeConfig.proxyImage)");
    this.requestLog = new DockerRequestLog({ engine: options.engine, container: () => this.#id, engineNow: () => this.#engineNow() });
  }

  async apply(change: ProxyChange): Promise<void> {
    await this.#lock.run(LOCK, async () => {
      if (this.#closed) throw unreachable("the node proxy was closed");
      try {
        if (!change.reload) {
          throw new CoxError("ProxyCommandRejected", `the node proxy of node ${this.#engine.nodeName} takes no runtime-API commands (runtimeApi is false); apply the whole configuration with reload: true`, {
            details: { runtimeApi: false, commands: change.commands },
          });
        }
        await this.#load(change.text, change.files ?? []);
        this.#lastError = undefined;
        this.#deathError = undefined;
      } catch (err) {
        const e = toCoxError(err, "ProxyUnreachable");
        this.#lastError = { code: e.code, message: e.message, at: Date.now() };
        throw e;
      }
    });
  }

  health(): ProxyHealth {
    const o = this.#observed;
    const running = o?.running === true && !this.#closed;
    return {
      running,
      ...(running ? { pid: o.pid } : {}),
      ...(this.#applied ? { config: { hash: this.#applied.hash, appliedAt: this.#applied.appliedAt } } : {}),
      ...(this.#lastError ? { lastError: { ...this.#lastError } } : {}),
      restarts: this.#restartBase + (o?.restartCount ?? 0),
    };
  }

  async stats(): Promise<ProxyServerStats[]> {
    if (!this.#looked) await this.#lock.run(LOCK, () => (this.#looked ? Promise.resolve() : this.#adopt()));
    const id = this.#id;
    if (id === undefined || this.#closed || this.#observed?.running !== true) throw unreachable("the node proxy is not running");
    const result = await this.#engine.exec(id, ["sh", "-c", CLI_SCRIPT, "sh", STATS_SOCKET, "show stat"], CLI_TIMEOUT_MS, MAX_STATS_BYTES);
    if (result.timedOut) throw unreachable(`the node proxy's stats socket did not answer within ${CLI_TIMEOUT_MS} ms`);
    if (result.exitCode === NO_CLIENT) {
      throw new CoxError("CommandNotFound", `the node proxy's image ${this.#image} has neither socat nor perl to read the stats socket with; use the official haproxy image or add one`, {
        details: { image: this.#image },
      });
    }
    if (result.exitCode !== 0) throw unreachable(`the node proxy's stats socket does not answer: ${result.output.trim()}`);
    if (Buffer.byteLength(result.output) >= MAX_STATS_BYTES - 4) {
      throw unreachable(`the node proxy's statistics are larger than ${MAX_STATS_BYTES} bytes`);
    }
    return parseStatCsv(result.output);
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.requestLog.close();
    await this.#lock.run(LOCK, async () => {
      this.#unwatch?.();
      this.#unwatch = undefined;
      if (!this.#looked) {
        try {
          await this.#adopt();
        } catch (err) {
          // A container of that name that is not ours is not ours to remove.
          if (!(err instanceof CoxError && err.details?.foreign === true)) throw err;
        }
      }
      const id = this.#id;
      if (id !== undefined) {
        await this.#engine.stop(id, Math.ceil(this.#stopTimeoutMs / 1000));
        await this.#engine.remove(id);
      }
      this.#id = undefined;
      this.#observed = undefined;
    });
  }

  // ------------------------------------------------------------------ loading configurations

  /** Reloads the running container with `text` and its files, or starts one with them; then removes the files it does not name. */
  async #load(text: string, files: readonly ProxyChangeFile[]): Promise<void> {
    checkProxyFileNames(files);
    const full = fullConfig(text);
    if (!this.#looked) await this.#adopt();
    if (this.#id !== undefined && this.#otherImage !== undefined) {
      // The Node's proxyImage changed while no operator ran (or since this container was made). The new
      // container binds the same addresses (host network), so the old one goes first: the node's Services
      // are not served for that moment — the one change of a proxy that is not hitless.
      const id = this.#id;
      await this.#engine.stop(id, Math.ceil(this.#stopTimeoutMs / 1000));
      await this.#discard(id);
      this.#otherImage = undefined;
    }
    if (await this.#ensureStarted()) await this.#reload(full, files);
    else await this.#create(full, files);
    this.#applied = { text, hash: sha256(text), appliedAt: Date.now() };
    await this.#pruneFiles(files);
    await this.#refresh();
  }

  /**
   * True when our container runs, after starting it on the configuration it has (the last that loaded)
   * when it was stopped or between two restarts of the engine's back-off. False when there is none, or
   * when that configuration does not load any more (it is removed then: a new container takes the text).
   */
  async #ensureStarted(): Promise<boolean> {
    const id = this.#id;
    if (id === undefined) return false;
    const info = await this.#inspect(id);
    if (info === undefined) {
      this.#forget();
      return false;
    }
    this.#observe(info);
    if (info.State?.Running === true && info.State.Restarting !== true) return true;
    if (info.State?.Restarting === true) {
      // Waiting for the engine's back-off: a start is answered "already started" until it is stopped.
      await this.#engine.stop(id, 0);
    }
    if ((await this.#start(id)).ok) return true;
    await this.#discard(id);
    return false;
  }

  /** Creates the container with `full` as its configuration, and its files, and starts it; removes it again when it does not serve. */
  async #create(full: string, files: readonly ProxyChangeFile[]): Promise<void> {
    await this.#engine.ensureImage(this.#image);
    const created = await this.#engine.request<{ Id: string }>(`create the node proxy container ${this.containerName}`, {
      method: "POST",
      path: "/containers/create",
      query: { name: this.containerName },
      body: {
        Image: this.#image,
        Entrypoint: [],
        Cmd: COMMAND,
        User: "0",
        StopSignal: "SIGUSR1",
        Labels: { [LABELS.owner]: this.#engine.owner, [LABELS.nodeProxy]: this.#engine.nodeName },
        HostConfig: {
          NetworkMode: "host",
          Init: false,
          RestartPolicy: { Name: "always", MaximumRetryCount: 0 },
          LogConfig: { Type: "json-file", Config: { "max-size": "10m", "max-file": "3" } },
        },
      },
    });
    const id = created.Id;
    this.#id = id;
    this.#held = new Set();
    this.#subscribe();
    let outcome: LoadOutcome;
    try {
      await this.#putFiles(id, CONFIG_PATH, full, files);
      outcome = await this.#start(id);
    } catch (err) {
      await this.#discard(id).catch(() => undefined);
      throw err;
    }
    if (!outcome.ok) {
      await this.#discard(id);
      throw this.#loadError(outcome, "start");
    }
  }

  /** Starts the (stopped) container `id` and waits for its master to report how the load went. */
  async #start(id: string): Promise<LoadOutcome> {
    this.#absorbRestartCount();
    if (this.#ranBefore) this.#restartBase++;
    this.#ranBefore = true;
    const since = await this.#engineNow();
    await this.#engine.request(`start the node proxy container ${this.containerName}`, {
      method: "POST",
      path: `/containers/${id}/start`,
      okStatuses: [304],
    });
    this.requestLog.containerChanged();
    return this.#loadOutcome(id, since, "start");
  }

  /** Checks `full` (with its files put beside it) inside the running container, then reloads the master with it; see the module comment. */
  async #reload(full: string, files: readonly ProxyChangeFile[]): Promise<void> {
    const id = this.#id!;
    await this.#putFiles(id, CANDIDATE_PATH, full, files);
    await this.#check(id);
    const since = await this.#engineNow();
    const signalled = await this.#engine.exec(id, ["sh", "-c", RELOAD_SCRIPT], CLI_TIMEOUT_MS);
    if (signalled.timedOut || signalled.exitCode !== 0) {
      throw unreachable(`cannot ask the node proxy to reload: ${signalled.timedOut ? "no answer" : signalled.output.trim()}`);
    }
    const outcome = await this.#loadOutcome(id, since, "reload");
    if (outcome.ok) return;
    const restored = await this.#engine.exec(id, ["sh", "-c", RESTORE_SCRIPT], CLI_TIMEOUT_MS).catch((err: unknown) => ({
      exitCode: -1,
      output: toCoxError(err).message,
      timedOut: false,
    }));
    const restoreFailed = restored.exitCode === 0 ? undefined : restored.timedOut ? "no answer" : restored.output.trim();
    throw this.#loadError(outcome, "reload", restoreFailed === undefined ? {} : { restoreFailed });
  }

  /** `haproxy -c` on the candidate inside the container; throws ProxyConfigInvalid with HAProxy's lines. */
  async #check(id: string): Promise<void> {
    const result = await this.#engine.exec(id, ["haproxy", "-c", "-f", CANDIDATE_PATH], this.#readyTimeoutMs);
    if (result.exitCode === 0) return;
    if (result.timedOut) throw unreachable(`haproxy -c did not finish within ${this.#readyTimeoutMs} ms`);
    if (result.exitCode === 126 || result.exitCode === 127) {
      throw new CoxError("CommandNotFound", `cannot run haproxy in the node proxy's image ${this.#image}: ${result.output.trim()}`);
    }
    const lines = alertLines(result.output, CANDIDATE_PATH, CONFIG_NAME);
    throw new CoxError("ProxyConfigInvalid", `the node proxy's configuration does not load: ${lines.length > 0 ? lines.join("; ") : result.output.trim()}`, { details: { lines } });
  }

  /**
   * Follows the container's log from `since` (engine time) until the master says how the (re)load went:
   * for a reload, the outcome after its "Reloading HAProxy"; for a start, "Loading success." or the log
   * ending (the container stopped). [ALERT] lines on the way are kept for the error.
   */
  async #loadOutcome(id: string, since: string, kind: "start" | "reload"): Promise<LoadOutcome> {
    const stream = await this.#engine.request<NodeJS.ReadableStream & { destroy(): void }>(
      `follow the node proxy's log`,
      { method: "GET", path: `/containers/${id}/logs`, query: { follow: true, stdout: true, stderr: true, since }, stream: true },
      { timeoutMs: this.#readyTimeoutMs },
    );
    return new Promise<LoadOutcome>((resolve) => {
      const frames = new ExecOutputDemuxer(0);
      const lines = new LineSplitter();
      const alerts: string[] = [];
      let reloading = kind === "start";
      let settled = false;
      const finish = (outcome: LoadOutcome): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        stream.destroy();
        resolve(outcome);
      };
      const onLine = (line: string): void => {
        const event = MASTER_EVENT.exec(line)?.[1];
        if (event === "Reloading HAProxy") {
          reloading = true;
          alerts.length = 0;
        } else if (!reloading) {
          return;
        } else if (line.startsWith("[ALERT]")) {
          alerts.push(line);
        } else if (event === "Loading success.") {
          finish({ ok: true });
        } else if (event === "Loading failure!") {
          finish({ ok: false, alerts, why: "failed" });
        }
      };
      const timer = setTimeout(() => finish({ ok: false, alerts, why: "timeout" }), this.#readyTimeoutMs);
      stream.on("data", (chunk: Buffer) => {
        for (const payload of frames.push(chunk)) for (const line of lines.push(payload)) onLine(line);
      });
      const ended = (): void => finish({ ok: false, alerts, why: "stopped" });
      stream.on("end", ended);
      stream.on("close", ended);
      stream.on("error", ended);
    });
  }

  /** The error of a start or reload that did not serve, from the master's [ALERT] lines. */
  #loadError(outcome: Exclude<LoadOutcome, { ok: true }>, what: "start" | "reload", extra: Record<string, unknown> = {}): CoxError {
    const lines = alertLines(outcome.alerts.join("\n"), CONFIG_PATH, CONFIG_NAME);
    const binds = bindFailures(lines);
    if (binds.length > 0) {
      const list = binds.map((b) => `${b.bind} (${b.reason}${b.where ? `, ${b.where}` : ""})`).join(", ");
      return new CoxError("ProxyBindFailed", `the node proxy cannot listen on ${list}`, { details: { binds, lines, ...extra } });
    }
    // A first start is not checked beforehand: HAProxy's alerts about the text are the check's.
    if (what === "start" && outcome.why === "stopped" && lines.length > 0) {
      return new CoxError("ProxyConfigInvalid", `the node proxy's configuration does not load: ${lines.join("; ")}`, { details: { lines, ...extra } });
    }
    const how = outcome.why === "timeout" ? `HAProxy reported nothing within ${this.#readyTimeoutMs} ms` : outcome.why === "stopped" ? "the container stopped" : "HAProxy reported a loading failure";
    return unreachable(`the node proxy's ${what} did not complete: ${how}${lines.length > 0 ? `: ${lines.join("; ")}` : ""}`, { lines, ...extra });
  }

  // ------------------------------------------------------------------ the container

  /**
   * Takes over the container an earlier manager left (same name, our owner, the node-proxy label) with
   * the configuration it runs, read back from it. A container of that name that is not ours is an error
   * (details.foreign): it is never touched.
   */
  async #adopt(): Promise<void> {
    const info = await this.#inspect(this.containerName);
    this.#looked = true;
    if (info === undefined) return;
    const labels = info.Config?.Labels ?? {};
    if (labels[LABELS.owner] !== this.#engine.owner || labels[LABELS.nodeProxy] === undefined) {
      this.#looked = false;
      throw unreachable(
        `node ${this.#engine.nodeName}: the container name ${this.containerName} is taken by ${info.Id.slice(0, 12)} ` +
          `(owner ${labels[LABELS.owner] ?? "none"}), which is not this operator's node proxy; remove or rename it`,
        { foreign: true, container: info.Id },
      );
    }
    this.#id = info.Id;
    const image = info.Config?.Image;
    this.#otherImage = image !== undefined && image !== this.#image ? image : undefined;
    this.#subscribe();
    this.requestLog.containerChanged();
    this.#observe(info);
    this.#ranBefore = (info.State?.StartedAt ?? "").length > 0 && !(info.State?.StartedAt ?? "").startsWith("0001-");
    const text = await this.#readConfig(info.Id).catch(() => undefined);
    if (text !== undefined) this.#applied = { text, hash: sha256(text), appliedAt: Date.now() };
  }

  /** The text of the configuration in the container (without the managed section), or undefined when it is not ours. */
  async #readConfig(id: string): Promise<string | undefined> {
    const tar = await this.#engine.request<unknown>(`read the node proxy's configuration`, {
      method: "GET",
      path: `/containers/${id}/archive`,
      query: { path: CONFIG_PATH },
    });
    const file = Buffer.isBuffer(tar) ? firstFileOfTar(tar) : undefined;
    const config = file?.toString("utf8");
    return config?.endsWith(MANAGED_SECTION) ? config.slice(0, -MANAGED_SECTION.length) : undefined;
  }

  /** Puts the configuration `full` at `path` and `files` into FILES_DIR, in one archive. */
  async #putFiles(id: string, path: string, full: string, files: readonly ProxyChangeFile[]): Promise<void> {
    // Root's files (0600) and directory (0700): the proxy runs as root and nobody else needs them.
    const entries: TarEntry[] = [{ type: "file", path, data: Buffer.from(full, "utf8"), mode: 0o600 }];
    if (files.length > 0) {
      entries.push({ type: "dir", path: FILES_DIR, mode: 0o700 }, ...files.map((f): TarEntry => ({ type: "file", path: `${FILES_DIR}/${f.name}`, data: Buffer.from(f.content, "utf8"), mode: 0o600 })));
    }
    await this.#engine.request(`put ${path}${files.length > 0 ? ` and ${files.length} files` : ""} into the node proxy container`, {
      method: "PUT",
      path: `/containers/${id}/archive`,
      query: { path: "/" },
      tar: tarOf(entries),
    });
    if (this.#held !== undefined) for (const f of files) this.#held.add(f.name);
  }

  /** Removes from FILES_DIR the files the serving configuration does not name (one exec; none when there can be none). */
  async #pruneFiles(files: readonly ProxyChangeFile[]): Promise<void> {
    const keep = new Set(files.map((f) => f.name));
    const id = this.#id;
    if (id === undefined || (this.#held !== undefined && [...this.#held].every((name) => keep.has(name)))) return;
    const result = await this.#engine.exec(id, ["sh", "-c", PRUNE_SCRIPT, "sh", ...[...keep].sort()], CLI_TIMEOUT_MS);
    if (result.timedOut || result.exitCode !== 0) {
      throw unreachable(`cannot remove the node proxy's unused files: ${result.timedOut ? "no answer" : result.output.trim()}`);
    }
    this.#held = keep;
  }

  /** The engine's clock as a `since` for its log (GET /info SystemTime): log lines are stamped by the same clock. */
  async #engineNow(): Promise<string> {
    const info = await this.#engine.request<{ SystemTime?: unknown }>("read the engine's clock", { method: "GET", path: "/info" });
    const since = typeof info.SystemTime === "string" ? sinceOfTimestamp(info.SystemTime) : undefined;
    if (since === undefined) {
      throw new CoxError("RuntimeCallFailed", `node ${this.#engine.nodeName}: GET /info gave no readable SystemTime (${JSON.stringify(info.SystemTime)})`);
    }
    return since;
  }

  async #inspect(idOrName: string): Promise<ProxyInspect | undefined> {
    try {
      return await this.#engine.request(`inspect the node proxy container ${idOrName}`, { method: "GET", path: `/containers/${idOrName}/json` });
    } catch (err) {
      if (err instanceof CoxError && err.details?.status === 404) return undefined;
      throw err;
    }
  }

  /** Removes a container whose configuration did not load (the engine would restart it forever). */
  async #discard(id: string): Promise<void> {
    this.#absorbRestartCount();
    await this.#engine.remove(id);
    if (this.#id === id) this.#forget();
  }

  #forget(): void {
    this.#absorbRestartCount();
    this.#id = undefined;
    this.#observed = undefined;
  }

  /** Moves the engine's RestartCount into the manager's count before it is lost (a start by a call, a removal). */
  #absorbRestartCount(): void {
    if (this.#observed === undefined) return;
    this.#restartBase += this.#observed.restartCount;
    this.#observed = { ...this.#observed, restartCount: 0 };
  }

  // ------------------------------------------------------------------ watching

  #subscribe(): void {
    if (this.#unwatch !== undefined || this.#closed) return;
    this.#unwatch = this.#engine.watch((id) => {
      if (id === undefined || id === this.#id) this.#refreshSoon();
    });
  }

  /** Inspects the container again after an engine event; one look at a time, one more when events came meanwhile. */
  #refreshSoon(): void {
    if (this.#refreshing !== undefined) {
      this.#refreshAgain = true;
      return;
    }
    this.#refreshing = (async () => {
      do {
        this.#refreshAgain = false;
        await this.#refresh().catch(() => undefined);
      } while (this.#refreshAgain && !this.#closed);
    })().finally(() => (this.#refreshing = undefined));
  }

  async #refresh(): Promise<void> {
    const id = this.#id;
    if (id === undefined || this.#closed) return;
    const info = await this.#inspect(id);
    if (id !== this.#id) return; // replaced meanwhile
    if (info === undefined) this.#forget();
    else this.#observe(info);
  }

  /** Records what the engine says of the container; a death is the lastError until it runs again. */
  #observe(info: ProxyInspect): void {
    const state = info.State ?? {};
    const running = state.Running === true && state.Restarting !== true;
    const was = this.#observed?.running;
    const restartCount = info.RestartCount ?? 0;
    this.#observed = { running, pid: state.Pid ?? 0, restartCount };
    if (was === true && !running && !this.#closed) {
      const exit = typeof state.ExitCode === "number" ? ` with code ${state.ExitCode}` : "";
      this.#deathError = { code: "ProxyUnreachable", message: `the node proxy container ${this.containerName} stopped${exit} (${state.Status ?? "?"})`, at: Date.now() };
      this.#lastError = this.#deathError;
    } else if (running && this.#deathError !== undefined && this.#lastError === this.#deathError) {
      this.#lastError = undefined;
      this.#deathError = undefined;
    }
  }
}
