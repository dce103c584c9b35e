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
 *
 * Where its parts are: this file holds the NodeRuntime calls on an existing container (start with its
 * restart rename, stop, kill, remove), claims and the engine's capacity; `engine.ts` every engine call
 * (version, call limit, deadlines); `launch.ts` run() — create and start, a lost answer looked up;
 * `listing.ts` list() and watch() — inspect → ObservedContainer, its cache and the event stream;
 * `images.ts` pulls and the images present; `networks.ts` the bridge network; `exec.ts` exec() and logs();
 * `usage.ts` usage().
 */
import { CoxError, isCoxError } from "../../api/errors.js";
import { checkLaunchEnv, withoutEnvValues } from "../env.js";
import { LABELS } from "../labels.js";
import type { LogTail } from "../log-tail.js";
import type { PullSpec } from "../pull.js";
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
import type { BridgeNetwork } from "../../traffic/bridge.js";
import { chooseApiVersion } from "./api-version.js";
import type { EngineRequest } from "./client.js";
import { DockerEngine, isDockerTimeSet, statusOf } from "./engine.js";
import { execIn, readLogs } from "./exec.js";
import { ensureImage, listImages } from "./images.js";
import { launchContainer, removeUnusedVolumes } from "./launch.js";
import { ContainerListing } from "./listing.js";
import { restartName, splitRuntimeName } from "./mapping.js";
import { setUpBridgeNetwork } from "./networks.js";
import { readUsage } from "./usage.js";
import { claimVolumeName, VOLUME_PREFIX } from "./volumes.js";

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

/** The fields of GET /info coxswain reads. */
interface InfoReport {
  NCPU?: number;
  MemTotal?: number;
  OSType?: string;
  Architecture?: string;
  /** The engine's default log driver (containers' logs: mapping.ts containerLogConfig). */
  LoggingDriver?: string;
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

  /** Every engine call goes through it (engine.ts). */
  private readonly engine: DockerEngine;
  /** list() and watch(), with the inspect cache and the event stream (listing.ts). */
  private readonly listing: ContainerListing;
  private readonly bridgeNetworkName: string;
  private readonly publishIp: string;
  private bridgeReady: Promise<BridgeNetwork> | undefined;
  /** The engine's default log driver, once read (engineLogDriver). */
  private logDriver: Promise<string | undefined> | undefined;

  constructor(options: DockerRuntimeOptions) {
    if (!options.owner) throw new CoxError("InvalidArgument", "DockerRuntime needs a non-empty owner label value");
    this.engine = new DockerEngine(options);
    this.listing = new ContainerListing(this.engine);
    this.endpoint = options.endpoint;
    this.owner = options.owner;
    this.nodeName = options.nodeName ?? options.endpoint;
    this.bridgeNetworkName = options.bridgeNetwork ?? "coxswain";
    this.publishIp = options.publishIp ?? "";
    if (options.apiVersion !== undefined) {
      this.engine.pin(chooseApiVersion({ ApiVersion: options.apiVersion }, `node ${this.nodeName}`, options.apiVersion));
    }
  }

  /** The pinned API version, once negotiated. */
  get apiVersion(): string | undefined {
    return this.engine.version;
  }

  /** Calls waiting for a slot and calls in flight; for metrics. */
  get load(): { inFlight: number; waiting: number } {
    return { inFlight: this.engine.semaphore.inUse, waiting: this.engine.semaphore.waiting };
  }

  // ---------------------------------------------------------------- NodeRuntime

  /** Negotiates the API version (again, every time: the engine may have been upgraded) and reads capacity. */
  async connect(): Promise<NodeInfo> {
    const report = await this.engine.engineCall("read the engine version", (_docker, signal) => this.engine.negotiate(signal), {
      pinned: false,
    });
    const info = await this.engine.call<InfoReport>("read the engine info", { method: "GET", path: "/info" });
    this.logDriver = Promise.resolve(info.LoggingDriver);
    const os = report.Os ?? info.OSType ?? "unknown";
    const arch = report.Arch ?? info.Architecture ?? "unknown";
    return {
      cpuMillis: Math.round((info.NCPU ?? 0) * 1000),
      memoryBytes: info.MemTotal ?? 0,
      engine: `docker ${report.Version ?? "unknown"} (API ${this.engine.version})`,
      platform: `${os}/${arch}`,
    };
  }

