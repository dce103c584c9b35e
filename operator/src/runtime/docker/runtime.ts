/**
 * DockerRuntime: the NodeRuntime of one Docker engine, on dockerode.
 *
 * - The API version is negotiated per engine (GET /version unversioned, pin min(engine, MAX_API_VERSION),
 *   refuse below MIN_API_VERSION) and negotiated again once when the engine answers 400 "client version
 *   … is too new/old" (the engine was replaced under us).
 * - At most maxConcurrentCalls engine calls are in flight per node; each has its own deadline
 *   (callTimeoutMs, pullTimeoutMs, grace + callTimeoutMs for stop), enforced with abort signals.
 * - Everything coxswain must remember about a container is in its labels; list() rebuilds state from
 *   them, so a new DockerRuntime instance sees what an earlier one created.
 * - list() needs start/finish times, which only inspect has. Inspect answers are cached per container
 *   while an event stream is open (a watcher exists): every event for a container, every own call on it
 *   and every reconnect invalidates; without a stream nothing is cached and every list inspects.
 * - Restart counts live in the container's name: start() of a container that ran before renames it to
 *   "<runtimeName>.<n>" first (labels are fixed at create; the name is the one durable, mutable fact,
 *   read back by every list without extra calls). ObservedContainer.runtimeName is the name without it.
 * - stop() waits up to the grace period inside the engine; it holds a slot of a separate pool of the
 *   same size, so that stopping many pods never starves list/inspect/create of their slots.
 * - exec(): create, start (attached, non-TTY, demultiplexed), inspect for the exit code. Docker has no
 *   call to kill an exec; at the deadline the stream is closed and, when the engine runs on this host
 *   (the exec's pid is in a cgroup naming the container), the exec'd process and its descendants are
 *   SIGKILLed. On a remote engine a timed-out command is abandoned: it ends when it ends, or with the
 *   container.
 * - Volumes (configMap, secret, emptyDir; see volumes.ts): named volumes made before the container, filled
 *   by a fill container before it starts, removed with the last container that uses them. A claim's volume
 *   is made the same way and kept: claims() lists them by their labels, removeClaim() removes one.
 * - TLS: endpoint tcp://host:port with `tls` (ca, and a client cert + key) speaks HTTPS; the server
 *   certificate must chain to tls.ca and name the host (IP SAN for an address).
 */
import { readFileSync } from "node:fs";
import type Docker from "dockerode";
import { CoxError, isCoxError } from "../../api/errors.js";
import { checkLaunchEnv, withoutEnvValues } from "../env.js";
import { LABELS } from "../labels.js";
import { logTail, type LogTail } from "../log-tail.js";
import type { RegistryAuth } from "../../manifest/image.js";
import { withoutCredentials, type PullSpec } from "../pull.js";
import { liveDescendants } from "../process/proc.js";
import {
  MAX_EXEC_OUTPUT_BYTES,
  type ClaimVolume,
  type ContainerLaunch,
  type ContainerUsage,
  type ExecResult,
  type KillSignal,
  type NodeInfo,
  type NodeRuntime,
  type ObservedContainer,
  type RuntimeChangeListener,
  type TlsCredentials,
} from "../types.js";
import { chooseApiVersion, isApiVersionMismatch, type EngineVersionReport } from "./api-version.js";
import { classifyEngineError, createDockerClient, dial, engineMessage, parseEndpoint, type EngineRequest, type EngineTarget } from "./client.js";
import { EventStream } from "./events.js";
import { bridgeNetworkPlan, SERVICE_RANGE_LABEL, type BridgeNetwork } from "../../traffic/bridge.js";
import {
  bridgeNetworkOf,
  ExecOutputDemuxer,
  LineSplitter,
  compareObserved,
  containerLogConfig,
  createContainerBody,
  isValidRuntimeName,
  observedFromInspect,
  restartName,
  splitImageReference,
  splitRuntimeName,
  type DockerContainerInspect,
  type DockerContainerSummary,
  type DockerExecInspect,
  type DockerNetworkInspect,
  type EngineEvent,
} from "./mapping.js";
import { Semaphore } from "./semaphore.js";
import { needsImageUser, runAsRootProblem } from "./security.js";
import { tarOf } from "./tar.js";
import { claimVolumeName, fillEntries, fillMounts, VOLUME_PREFIX, volumeCreates } from "./volumes.js";

/** Options of a DockerRuntime. */
export interface DockerRuntimeOptions {
  /** "unix:///path/docker.sock", or "tcp://host:port" (plain HTTP, or HTTPS with `tls`). */
  endpoint: string;
  /**
   * TLS for a tcp:// endpoint (PEM text, e.g. from a Secret): the engine's certificate is verified
   * against `ca` and must name the endpoint's host; `cert` + `key` are the client certificate an engine
   * started with --tlsverify asks for. Checked in the constructor: broken PEM is SecretInvalid.
   */
  tls?: TlsCredentials;
  /** Value of the io.coxswain.owner label: only containers carrying it are listed, and run() sets it. */
  owner: string;
  /** Node name for messages and error details; defaults to the endpoint. */
  nodeName?: string;
  /** Engine calls in flight at once on this node (default 8). */
  maxConcurrentCalls?: number;
  /**
   * Called after every Engine API call (each goes through one place) with how long it took once it held
   * a slot, and whether it failed (metrics).
   */
  onCall?: (ms: number, failed: boolean) => void;
  /** Deadline of one engine call in ms (default 30 000); stop() adds the grace period. */
  callTimeoutMs?: number;
  /** Deadline of an image pull in ms (default 300 000). */
  pullTimeoutMs?: number;
  /** Bridge mode: the user-defined bridge network containers join (default "coxswain"; created on first use). */
  bridgeNetwork?: string;
  /** Bridge mode: host address published ports bind to; "" (default) binds every interface, like `docker run -p`. */
  publishIp?: string;
  /**
   * Pin this API version instead of asking the engine first (e.g. an engine behind a proxy that hides
   * /version). A 400 "client version … too new/old" still triggers one negotiation.
   */
  apiVersion?: string;
}

/** Marks a network made only to learn which subnet the engine would give it (see ensureBridgeNetwork). */
const NETWORK_PROBE_LABEL = "io.coxswain.network-probe";

/** Container event actions that change what list() reports; exec_*, attach, resize… are ignored. */
const LIFECYCLE_ACTIONS: ReadonlySet<string> = new Set(["create", "start", "restart", "die", "kill", "oom", "stop", "pause", "unpause", "destroy", "rename", "update"]);

/** The fields of GET /version coxswain reads. */
interface VersionReport extends EngineVersionReport {
  Version?: string;
  Os?: string;
  Arch?: string;
}

/** The fields of GET /info coxswain reads. */
interface InfoReport {
  NCPU?: number;
  MemTotal?: number;
  OSType?: string;
  Architecture?: string;
  /** The engine's default log driver (containers' logs: mapping.ts containerLogConfig). */
  LoggingDriver?: string;
}

interface CacheEntry {
  state: string;
  observed: ObservedContainer;
}