  /**
   * The engine's default log driver: read by connect(), else once on the first create (a runtime used
   * without connect()); read again after a failed read.
   */
  private engineLogDriver(): Promise<string | undefined> {
    this.logDriver ??= this.engine.call<InfoReport>("read the engine info", { method: "GET", path: "/info" }).then(
      (info) => info.LoggingDriver,
      (err: unknown) => {
        this.logDriver = undefined;
        throw err;
      },
    );
    return this.logDriver;
  }

  /** Every container (any state) labelled with our owner, sorted by runtime name then id. */
  list(): Promise<ObservedContainer[]> {
    return this.listing.list();
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
      return await launchContainer(
        {
          engine: this.engine,
          bridgeNetwork: () => this.ensureBridgeNetwork(),
          logDriver: () => this.engineLogDriver(),
          network: this.bridgeNetworkName,
          publishIp: this.publishIp,
          invalidate: (id) => this.listing.invalidate(id),
          remove: (id) => this.remove(id),
        },
        launch,
      );
    } catch (err) {
      // The engine's error text may quote the environment (runc does): never pass a value on.
      throw withoutEnvValues(err, launch.env, launch.secretEnv);
    }
  }

  /**
   * Starts a stopped container again; already running is fine, a missing container is RuntimeCallFailed.
   * A container that ran before is first renamed "<runtimeName>.<restartCount + 1>" (its durable restart
   * count); when the rename fails for another reason than an unreachable engine, it is started anyway
   * (running matters more than counting).
   */
  async start(id: string): Promise<void> {
    this.listing.invalidate(id);
    const info = await this.engine.inspect(id, `inspect container ${id}`);
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
        await this.engine.call(`rename container ${id} to ${name}`, {
          method: "POST",
          path: `/containers/${id}/rename`,
          query: { name },
        });
      } catch (err) {
        if (isCoxError(err, "NodeUnreachable")) throw err;
      }
    }
    this.listing.invalidate(id);
    await this.engine.call(`start container ${id}`, { method: "POST", path: `/containers/${id}/start`, okStatuses: [304] });
    this.listing.invalidate(id);
  }

  /**
   * POST /containers/{id}/stop?t=grace: SIGTERM (or the image's STOPSIGNAL), SIGKILL after grace seconds;
   * the engine answers when the container no longer runs. Already stopped (304) and missing (404) are fine.
   */
  async stop(id: string, graceSeconds: number): Promise<void> {
    const t = Math.max(0, Math.ceil(graceSeconds));
    this.listing.invalidate(id);
    try {
      await this.engine.call(
        `stop container ${id}`,
        { method: "POST", path: `/containers/${id}/stop`, query: { t }, okStatuses: [304] },
        { timeoutMs: t * 1000 + this.engine.callTimeoutMs, semaphore: this.engine.stopSemaphore },
      );
    } catch (err) {
      if (statusOf(err) !== 404) throw err;
    } finally {
      this.listing.invalidate(id);
    }
  }

  /**
   * POST /containers/{id}/kill?signal=…: one signal, no waiting. Not running (409) is a no-op; a missing
   * container is RuntimeCallFailed.
   */
  async kill(id: string, signal: KillSignal): Promise<void> {
    this.listing.invalidate(id);
    try {
      await this.engine.call(`send ${signal} to container ${id}`, {
        method: "POST",
        path: `/containers/${id}/kill`,
        query: { signal },
      });
    } catch (err) {
      if (statusOf(err) !== 409) throw err; // "container … is not running"
    } finally {
      this.listing.invalidate(id);
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
  exec(id: string, command: readonly string[], timeoutMs: number, maxOutputBytes = MAX_EXEC_OUTPUT_BYTES): Promise<ExecResult> {
    return execIn(this.engine, id, command, timeoutMs, maxOutputBytes);
  }

  /**
   * The end of the container's log (the engine's json-file or local log driver keeps every run's output):
   * `tail` lines asked of the engine, demultiplexed (no TTY), then cut to the bytes asked for.
   * RuntimeCallFailed for an unknown container (404).
   */
  logs(id: string, tail: LogTail): Promise<string> {
    return readLogs(this.engine, id, tail);
  }

  /**
   * Force-removes a container (and its anonymous volumes); missing or already being removed is fine. Then
   * removes the coxswain volumes it used that no other container uses (the engine refuses those in use).
   */
  async remove(id: string): Promise<void> {
    this.listing.invalidate(id);
    const volumes = ((await this.engine.inspect(id, `inspect container ${id}`).catch(() => undefined))?.Mounts ?? []).flatMap((m) => (m.Type === "volume" && m.Name?.startsWith(VOLUME_PREFIX) ? [m.Name] : []));
    try {
      await this.engine.call(`remove container ${id}`, {
        method: "DELETE",
        path: `/containers/${id}`,
        query: { force: true, v: true },
      });
    } catch (err) {
      const status = statusOf(err);
      // 409: "removal of container … is already in progress" — someone else is doing our job.
      if (status !== 404 && status !== 409) throw err;
    } finally {
      this.listing.invalidate(id);
    }
    await removeUnusedVolumes(this.engine, volumes);
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
    return this.engine.call<T>(what, req, options);
  }

  /** The claim volumes of our owner on this engine (volumes.ts), sorted by claim. */
  async claims(): Promise<ClaimVolume[]> {
    const listed = await this.engine.call<{ Volumes: { Name: string; Labels: Record<string, string> | null }[] | null }>("list claim volumes", {
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
    await this.engine.call(`remove claim volume ${name}`, { method: "DELETE", path: `/volumes/${name}`, okStatuses: [404] });
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
  usage(id: string): Promise<ContainerUsage | undefined> {
    return readUsage(this.engine, id);
  }

  /** Every repo:tag present on the engine, sorted; untagged images are left out. */
  images(): Promise<string[]> {
    return listImages(this.engine);
  }

  /**
   * Subscribes to container events of our owner: listener(id) for every create/start/die/destroy/… (each
   * engine event once), listener(undefined) after the stream reconnected (events may have been missed:
   * re-list everything). One stream per runtime, shared by all listeners, opened on first subscription.
   */
  watch(listener: RuntimeChangeListener): () => void {
    return this.listing.watch(listener);
  }

  /**
   * Closes the event stream and cancels reconnects. Never touches containers. Idle keep-alive
   * connections belong to Node's global agent, which unrefs them, so they never keep a process alive.
   */
  async close(): Promise<void> {
    this.listing.close();
  }

  /**
   * Makes the image present as `pull` says (absent: IfNotPresent, anonymous). IfNotPresent pulls only a
   * missing image; Always pulls every time (the engine downloads only layers it lacks); Never pulls nothing,
   * and a missing image is ImageNeverPull. A pull tries each of pull.auth in turn (X-Registry-Auth) until the
   * registry accepts one, or once anonymously without any; failures are ImagePullFailed with the registry's
   * last answer, credentials cut out. Public for the node proxy (runtime/proxy/docker-proxy.ts), whose image
   * is pulled like a pod's.
   */
  ensureImage(image: string, pull?: PullSpec): Promise<void> {
    return ensureImage(this.engine, image, pull);
  }

  /** The user-defined bridge network, made on first use (networks.ts setUpBridgeNetwork); tried again after a failure. */
  private ensureBridgeNetwork(): Promise<BridgeNetwork> {
    this.bridgeReady ??= setUpBridgeNetwork(this.engine, this.bridgeNetworkName).catch((err: unknown) => {
      this.bridgeReady = undefined;
      throw err;
    });
    return this.bridgeReady;
  }
}