/** Per-call options of engine calls. */
interface CallOptions {
  /** Deadline of the call (default callTimeoutMs). */
  timeoutMs?: number;
  /** Aborts the call early (the error is then classified as a deadline). */
  signal?: AbortSignal;
  /** The pool of slots the call holds (default: the node's call limit). */
  semaphore?: Semaphore;
}

/** The fields of GET /containers/{id}/stats that usage() reads. */
interface DockerStats {
  read?: string;
  cpu_stats?: { cpu_usage?: { total_usage?: number } };
  memory_stats?: { usage?: number; stats?: { inactive_file?: number; total_inactive_file?: number } };
}

/** An error as an aborted request raises it. */
function abortError(): Error {
  const err = new Error("aborted");
  err.name = "AbortError";
  return err;
}

/** True when an engine timestamp is set (Docker says "0001-01-01T00:00:00Z" for never). */
function isDockerTimeSet(text: string | undefined): boolean {
  return text !== undefined && text !== "" && !text.startsWith("0001-01-01");
}

/**
 * Reads an exec's multiplexed output stream into `output`. Resolves true when the stream ended, false
 * when `signal` fired first (the stream is destroyed then). A stream error also ends it: the exit code
 * read afterwards decides.
 */
function readExecStream(stream: NodeJS.ReadableStream, output: ExecOutputDemuxer, signal: AbortSignal): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const s = stream as NodeJS.ReadableStream & { destroy?: (err?: Error) => void };
    let settled = false;
    const settle = (ended: boolean) => {
      if (settled) return;
      settled = true;
      signal.removeEventListener("abort", onAbort);
      if (!ended) s.destroy?.();
      resolve(ended);
    };
    const onAbort = () => settle(false);
    if (signal.aborted) return settle(false);
    signal.addEventListener("abort", onAbort, { once: true });
    stream.on("data", (chunk: Buffer | string) => output.push(typeof chunk === "string" ? Buffer.from(chunk) : chunk));
    stream.on("error", () => settle(!signal.aborted));
    stream.on("end", () => settle(true));
    stream.on("close", () => settle(!signal.aborted));
  });
}

/** The HTTP status of an engine error wrapped in a CoxError, if any. */
function statusOf(err: unknown): number | undefined {
  if (!isCoxError(err)) return undefined;
  const status = err.details?.status;
  return typeof status === "number" ? status : undefined;
}

/** A NodeRuntime backed by one Docker engine. */
export class DockerRuntime implements NodeRuntime {
  /** Always "docker". */
  readonly type = "docker";
  /** The endpoint this runtime talks to. */
  readonly endpoint: string;
  /** The owner label value this runtime manages. */
  readonly owner: string;
  /** Node name used in messages. */
  readonly nodeName: string;

  private readonly target: EngineTarget;
  private readonly callTimeoutMs: number;
  private readonly onCall: ((ms: number, failed: boolean) => void) | undefined;
  private readonly pullTimeoutMs: number;
  private readonly bridgeNetworkName: string;
  private readonly publishIp: string;
  private readonly semaphore: Semaphore;
  /** Slots for stop(), which waits inside the engine for up to the grace period. */
  private readonly stopSemaphore: Semaphore;
  /** Slots for usage(), which waits inside the engine for its statistics collector's next round (up to 1 s). */
  private readonly statsSemaphore: Semaphore;
  private version: string | undefined;
  private client: Docker | undefined;
  private streamClient: Docker | undefined;
  private negotiation: Promise<VersionReport> | undefined;
  private bridgeReady: Promise<BridgeNetwork> | undefined;
  private readonly listeners = new Set<RuntimeChangeListener>();
  private events: EventStream | undefined;
  private readonly cache = new Map<string, CacheEntry>();
  /** Bumped by every event and own call on a container: an inspect that overlapped one is not cached. */
  private readonly generations = new Map<string, number>();
  /** The engine's default log driver, once read (engineLogDriver). */
  private logDriver: Promise<string | undefined> | undefined;
  /** Bumped on every stream (dis)connection: invalidates everything in flight. */
  private epoch = 0;
  private closed = false;

  constructor(options: DockerRuntimeOptions) {
    if (!options.owner) throw new CoxError("InvalidArgument", "DockerRuntime needs a non-empty owner label value");
    this.target = parseEndpoint(options.endpoint, options.tls);
    this.endpoint = options.endpoint;
    this.owner = options.owner;
    this.nodeName = options.nodeName ?? options.endpoint;
    this.callTimeoutMs = options.callTimeoutMs ?? 30_000;
    this.onCall = options.onCall;
    this.pullTimeoutMs = options.pullTimeoutMs ?? 300_000;
    this.bridgeNetworkName = options.bridgeNetwork ?? "coxswain";
    this.publishIp = options.publishIp ?? "";
    const limit = options.maxConcurrentCalls ?? 8;
    this.semaphore = new Semaphore(limit);
    this.stopSemaphore = new Semaphore(limit);
    this.statsSemaphore = new Semaphore(limit);
    if (options.apiVersion !== undefined) {
      this.pin(chooseApiVersion({ ApiVersion: options.apiVersion }, `node ${this.nodeName}`, options.apiVersion));
    }
  }

  /** The pinned API version, once negotiated. */
  get apiVersion(): string | undefined {
    return this.version;
  }

  /** Calls waiting for a slot and calls in flight; for metrics. */
  get load(): { inFlight: number; waiting: number } {
    return { inFlight: this.semaphore.inUse, waiting: this.semaphore.waiting };
  }

  // ---------------------------------------------------------------- NodeRuntime

  /** Negotiates the API version (again, every time: the engine may have been upgraded) and reads capacity. */
  async connect(): Promise<NodeInfo> {
    const report = await this.engineCall("read the engine version", (_docker, signal) => this.negotiate(signal), {
      pinned: false,
    });
    const info = await this.call<InfoReport>("read the engine info", { method: "GET", path: "/info" });
    this.logDriver = Promise.resolve(info.LoggingDriver);
    const os = report.Os ?? info.OSType ?? "unknown";
    const arch = report.Arch ?? info.Architecture ?? "unknown";
    return {
      cpuMillis: Math.round((info.NCPU ?? 0) * 1000),
      memoryBytes: info.MemTotal ?? 0,
      engine: `docker ${report.Version ?? "unknown"} (API ${this.version})`,
      platform: `${os}/${arch}`,
    };
  }

  /**
   * The engine's default log driver: read by connect(), else once on the first create (a runtime used
   * without connect()); read again after a failed read.
   */
  private engineLogDriver(): Promise<string | undefined> {
    this.logDriver ??= this.call<InfoReport>("read the engine info", { method: "GET", path: "/info" }).then(
      (info) => info.LoggingDriver,
      (err: unknown) => {
        this.logDriver = undefined;
        throw err;
      },
    );
    return this.logDriver;
  }

  /** Every container (any state) labelled with our owner, sorted by runtime name then id. */
  async list(): Promise<ObservedContainer[]> {
    const summaries = await this.call<DockerContainerSummary[]>("list containers", {
      method: "GET",
      path: "/containers/json",
      query: { all: true, filters: { label: [`${LABELS.owner}=${this.owner}`] } },
    });
    const listed = new Set(summaries.map((s) => s.Id));
    for (const id of this.cache.keys()) if (!listed.has(id)) this.cache.delete(id);
    const observed = await Promise.all(summaries.map((s) => this.observe(s)));
    return observed.filter((o): o is ObservedContainer => o !== undefined).sort(compareObserved);
  }

  /**
   * Ensures the image as launch.pull says (ensureImage), creates the container with the launch's labels and
   * starts it (not with launch.startLater: it stays "created"). All or nothing: when start fails, the container created by this call is removed again.
   * A container that already has the name is reused when it is ours with the same spec hash (a retry
   * after a crash between create and start); otherwise the name conflict is a RuntimeCallFailed. A create
   * that got no answer (reset, deadline) is followed by a look for the name: the engine may have made it;
   * a start that got none, by a look at the container, which is kept when it runs. An env
   * entry no environment can hold is InvalidField before anything is created; env values never appear in
   * what it throws.
   */
  async run(launch: ContainerLaunch): Promise<ObservedContainer> {
    checkLaunchEnv(launch);
    try {
      return await this.launch(launch);
    } catch (err) {
      // The engine's error text may quote the environment (runc does): never pass a value on.
      throw withoutEnvValues(err, launch.env, launch.secretEnv);
    }
  }

  private async launch(launch: ContainerLaunch): Promise<ObservedContainer> {
    if (!isValidRuntimeName(launch.runtimeName)) {
      throw new CoxError("InvalidArgument", `container name ${JSON.stringify(launch.runtimeName)} is not usable: expected [a-zA-Z0-9][a-zA-Z0-9_.-]* not ending in ".<digits>" (that suffix counts restarts)`);
    }
    const labels = { ...launch.labels };
    const owner = labels[LABELS.owner];
    if (owner === undefined) labels[LABELS.owner] = this.owner;
    else if (owner !== this.owner) {
      throw new CoxError("InvalidArgument", `launch of ${launch.runtimeName} carries ${LABELS.owner}=${owner}; this runtime manages owner ${this.owner}`);
    }
    await this.ensureImage(launch.image, launch.pull);
    const imageUser = needsImageUser(launch.security) ? await this.imageUser(launch.image) : undefined;
    const asRoot = runAsRootProblem(launch.security, imageUser);
    if (asRoot !== undefined) {
      throw new CoxError("SecurityContextUnmet", `node ${this.nodeName}: container ${launch.runtimeName} (image ${launch.image}) is not started: ${asRoot}`, {
        details: { node: this.nodeName, image: launch.image },
      });
    }
    if (launch.network === "bridge") await this.ensureBridgeNetwork();
    // With the owner label: a claim's volume is named after it (volumes.ts).
    const volumes = volumeCreates({ ...launch, labels }, { [LABELS.owner]: this.owner });
    const mountpoints = new Map<string, string>();
    for (const v of volumes) {
      const made = await this.call<{ Mountpoint?: string }>(`create volume ${v.Name}`, { method: "POST", path: "/volumes/create", body: v });
      if (made.Mountpoint) mountpoints.set(v.Name, made.Mountpoint);
    }
    // Filled before the container is made: a subPath mount binds a path inside a volume, which must exist then.
    try {
      await this.fillVolumes({ ...launch, labels });
    } catch (err) {
      // Only the pod's own volumes: a claim's keeps its data.
      await this.removeUnusedVolumes(volumes.map((v) => v.Name).filter((n) => n.startsWith(VOLUME_PREFIX))).catch(() => undefined);
      throw err;
    }
    const logConfig = containerLogConfig(await this.engineLogDriver());
    const body = createContainerBody({ ...launch, labels }, { network: this.bridgeNetworkName, publishIp: this.publishIp }, imageUser, mountpoints, logConfig);
    let id: string;
    let createdHere = true;
    try {
      const created = await this.call<{ Id: string }>(`create container ${launch.runtimeName}`, {
        method: "POST",
        path: "/containers/create",
        query: { name: launch.runtimeName },
        body,
      });
      id = created.Id;
    } catch (err) {
      const conflict = statusOf(err) === 409;
      // No answer at all (a reset connection, the deadline): the engine may have made the container all the
      // same. It is looked for by name and taken up when it is this launch's; left unknown, a later listing
      // would find a container holding a host port that was given to another pod meanwhile.
      const unanswered = !conflict && isCoxError(err, "NodeUnreachable");
      const found = unanswered ? await this.inspect(launch.runtimeName, `look for container ${launch.runtimeName} after its create went unanswered`).catch(() => undefined) : undefined;
      const specHash = labels[LABELS.specHash];
      const lostAnswer = found !== undefined && found.Config?.Labels?.[LABELS.owner] === this.owner && specHash !== undefined && found.Config?.Labels?.[LABELS.specHash] === specHash;
      if (!conflict && !lostAnswer) {
        // Only the pod's own volumes: a claim's keeps its data.
        await this.removeUnusedVolumes(volumes.map((v) => v.Name).filter((n) => n.startsWith(VOLUME_PREFIX))).catch(() => undefined);
        throw err;
      }
      const existing = lostAnswer ? found : await this.inspect(launch.runtimeName, `inspect existing container ${launch.runtimeName}`);
      if (!existing) throw err; // gone in the meantime: let the caller retry
      const theirs = existing.Config?.Labels ?? {};
      if (theirs[LABELS.owner] !== this.owner || specHash === undefined || theirs[LABELS.specHash] !== specHash) {
        throw new CoxError(
          "RuntimeCallFailed",
          `node ${this.nodeName}: container name ${launch.runtimeName} is taken by ${existing.Id.slice(0, 12)} ` +
            `(owner ${theirs[LABELS.owner] ?? "none"}, spec hash ${theirs[LABELS.specHash] ?? "none"}); ` +
            `expected it free or ours with spec hash ${specHash ?? "(launch has none)"}`,
          { cause: err, details: { node: this.nodeName, conflict: existing.Id } },
        );
      }
      id = existing.Id;
      createdHere = lostAnswer; // made by this very call: a failed start removes it, as any container made here
      if (existing.State?.Running || launch.startLater) {
        return observedFromInspect(existing);
      }
    }
    this.invalidate(id);
    // Under docker-init the engine starts the init, which then fails to run a missing command (exit 127):
    // look for the command before the start, so that a typo is still CommandNotFound, not a crash loop.
    const missing = launch.noInit ? undefined : await this.missingCommand(id, launch);
    if (missing !== undefined) {
      if (createdHere) await this.remove(id).catch(() => undefined);
      throw new CoxError(
        "CommandNotFound",
        `node ${this.nodeName}: container ${launch.runtimeName}: command ${JSON.stringify(missing.command)} does not exist in image ${launch.image} (${missing.why}); fix command/args or the image`,
        { details: { node: this.nodeName, command: missing.command, image: launch.image } },
      );
    }
    if (!launch.startLater) {
      try {
        await this.call(`start container ${launch.runtimeName}`, {
          method: "POST",
          path: `/containers/${id}/start`,
          okStatuses: [304],
        });
      } catch (err) {
        // No answer (reset, deadline): the engine may have started it all the same; then it runs and is kept.
        const started =
          isCoxError(err, "NodeUnreachable") && statusOf(err) === undefined ? await this.inspect(id, `look at container ${launch.runtimeName} after its start went unanswered`).catch(() => undefined) : undefined;
        if (!started?.State?.Running) {
          if (createdHere) await this.remove(id).catch(() => undefined);
          throw this.startError(err, launch);
        }
      }
    }
    const info = await this.inspect(id, `inspect container ${launch.runtimeName}`);
    if (!info) {
      throw new CoxError("RuntimeCallFailed", `node ${this.nodeName}: container ${launch.runtimeName} (${id.slice(0, 12)}) disappeared right after it was started`, { details: { node: this.nodeName } });
    }
    return observedFromInspect(info);
  }

  /**
   * Starts a stopped container again; already running is fine, a missing container is RuntimeCallFailed.
   * A container that ran before is first renamed "<runtimeName>.<restartCount + 1>" (its durable restart
   * count); when the rename fails for another reason than an unreachable engine, it is started anyway
   * (running matters more than counting).
   */
  async start(id: string): Promise<void> {
    this.invalidate(id);
    const info = await this.inspect(id, `inspect container ${id}`);
    if (!info) {
      throw new CoxError("RuntimeCallFailed", `node ${this.nodeName}: cannot start container ${id}: no such container`, {
        details: { node: this.nodeName, id, status: 404 },
      });
    }
    if (info.State?.Running) return;
    if (isDockerTimeSet(info.State?.StartedAt)) {
      const { runtimeName, restartCount } = splitRuntimeName(info.Name);
      const name = restartName(runtimeName, restartCount + 1);
      try {
        await this.call(`rename container ${id} to ${name}`, {
          method: "POST",
          path: `/containers/${id}/rename`,
          query: { name },
        });
      } catch (err) {
        if (isCoxError(err, "NodeUnreachable")) throw err;
      }
    }
    this.invalidate(id);
    await this.call(`start container ${id}`, { method: "POST", path: `/containers/${id}/start`, okStatuses: [304] });
    this.invalidate(id);
  }

  /**
   * POST /containers/{id}/stop?t=grace: SIGTERM (or the image's STOPSIGNAL), SIGKILL after grace seconds;
   * the engine answers when the container no longer runs. Already stopped (304) and missing (404) are fine.
   */
  async stop(id: string, graceSeconds: number): Promise<void> {
    const t = Math.max(0, Math.ceil(graceSeconds));
    this.invalidate(id);
    try {
      await this.call(`stop container ${id}`, { method: "POST", path: `/containers/${id}/stop`, query: { t }, okStatuses: [304] }, { timeoutMs: t * 1000 + this.callTimeoutMs, semaphore: this.stopSemaphore });
    } catch (err) {
      if (statusOf(err) !== 404) throw err;
    } finally {
      this.invalidate(id);
    }
  }

  /**
   * POST /containers/{id}/kill?signal=…: one signal, no waiting. Not running (409) is a no-op; a missing
   * container is RuntimeCallFailed.
   */
  async kill(id: string, signal: KillSignal): Promise<void> {
    this.invalidate(id);
    try {
      await this.call(`send ${signal} to container ${id}`, {
        method: "POST",
        path: `/containers/${id}/kill`,
        query: { signal },
      });
    } catch (err) {
      if (statusOf(err) !== 409) throw err; // "container … is not running"
    } finally {
      this.invalidate(id);
    }
  }

  /**
   * Runs a command in the running container (see the module comment for the deadline): exec create
   * (stdout+stderr attached, no TTY), exec start read to its end and demultiplexed, exec inspect for the
   * exit code. Engine errors before the command runs are thrown (no such container, not running: 409 →
   * RuntimeCallFailed; unreachable → NodeUnreachable); at `timeoutMs` the result is timedOut whatever
   * step was under way. At most `maxOutputBytes` of output are kept (default MAX_EXEC_OUTPUT_BYTES, the
   * probes' limit); a reader of longer answers (the node proxy's statistics) asks for more.
   */
  async exec(id: string, command: readonly string[], timeoutMs: number, maxOutputBytes = MAX_EXEC_OUTPUT_BYTES): Promise<ExecResult> {
    if (command.length === 0 || command[0] === "") {
      throw new CoxError("InvalidArgument", `exec in container ${id}: the command is empty; expected a program and its arguments`);
    }
    const deadline = new AbortController();
    const timer = setTimeout(() => deadline.abort(), Math.max(0, timeoutMs));
    const output = new ExecOutputDemuxer(maxOutputBytes);
    let execId: string | undefined;
    const timedOut = (): ExecResult => {
      if (execId !== undefined) void this.killExec(execId).catch(() => undefined);
      return { exitCode: -1, output: output.text(), timedOut: true };
    };
    // Resolves at the deadline even when the work still waits for a slot; the work then stops at its
    // next step (every engine call checks the deadline) and kills what it started.
    const atDeadline = new Promise<ExecResult>((resolve) => deadline.signal.addEventListener("abort", () => resolve({ exitCode: -1, output: output.text(), timedOut: true }), { once: true }));
    try {
      return await Promise.race([this.execSteps(id, command, deadline.signal, output, timedOut, (x) => (execId = x)), atDeadline]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * The end of the container's log (the engine's json-file or local log driver keeps every run's output):
   * `tail` lines asked of the engine, demultiplexed (no TTY), then cut to the bytes asked for.
   * RuntimeCallFailed for an unknown container (404).
   */
  async logs(id: string, tail: LogTail): Promise<string> {
    const deadline = AbortSignal.timeout(this.callTimeoutMs);
    const stream = await this.call<NodeJS.ReadableStream>(
      `read the log of container ${id}`,
      { method: "GET", path: `/containers/${id}/logs`, query: { stdout: true, stderr: true, tail: String(tail.lines) }, stream: true },
      { signal: deadline },
    );
    // Lines are bounded by the engine; keep enough bytes of them to cut the tail from.
    const output = new ExecOutputDemuxer(tail.lines * 4096);
    await readExecStream(stream, output, deadline);
    return logTail(Buffer.from(output.text(), "utf8"), tail);
  }

  /** The steps of exec(); errors after the deadline become the timed-out result. */
  private async execSteps(id: string, command: readonly string[], deadline: AbortSignal, output: ExecOutputDemuxer, timedOut: () => ExecResult, setExecId: (execId: string) => void): Promise<ExecResult> {
    try {
      const created = await this.call<{ Id: string }>(
        `create exec in container ${id}`,
        {
          method: "POST",
          path: `/containers/${id}/exec`,
          body: { AttachStdin: false, AttachStdout: true, AttachStderr: true, Tty: false, Cmd: [...command] },
        },
        { signal: deadline },
      );
      const execId = created.Id;
      setExecId(execId);
      const stream = await this.call<NodeJS.ReadableStream>(`start exec in container ${id}`, { method: "POST", path: `/exec/${execId}/start`, body: { Detach: false, Tty: false }, stream: true }, { signal: deadline });
      const ended = await readExecStream(stream, output, deadline);
      if (!ended) return timedOut();
      // The stream ends when the process closed its output; the exit code can lag behind by a moment.
      for (;;) {
        const info = await this.call<DockerExecInspect>(`inspect exec in container ${id}`, { method: "GET", path: `/exec/${execId}/json` }, { signal: deadline });
        if (!info.Running && typeof info.ExitCode === "number") return { exitCode: info.ExitCode, output: output.text() };
        await new Promise<void>((resolve) => setTimeout(resolve, 10));
        if (deadline.aborted) return timedOut();
      }
    } catch (err) {
      if (deadline.aborted) return timedOut();
      throw err;
    }
  }

  /**
   * Puts the files of the launch's volumes into them (a fill container, see volumes.ts), and makes the
   * directories its subPath mounts bind. Nothing to do without volumes.
   */
  private async fillVolumes(launch: ContainerLaunch): Promise<void> {
    const entries = fillEntries(launch);
    if (entries.length > 0) {
      const name = `${launch.runtimeName}-fill`;
      // A fill container left by an earlier attempt (an operator that died in between) goes first.
      await this.remove(name);
      const created = await this.call<{ Id: string }>(`create the fill container of ${launch.runtimeName}`, {
        method: "POST",
        path: "/containers/create",
        query: { name },
        // Never started: an entrypoint that need not exist, no network.
        body: { Image: launch.image, Entrypoint: ["/coxswain-fill"], Labels: {}, HostConfig: { NetworkMode: "none", Mounts: fillMounts(launch) } },
      });
      try {
        await this.call(`put the volume files of ${launch.runtimeName}`, {
          method: "PUT",
          path: `/containers/${created.Id}/archive`,
          query: { path: "/" },
          tar: tarOf(entries),
        });
      } finally {
        await this.call(`remove the fill container of ${launch.runtimeName}`, {
          method: "DELETE",
          path: `/containers/${created.Id}`,
          query: { force: true },
          okStatuses: [404],
        }).catch(() => undefined);
      }
    }
  }

  /**
   * Force-removes a container (and its anonymous volumes); missing or already being removed is fine. Then
   * removes the coxswain volumes it used that no other container uses (the engine refuses those in use).
   */
  async remove(id: string): Promise<void> {
    this.invalidate(id);
    const volumes = ((await this.inspect(id, `inspect container ${id}`).catch(() => undefined))?.Mounts ?? []).flatMap((m) => (m.Type === "volume" && m.Name?.startsWith(VOLUME_PREFIX) ? [m.Name] : []));
    try {
      await this.call(`remove container ${id}`, {
        method: "DELETE",
        path: `/containers/${id}`,
        query: { force: true, v: true },
      });
    } catch (err) {
      const status = statusOf(err);
      // 409: "removal of container … is already in progress" — someone else is doing our job.
      if (status !== 404 && status !== 409) throw err;
    } finally {
      this.invalidate(id);
    }
    await this.removeUnusedVolumes(volumes);
  }

  /** Removes each of the named volumes that no container uses (the engine refuses the others: 409). */
  private async removeUnusedVolumes(names: readonly string[]): Promise<void> {
    for (const name of names) {
      try {
        await this.call(`remove volume ${name}`, { method: "DELETE", path: `/volumes/${name}` });
      } catch (err) {
        // 409: still used by another container of the pod (or a removal in progress); 404: gone.
        const status = statusOf(err);
        if (status !== 404 && status !== 409) throw err;
      }
    }
  }

  /**
   * One Engine API call that NodeRuntime does not cover, made like the runtime's own calls: under the
   * node's call limit and a deadline (`timeoutMs`, default callTimeoutMs), on the negotiated API version,
   * with failures as CoxErrors (NodeUnreachable, RuntimeCallFailed with details.status). With `stream`,
   * the deadline covers opening the stream and the slot is given back once it is open; the caller ends
   * the stream (destroy()). For coxswain's own infrastructure on the node, which NodeRuntime's pod-shaped
   * calls do not fit: the node proxy (runtime/proxy/docker-proxy.ts) creates its container with a restart
   * policy, puts files into it and follows its log.
   */
  request<T>(what: string, req: EngineRequest, options: { timeoutMs?: number } = {}): Promise<T> {
    return this.call<T>(what, req, options);
  }

  /** The claim volumes of our owner on this engine (volumes.ts), sorted by claim. */
  async claims(): Promise<ClaimVolume[]> {
    const listed = await this.call<{ Volumes: { Name: string; Labels: Record<string, string> | null }[] | null }>("list claim volumes", {
      method: "GET",
      path: "/volumes",
      query: { filters: { label: [`${LABELS.owner}=${this.owner}`, LABELS.claim] } },
    });
    return (listed.Volumes ?? [])
      .flatMap((v) => {
        const claim = v.Labels?.[LABELS.claim];
        return claim !== undefined && v.Name === claimVolumeName(this.owner, claim) ? [{ claim, volume: v.Name }] : [];
      })
      .sort((a, b) => (a.claim < b.claim ? -1 : a.claim > b.claim ? 1 : 0));
  }

  /** Removes a claim's volume; RuntimeCallFailed (the engine's 409) while a container uses it. */
  async removeClaim(claim: string): Promise<void> {
    const name = claimVolumeName(this.owner, claim);
    await this.call(`remove claim volume ${name}`, { method: "DELETE", path: `/volumes/${name}`, okStatuses: [404] });
  }

  /**
   * The network bridge-mode containers join (DockerRuntimeOptions.bridgeNetwork), created on first use with
   * room for Service forwarders; see ensureBridgeNetwork.
   */
  bridgeNetwork(): Promise<BridgeNetwork> {
    return this.ensureBridgeNetwork();
  }

  /**
   * The container's CPU time and working set from the engine's statistics (GET /containers/{id}/stats,
   * stream=false, one-shot=true: the engine answers with its collector's next round — up to a second, since
   * it collects once a second — instead of waiting for a second round to fill precpu_stats; engines before
   * API 1.41 ignore one-shot). Calls hold slots of their own, so that waiting readings never hold up the
   * node's other calls; read many containers at once, not one after the other. Working set = usage less
   * inactive_file (cgroup v2) or total_inactive_file (v1), as the kubelet computes it. undefined when the
   * container does not run (the engine reports no CPU time then) or no longer exists.
   */
  async usage(id: string): Promise<ContainerUsage | undefined> {
    let stats: DockerStats;
    try {
      stats = await this.call<DockerStats>(`read the statistics of container ${id}`, { method: "GET", path: `/containers/${id}/stats`, query: { stream: false, "one-shot": true } }, { semaphore: this.statsSemaphore });
    } catch (err) {
      if (statusOf(err) === 404) return undefined;
      throw err;
    }
    const cpu = stats.cpu_stats?.cpu_usage?.total_usage;
    // A stopped container's statistics are all zero, read at "0001-01-01T00:00:00Z".
    if (cpu === undefined || !isDockerTimeSet(stats.read)) return undefined;
    const mem = stats.memory_stats ?? {};
    const inactive = mem.stats?.inactive_file ?? mem.stats?.total_inactive_file ?? 0;
    return { cpuNanos: cpu, memoryBytes: Math.max(0, (mem.usage ?? 0) - inactive), at: Date.parse(stats.read!) };
  }

  /** Every repo:tag present on the engine, sorted; untagged images are left out. */
  async images(): Promise<string[]> {
    const images = await this.call<Array<{ RepoTags?: string[] | null }>>("list images", {
      method: "GET",
      path: "/images/json",
    });
    const tags = new Set<string>();
    for (const image of images) for (const tag of image.RepoTags ?? []) if (tag !== "<none>:<none>") tags.add(tag);
    return [...tags].sort();
  }

  /**
   * Subscribes to container events of our owner: listener(id) for every create/start/die/destroy/… (each
   * engine event once), listener(undefined) after the stream reconnected (events may have been missed:
   * re-list everything). One stream per runtime, shared by all listeners, opened on first subscription.
   */
  watch(listener: RuntimeChangeListener): () => void {
    if (this.closed) return () => undefined;
    this.listeners.add(listener);
    this.ensureEventStream();
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) this.stopEventStream();
    };
  }

  /**
   * Closes the event stream and cancels reconnects. Never touches containers. Idle keep-alive
   * connections belong to Node's global agent, which unrefs them, so they never keep a process alive.
   */
  async close(): Promise<void> {
    this.closed = true;
    this.listeners.clear();
    this.stopEventStream();
  }

  // ---------------------------------------------------------------- engine calls

  private pin(version: string): void {
    this.version = version;
    this.client = createDockerClient(this.target, version);
    // A client of its own for the long-lived event stream, so its settings can never leak into calls.
    this.streamClient = createDockerClient(this.target, version);
  }

  /** GET /version without prefix, then pin. Concurrent callers share one negotiation. */
  private negotiate(signal?: AbortSignal): Promise<VersionReport> {
    this.negotiation ??= (async () => {
      try {
        const raw = createDockerClient(this.target, undefined);
        const req: EngineRequest = { method: "GET", path: "/version" };
        if (signal) req.signal = signal;
        const report = await dial<VersionReport>(raw, req);
        this.pin(chooseApiVersion(report, `node ${this.nodeName} (${this.endpoint})`));
        return report;
      } finally {
        this.negotiation = undefined;
      }
    })();
    return this.negotiation;
  }

  private async pinnedClient(signal: AbortSignal): Promise<Docker> {
    if (!this.client) await this.negotiate(signal);
    return this.client!;
  }

  /**
   * Runs one engine interaction while holding a slot, under a deadline; negotiates the version first
   * when none is pinned, and once more on a version mismatch. Failures become CoxErrors.
   */
  private async engineCall<T>(what: string, fn: (docker: Docker, signal: AbortSignal) => Promise<T>, options: CallOptions & { pinned?: boolean } = {}): Promise<T> {
    const timeoutMs = options.timeoutMs ?? this.callTimeoutMs;
    const outer = options.signal;
    if (outer?.aborted) throw classifyEngineError(abortError(), { node: this.nodeName, endpoint: this.endpoint, what });
    const release = await (options.semaphore ?? this.semaphore).acquire();
    if (outer?.aborted) {
      release(); // the caller's deadline passed while the call waited for a slot
      throw classifyEngineError(abortError(), { node: this.nodeName, endpoint: this.endpoint, what });
    }
    const abort = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      abort.abort();
    }, timeoutMs);
    const started = performance.now();
    let failed = true;
    // The caller's signal (an exec deadline) aborts the call too; unlinked when the call returns.
    const onOuter = () => abort.abort();
    outer?.addEventListener("abort", onOuter, { once: true });
    try {
      const docker = options.pinned === false ? undefined : await this.pinnedClient(abort.signal);
      let result: T;
      try {
        result = await fn(docker as Docker, abort.signal);
      } catch (err) {
        if (!isApiVersionMismatch(err) || options.pinned === false) throw err;
        await this.negotiate(abort.signal);
        result = await fn(this.client!, abort.signal);
      }
      failed = false;
      return result;
    } catch (err) {
      throw classifyEngineError(err, { node: this.nodeName, endpoint: this.endpoint, what, timeoutMs, timedOut });
    } finally {
      try {
        this.onCall?.(performance.now() - started, failed);
      } catch {
        // An observer must not change the call's outcome.
      }
      clearTimeout(timer);
      outer?.removeEventListener("abort", onOuter);
      release();
    }
  }

  private call<T = unknown>(what: string, req: EngineRequest, options: CallOptions = {}): Promise<T> {
    return this.engineCall(what, (docker, signal) => dial<T>(docker, { ...req, signal }), options);
  }

  private async inspect(idOrName: string, what: string): Promise<DockerContainerInspect | undefined> {
    try {
      return await this.call<DockerContainerInspect>(what, { method: "GET", path: `/containers/${idOrName}/json` });
    } catch (err) {
      if (statusOf(err) === 404) return undefined;
      throw err;
    }
  }

  /** A list entry → ObservedContainer, from the cache when it is valid, else from inspect. */
  private async observe(s: DockerContainerSummary): Promise<ObservedContainer | undefined> {
    const usable = this.events?.connected === true;
    const cached = usable ? this.cache.get(s.Id) : undefined;
    if (cached && cached.state === s.State) return cached.observed;
    const epoch = this.epoch;
    const generation = this.generations.get(s.Id) ?? 0;
    const info = await this.inspect(s.Id, `inspect container ${s.Id.slice(0, 12)}`);
    if (!info) return undefined; // removed between list and inspect
    const observed = observedFromInspect(info);
    if (this.events?.connected === true && epoch === this.epoch && generation === (this.generations.get(s.Id) ?? 0) && info.State?.Status !== undefined) {
      this.cache.set(s.Id, { state: info.State.Status, observed });
    }
    return observed;
  }

  private invalidate(id: string): void {
    this.cache.delete(id);
    this.generations.set(id, (this.generations.get(id) ?? 0) + 1);
  }

  private startError(err: unknown, launch: ContainerLaunch): CoxError {
    const text = engineMessage(isCoxError(err) ? ((err as Error).cause ?? err) : err);
    const m = /exec: "([^"]*)": (stat [^:]*: no such file or directory|executable file not found[^:]*)/.exec(text);
    if (m) {
      return new CoxError("CommandNotFound", `node ${this.nodeName}: container ${launch.runtimeName}: command ${JSON.stringify(m[1])} does not exist in image ${launch.image} (${m[2]}); fix command/args or the image`, {
        cause: err,
        details: { node: this.nodeName, command: m[1], image: launch.image },
      });
    }
    return isCoxError(err) ? err : classifyEngineError(err, { node: this.nodeName, endpoint: this.endpoint, what: "start" });
  }

  /**
   * Kills a timed-out exec's process and its descendants when the engine runs on this host: the exec's
   * pid (engine host's pid namespace) counts only while /proc/<pid>/cgroup names the container's full
   * id, so a remote engine's pid, or a pid reused since, is never signalled.
   */
  private async killExec(execId: string): Promise<void> {
    const info = await this.call<DockerExecInspect>(`inspect exec ${execId}`, { method: "GET", path: `/exec/${execId}/json` });
    const pid = info.Pid ?? 0;
    const container = info.ContainerID ?? "";
    if (!info.Running || pid <= 0 || !/^[0-9a-f]{64}$/.test(container)) return;
    let cgroup: string;
    try {
      cgroup = readFileSync(`/proc/${pid}/cgroup`, "utf8");
    } catch {
      return; // not on this host (or gone)
    }
    if (!cgroup.includes(container)) return;
    for (const victim of [pid, ...liveDescendants(pid)]) {
      try {
        process.kill(victim, "SIGKILL");
      } catch {
        // gone meanwhile
      }
    }
  }

  // ---------------------------------------------------------------- images and networks

  /**
   * Makes the image present as `pull` says (absent: IfNotPresent, anonymous). IfNotPresent pulls only a
   * missing image; Always pulls every time (the engine downloads only layers it lacks); Never pulls nothing,
   * and a missing image is ImageNeverPull. A pull tries each of pull.auth in turn (X-Registry-Auth) until the
   * registry accepts one, or once anonymously without any; failures are ImagePullFailed with the registry's
   * last answer, credentials cut out. Public for the node proxy (runtime/proxy/docker-proxy.ts), whose image
   * is pulled like a pod's.
   */
  async ensureImage(image: string, pull?: PullSpec): Promise<void> {
    const policy = pull?.policy ?? "IfNotPresent";
    if (policy !== "Always" && (await this.hasImage(image))) return;
    if (policy === "Never") {
      throw new CoxError(
        "ImageNeverPull",
        `node ${this.nodeName}: image ${image} is not present and imagePullPolicy is Never: expected the image on the node (docker pull or docker load there), or another imagePullPolicy`,
        { details: { node: this.nodeName, image } },
      );
    }
    let failure: unknown;
    for (const auth of pull?.auth?.length ? pull.auth : [undefined]) {
      failure = await this.pullOnce(image, auth);
      // The engine itself going away is a node problem, not an image problem; a pull deadline is the image's.
      if (isCoxError(failure, "NodeUnreachable") && failure.details?.errno !== undefined) throw failure;
      if (failure === undefined) break;
    }
    if (failure === undefined && (await this.hasImage(image))) return;
    const reason =
      failure === undefined
        ? "the pull finished but the image is still not there"
        : isCoxError(failure, "NodeUnreachable") && failure.details?.timeoutMs !== undefined
          ? `no answer within ${this.pullTimeoutMs} ms`
          : isCoxError(failure)
            ? engineMessage(failure.cause ?? failure)
            : String(failure);
    const credentials = pull?.auth?.length ? ` (with the credentials of ${[...new Set(pull.auth.map((a) => a.serveraddress))].join(", ")})` : "";
    throw new CoxError("ImagePullFailed", withoutCredentials(`node ${this.nodeName}: image ${image} could not be pulled${credentials}: ${reason}`, pull?.auth), {
      cause: failure,
      details: { node: this.nodeName, image },
    });
  }

  /**
   * The launch's command (command[0]), when the created container `id` has no file of that name where
   * runc would look: the path itself (relative to the working directory) when it has a "/", else each
   * directory of the container's PATH. Undefined when it is there, or when the launch names no command
   * (the image's own entrypoint). Asked with GET /containers/{id}/archive, answered from the headers
   * (the stream is dropped at once): 404 is a missing file.
   */
  private async missingCommand(id: string, launch: ContainerLaunch): Promise<{ command: string; why: string } | undefined> {
    const command = launch.command?.[0];
    if (command === undefined) return undefined;
    const info = await this.inspect(id, `inspect container ${launch.runtimeName}`);
    const env = info?.Config?.Env ?? [];
    const path = env.find((e) => e.startsWith("PATH="))?.slice("PATH=".length) ?? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    const workdir = info?.Config?.WorkingDir || "/";
    const candidates = command.includes("/")
      ? [command.startsWith("/") ? command : `${workdir.replace(/\/+$/, "")}/${command}`]
      : path
          .split(":")
          .filter((d) => d.startsWith("/"))
          .map((d) => `${d.replace(/\/+$/, "")}/${command}`);
    for (const candidate of candidates) {
      try {
        const stream = await this.call<NodeJS.ReadableStream & { destroy?: () => void }>(`look for ${candidate} in ${launch.runtimeName}`, {
          method: "GET",
          path: `/containers/${id}/archive`,
          query: { path: candidate },
          stream: true,
        });
        stream.destroy?.();
        return undefined;
      } catch (err) {
        if (statusOf(err) !== 404) throw err;
      }
    }
    return { command, why: command.includes("/") ? "no such file" : `not in PATH ${path}` };
  }

  /** The user an image's containers run as (its Config.User, "" for root) when nothing else is said. */
  private async imageUser(image: string): Promise<string> {
    const info = await this.call<{ Config?: { User?: string } | null }>(`inspect image ${image}`, { method: "GET", path: `/images/${image}/json` });
    return info.Config?.User ?? "";
  }

  /** One POST /images/create of `image`, with `auth` as X-Registry-Auth; resolves with the failure, if any. */
  private async pullOnce(image: string, auth: RegistryAuth | undefined): Promise<unknown> {
    const { repository, tag } = splitImageReference(image);
    try {
      await this.engineCall(
        `pull image ${image}`,
        async (docker, signal) => {
          const stream = await dial<NodeJS.ReadableStream>(docker, {
            method: "POST",
            path: "/images/create",
            query: { fromImage: repository, tag },
            ...(auth ? { authconfig: auth } : {}),
            stream: true,
            signal,
          });
          await readPullProgress(stream, signal);
        },
        { timeoutMs: this.pullTimeoutMs },
      );
      return undefined;
    } catch (err) {
      return err;
    }
  }

  private async hasImage(image: string): Promise<boolean> {
    try {
      await this.call(`inspect image ${image}`, { method: "GET", path: `/images/${image}/json` });
      return true;
    } catch (err) {
      if (statusOf(err) === 404) return false;
      throw err;
    }
  }

  /**
   * The user-defined bridge network, created on first use. The default "bridge" network does not exist
   * on engines started with --bridge=none; a user-defined bridge works there, and published ports are
   * served by docker-proxy (the userland proxy) even with --iptables=false.
   *
   * coxswain creates it with room for Service forwarders (traffic/bridge.ts): Docker first makes a probe
   * network of that name (labelled io.coxswain.network-probe) in a subnet it chooses free of its other
   * networks and of the host's routes; the probe is removed and the network made again in that subnet with
   * bridgeNetworkPlan's layout (IPRange the lower half, the Service range label the upper). A probe left
   * by a crash (no containers on it) is removed and the steps run again; a network made meanwhile by someone
   * else is taken as it is. A network that exists already is used as it is, with its Service range when
   * it has a valid one (serviceRangeOf) and the problem otherwise.
   */
  private ensureBridgeNetwork(): Promise<BridgeNetwork> {
    this.bridgeReady ??= this.setUpBridgeNetwork().catch((err: unknown) => {
      this.bridgeReady = undefined;
      throw err;
    });
    return this.bridgeReady;
  }

  /** See ensureBridgeNetwork. */
  private async setUpBridgeNetwork(): Promise<BridgeNetwork> {
    const name = this.bridgeNetworkName;
    for (let attempt = 1; ; attempt++) {
      const existing = await this.inspectNetwork(name);
      if (existing !== undefined) {
        const leftProbe = existing.Labels?.[NETWORK_PROBE_LABEL] !== undefined && Object.keys(existing.Containers ?? {}).length === 0;
        if (!leftProbe) return bridgeNetworkOf(existing);
        await this.removeNetwork(existing.Id);
      }
      let subnet: string | undefined;
      try {
        const probe = await this.call<{ Id: string }>(`create network ${name} (probe)`, {
          method: "POST",
          path: "/networks/create",
          body: { Name: name, Driver: "bridge", CheckDuplicate: true, Labels: { [NETWORK_PROBE_LABEL]: "true" } },
        });
        const inspected = await this.inspectNetwork(probe.Id);
        subnet = inspected?.IPAM?.Config?.find((c) => c.Subnet?.includes(".") === true)?.Subnet;
        await this.removeNetwork(probe.Id);
        if (subnet === undefined) throw new CoxError("RuntimeCallFailed", `node ${this.nodeName}: the engine gave network ${name} no IPv4 subnet`, { details: { node: this.nodeName, network: name } });
        const plan = bridgeNetworkPlan(subnet);
        await this.call(`create network ${name} in ${subnet}`, {
          method: "POST",
          path: "/networks/create",
          body: {
            Name: name,
            Driver: "bridge",
            CheckDuplicate: true,
            Labels: { [SERVICE_RANGE_LABEL]: plan.serviceRange },
            IPAM: { Driver: "default", Config: [{ Subnet: plan.subnet, IPRange: plan.ipRange, Gateway: plan.gateway }] },
          },
        });
      } catch (err) {
        // 409: made meanwhile (take it as it is); else the subnet may have been taken meanwhile: try again.
        if (statusOf(err) !== 409 && attempt >= 3) throw err;
      }
    }
  }

  private async inspectNetwork(idOrName: string): Promise<DockerNetworkInspect | undefined> {
    try {
      return await this.call<DockerNetworkInspect>(`inspect network ${idOrName}`, { method: "GET", path: `/networks/${idOrName}` });
    } catch (err) {
      if (statusOf(err) === 404) return undefined;
      throw err;
    }
  }

  private async removeNetwork(id: string): Promise<void> {
    try {
      await this.call(`remove network ${id.slice(0, 12)}`, { method: "DELETE", path: `/networks/${id}` });
    } catch (err) {
      if (statusOf(err) !== 404) throw err;
    }
  }

  // ---------------------------------------------------------------- events

  private ensureEventStream(): void {
    if (this.events) return;
    const stream = new EventStream({
      open: (since, signal) => this.openEvents(since, signal),
      onEvent: (event) => this.onEngineEvent(event),
      onConnected: (reconnect) => {
        this.epoch++;
        this.cache.clear();
        if (reconnect) this.notify(undefined);
      },
      onDisconnected: () => {
        this.epoch++;
        this.cache.clear();
      },
    });
    this.events = stream;
    stream.start();
  }

  private stopEventStream(): void {
    this.events?.stop();
    this.events = undefined;
    this.epoch++;
    this.cache.clear();
  }

  /** Opens GET /events for our containers; gives up after callTimeoutMs without a response. */
  private async openEvents(since: string | undefined, outer: AbortSignal): Promise<NodeJS.ReadableStream> {
    const abort = new AbortController();
    const onOuter = () => abort.abort();
    outer.addEventListener("abort", onOuter, { once: true });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      abort.abort();
    }, this.callTimeoutMs);
    const query: Record<string, unknown> = {
      filters: { type: ["container"], label: [`${LABELS.owner}=${this.owner}`] },
    };
    if (since !== undefined) query.since = since;
    const open = async () => {
      if (!this.streamClient) await this.negotiate(abort.signal);
      return dial<NodeJS.ReadableStream>(this.streamClient!, {
        method: "GET",
        path: "/events",
        query,
        stream: true,
        signal: abort.signal,
      });
    };
    try {
      try {
        return await open();
      } catch (err) {
        if (!isApiVersionMismatch(err)) throw err;
        await this.negotiate(abort.signal);
        return await open();
      }
    } catch (err) {
      throw classifyEngineError(err, {
        node: this.nodeName,
        endpoint: this.endpoint,
        what: "open the event stream",
        timeoutMs: this.callTimeoutMs,
        timedOut,
      });
    } finally {
      clearTimeout(timer);
    }
  }

  private onEngineEvent(event: EngineEvent): void {
    if (event.type !== "" && event.type !== "container") return;
    if (!LIFECYCLE_ACTIONS.has(event.action)) return;
    this.invalidate(event.id);
    if (event.action === "destroy") this.generations.delete(event.id);
    this.notify(event.id);
  }

  private notify(id: string | undefined): void {
    for (const listener of [...this.listeners]) {
      try {
        listener(id);
      } catch {
        // One listener's failure must not starve the others.
      }
    }
  }
}

/**
 * Reads a pull's progress stream to its end. Resolves when the engine closes it without an error
 * message; rejects with the engine's error ("manifest unknown", "pull access denied", …), with the stream
 * error, or when the signal fires. (dockerode's pull() resolves as soon as the stream starts.)
 */
function readPullProgress(stream: NodeJS.ReadableStream, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const splitter = new LineSplitter();
    let error: string | undefined;
    let settled = false;
    const s = stream as NodeJS.ReadableStream & { destroy?: (err?: Error) => void };
    const settle = (err?: unknown) => {
      if (settled) return;
      settled = true;
      signal.removeEventListener("abort", onAbort);
      if (err !== undefined) {
        s.destroy?.();
        reject(err);
      } else if (error !== undefined) reject(new Error(error));
      else resolve();
    };
    const onLine = (line: string) => {
      try {
        const obj = JSON.parse(line) as { error?: unknown; errorDetail?: { message?: unknown } };
        if (typeof obj.error === "string") error = obj.error;
        else if (typeof obj.errorDetail?.message === "string") error = obj.errorDetail.message;
      } catch {
        // not JSON: progress noise
      }
    };
    const onAbort = () => {
      const err = new Error("pull aborted");
      err.name = "AbortError";
      settle(err);
    };
    if (signal.aborted) return onAbort();
    signal.addEventListener("abort", onAbort, { once: true });
    stream.on("data", (chunk: Buffer | string) => {
      for (const line of splitter.push(chunk)) onLine(line);
    });
    stream.on("error", (err: unknown) => settle(err));
    stream.on("aborted", () => settle(new Error("pull stream aborted by the engine")));
    const done = () => {
      const last = splitter.end();
      if (last !== undefined) onLine(last);
      settle();
    };
    stream.on("end", done);
    stream.on("close", done);
  });
}
