/**
 * Pure translations between coxswain's runtime types and the Docker Engine API's JSON: the create body
 * of a ContainerLaunch, ObservedContainer from list/inspect answers, image references, engine timestamps.
 */
import { StringDecoder } from "node:string_decoder";
import { formatIpv4, parseIpv4 } from "../../traffic/addresses.js";
import { SERVICE_RANGE_LABEL, serviceRangeOf, type BridgeNetwork } from "../../traffic/bridge.js";
import { LABEL_PREFIX } from "../labels.js";
import { MAX_EXEC_OUTPUT_BYTES, type ContainerLaunch, type ContainerState, type ObservedContainer } from "../types.js";
import { dockerSecurityOptions, type DockerSecurityOptions } from "./security.js";
import { dockerBinds, dockerMounts, type DockerMount } from "./volumes.js";

/** The fields of a GET /containers/json entry coxswain reads. */
export interface DockerContainerSummary {
  Id: string;
  Names?: string[];
  Image?: string;
  /** Seconds since the epoch. */
  Created?: number;
  State?: string;
  /** Human text: "Up 3 minutes", "Exited (1) 2 seconds ago". */
  Status?: string;
  Labels?: Record<string, string> | null;
}

/** The fields of a GET /containers/{id}/json answer coxswain reads. */
export interface DockerContainerInspect {
  Id: string;
  Name?: string;
  /** RFC 3339 with nanoseconds. */
  Created?: string;
  Config?: { Image?: string; Labels?: Record<string, string> | null; Env?: string[] | null; WorkingDir?: string };
  /** The container's mounts; remove() reads the names of its volumes here. */
  Mounts?: { Type?: string; Name?: string }[] | null;
  State?: {
    Status?: string;
    Running?: boolean;
    ExitCode?: number;
    Error?: string;
    StartedAt?: string;
    FinishedAt?: string;
  };
}

const STATES: ReadonlySet<string> = new Set<ContainerState>(["created", "running", "restarting", "paused", "exited", "dead", "removing"]);

/** Maps Docker's state word to ContainerState; an unknown word is reported as "dead" (not running, not coming back by itself). */
function toContainerState(state: string | undefined): ContainerState {
  const s = (state ?? "").toLowerCase();
  return STATES.has(s) ? (s as ContainerState) : "dead";
}

/**
 * Parses an engine timestamp (RFC 3339, up to nanoseconds) into epoch milliseconds. Docker reports
 * "0001-01-01T00:00:00Z" for "never"; that and anything unparsable give undefined.
 */
function parseDockerTime(text: string | undefined): number | undefined {
  if (!text || text.startsWith("0001-01-01")) return undefined;
  const ms = Date.parse(text);
  return Number.isFinite(ms) && ms > 0 ? ms : undefined;
}

/** The exit code in a list entry's Status ("Exited (137) 5 seconds ago" → 137); undefined when absent. */
function exitCodeFromStatus(status: string | undefined): number | undefined {
  const m = /^Exited \((-?\d+)\)/.exec(status ?? "");
  return m ? Number(m[1]) : undefined;
}

/** A container name as Docker reports it ("/name") without the leading slash. */
function containerName(name: string | undefined): string {
  return (name ?? "").replace(/^\//, "");
}

/** The restart-count suffix of a container name: "." and a positive decimal without leading zeros. */
const RESTART_SUFFIX = /\.([1-9][0-9]{0,8})$/;

/**
 * Splits a Docker container name into the runtime name coxswain gave it and its restart count. Docker
 * labels are fixed at create, so the only durable, mutable fact a container carries is its name: each
 * restart in place renames it to "<runtimeName>.<n>" (as dockershim's "_<attempt>"), and every list
 * reads the count back without extra calls. Runtime names themselves never end in ".<digits>"
 * (isValidRuntimeName), so the split is unambiguous.
 */
export function splitRuntimeName(dockerName: string | undefined): { runtimeName: string; restartCount: number } {
  const name = containerName(dockerName);
  const m = RESTART_SUFFIX.exec(name);
  return m ? { runtimeName: name.slice(0, m.index), restartCount: Number(m[1]) } : { runtimeName: name, restartCount: 0 };
}

/** The Docker name of a container after `restartCount` restarts in place. */
export function restartName(runtimeName: string, restartCount: number): string {
  return restartCount > 0 ? `${runtimeName}.${restartCount}` : runtimeName;
}

/** True when `runtimeName` is a name Docker accepts and does not look like it carries a restart count. */
export function isValidRuntimeName(runtimeName: string): boolean {
  return /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(runtimeName) && !RESTART_SUFFIX.test(runtimeName);
}

/**
 * The coxswain labels of a container (prefix io.coxswain.). Docker merges the image's labels into the
 * container's; keeping only ours makes list() return exactly the labels run() was given.
 */
function ownLabels(labels: Record<string, string> | null | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of Object.keys(labels ?? {}).sort()) {
    if (key.startsWith(LABEL_PREFIX)) out[key] = labels![key]!;
  }
  return out;
}

/** ObservedContainer from an inspect answer (exact timestamps and exit code). */
export function observedFromInspect(info: DockerContainerInspect): ObservedContainer {
  const state = toContainerState(info.State?.Status);
  const { runtimeName, restartCount } = splitRuntimeName(info.Name);
  const out: ObservedContainer = {
    id: info.Id,
    runtimeName,
    image: info.Config?.Image ?? "",
    labels: ownLabels(info.Config?.Labels),
    state,
    createdAt: parseDockerTime(info.Created) ?? 0,
    restartCount,
  };
  if ((state === "exited" || state === "dead") && typeof info.State?.ExitCode === "number") {
    out.exitCode = info.State.ExitCode;
  }
  const startedAt = parseDockerTime(info.State?.StartedAt);
  if (startedAt !== undefined) out.startedAt = startedAt;
  const finishedAt = parseDockerTime(info.State?.FinishedAt);
  // Docker stamps StartedAt when containerd's start call returns and FinishedAt from the exit event,
  // so a process that exits at once can "finish" before it "started" (seen: 7 ms, on a loaded machine).
  // An exited container's last run cannot end before it began; an exit stamped earlier would be taken
  // for an older run's and ignored (the container would look running). A running container's
  // FinishedAt is the previous run's and stays as it is.
  if (finishedAt !== undefined) {
    const exited = state === "exited" || state === "dead";
    out.finishedAt = exited && startedAt !== undefined ? Math.max(finishedAt, startedAt) : finishedAt;
  }
  return out;
}

/**
 * ObservedContainer from a list entry alone: state, exit code (from Status), creation time to the
 * second; no start/finish times (the list endpoint does not carry them).
 */
export function observedFromSummary(s: DockerContainerSummary): ObservedContainer {
  const state = toContainerState(s.State);
  const { runtimeName, restartCount } = splitRuntimeName(s.Names?.[0]);
  const out: ObservedContainer = {
    id: s.Id,
    runtimeName,
    image: s.Image ?? "",
    labels: ownLabels(s.Labels),
    state,
    createdAt: (s.Created ?? 0) * 1000,
    restartCount,
  };
  const exitCode = state === "exited" || state === "dead" ? exitCodeFromStatus(s.Status) : undefined;
  if (exitCode !== undefined) out.exitCode = exitCode;
  return out;
}

/** Orders observed containers by runtime name, then id, so every listing is deterministic. */
export function compareObserved(a: ObservedContainer, b: ObservedContainer): number {
  if (a.runtimeName !== b.runtimeName) return a.runtimeName < b.runtimeName ? -1 : 1;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** An image reference split the way POST /images/create wants it (fromImage + tag, where tag may be a digest). */
export function splitImageReference(image: string): { repository: string; tag: string } {
  const at = image.indexOf("@");
  if (at >= 0) return { repository: image.slice(0, at), tag: image.slice(at + 1) };
  const colon = image.lastIndexOf(":");
  // A colon before the last "/" belongs to a registry port ("localhost:5000/app"), not a tag.
  if (colon > image.lastIndexOf("/")) return { repository: image.slice(0, colon), tag: image.slice(colon + 1) };
  return { repository: image, tag: "latest" };
}

/** The fields of GET /networks/{id} coxswain reads. */
export interface DockerNetworkInspect {
  Id: string;
  Name?: string;
  Labels?: Record<string, string> | null;
  IPAM?: { Config?: Array<{ Subnet?: string; IPRange?: string; Gateway?: string }> | null };
  /** The containers attached, by id. */
  Containers?: Record<string, unknown> | null;
}

/**
 * A bridge network as coxswain uses it, from its inspect answer: its IPv4 subnet and gateway (the subnet's
 * first address when the engine names none) and its Service range, or why it has none (serviceRangeOf).
 */
export function bridgeNetworkOf(info: DockerNetworkInspect): BridgeNetwork {
  const name = info.Name ?? info.Id;
  const ipam = info.IPAM?.Config?.find((c) => c.Subnet?.includes(".") === true);
  if (ipam?.Subnet === undefined) return { name, subnet: "", gateway: "", problem: "it has no IPv4 subnet" };
  const first = parseIpv4(ipam.Subnet.split("/")[0]!);
  const gateway = ipam.Gateway !== undefined && ipam.Gateway !== "" ? ipam.Gateway.split("/")[0]! : first === undefined ? "" : formatIpv4(first + 1);
  const range = serviceRangeOf({ subnet: ipam.Subnet, ...(ipam.IPRange ? { ipRange: ipam.IPRange } : {}), ...(gateway ? { gateway } : {}) }, info.Labels?.[SERVICE_RANGE_LABEL]);
  return { name, subnet: ipam.Subnet, gateway, ...range };
}

/** How bridge-mode containers are wired. */
export interface BridgeOptions {
  /** Name of the user-defined bridge network containers join. */
  network: string;
  /** Host address published ports bind to; "" means every interface, like `docker run -p`. */
  publishIp: string;
}

/** The JSON body of POST /containers/create for a launch (the name goes in the query). */
export interface CreateContainerBody {
  Image: string;
  Env: string[];
  Labels: Record<string, string>;
  Entrypoint?: string[];
  Cmd?: string[];
  WorkingDir?: string;
  User?: string;
  ExposedPorts?: Record<string, Record<string, never>>;
  HostConfig: {
    NetworkMode: string;
    PortBindings?: Record<string, Array<{ HostIp: string; HostPort: string }>>;
    NanoCpus?: number;
    Memory?: number;
    RestartPolicy: { Name: "no" };
    /** Run the command under docker-init (signals forwarded, zombies reaped); absent with ContainerLaunch.noInit. */
    Init?: boolean;
    ExtraHosts?: string[];
    DnsSearch?: string[];
    DnsOptions?: string[];
    /** The launch's volumes (volumes.ts). */
    Mounts?: DockerMount[];
    /** hostPath volumes of type "" and DirectoryOrCreate: a missing path is made a directory (volumes.ts). */
    Binds?: string[];
    /** The container's log rotation (containerLogConfig), when the engine's driver keeps unbounded files. */
    LogConfig?: DockerLogConfig;
  } & DockerSecurityOptions["HostConfig"];
  /** A bridge container's aliases on its network (ContainerLaunch.aliases). */
  NetworkingConfig?: { EndpointsConfig: Record<string, { Aliases: string[] }> };
}

/** HostConfig.LogConfig of a container: its log driver and the driver's options. */
export interface DockerLogConfig {
  Type: string;
  Config: Record<string, string>;
}

/**
 * The kubelet's container log bounds (containerLogMaxSize 10Mi, containerLogMaxFiles 5): a container that
 * writes without end must not fill the engine's disk.
 */
const CONTAINER_LOG_BOUNDS = Object.freeze({ maxSize: "10m", maxFiles: 5 });

/**
 * The log rotation a container gets on an engine whose default log driver is `driver` (GET /info's
 * LoggingDriver). Only json-file, Docker's default, keeps files without bound: it gets the kubelet's bounds
 * (CONTAINER_LOG_BOUNDS). Any other driver is the engine owner's choice and is left as configured ("local"
 * rotates by itself; journald, syslog and the rest send logs elsewhere and take no size options).
 */
export function containerLogConfig(driver: string | undefined): DockerLogConfig | undefined {
  if (driver !== "json-file") return undefined;
  return { Type: "json-file", Config: { "max-file": String(CONTAINER_LOG_BOUNDS.maxFiles), "max-size": CONTAINER_LOG_BOUNDS.maxSize } };
}

/**
 * Builds the create body. Kubernetes semantics for command/args: command replaces the image's
 * ENTRYPOINT (and then the image's CMD is not used, as Docker does when an entrypoint is given), args
 * replace CMD. Env is sorted by name. Restart policy is "no": coxswain restarts containers itself, with
 * back-off, so the engine must not race it. Host network: ports are not published (the container
 * listens on its host port directly). Bridge: each hostPort is published to its containerPort. Service
 * names (launch.hosts) become ExtraHosts, in the order given; a bridge container's launch.dnsSearch its DnsSearch,
 * its launch.aliases its network aliases (given at create: Docker keeps them for the container's life).
 * launch.security becomes User and HostConfig fields (security.ts); `imageUser` is the image's Config.User,
 * needed only when security.ts needsImageUser says so. `mountpoints`: the launch's volumes' Mountpoints on the
 * engine's host by volume name, which its subPath mounts bind into (volumes.ts dockerMounts). `logConfig`:
 * the container's log rotation (containerLogConfig), absent to leave the engine's default.
 */
export function createContainerBody(launch: ContainerLaunch, bridge: BridgeOptions, imageUser?: string, mountpoints: ReadonlyMap<string, string> = new Map(), logConfig?: DockerLogConfig): CreateContainerBody {
  const body: CreateContainerBody = {
    Image: launch.image,
    Env: Object.keys(launch.env)
      .sort()
      .map((k) => `${k}=${launch.env[k]}`),
    Labels: { ...launch.labels },
    HostConfig: {
      NetworkMode: launch.network === "host" ? "host" : bridge.network,
      RestartPolicy: { Name: "no" },
      ...(launch.noInit ? {} : { Init: true }),
      ...(logConfig ? { LogConfig: logConfig } : {}),
    },
  };
  if (launch.command && launch.command.length > 0) body.Entrypoint = [...launch.command];
  if (launch.args && launch.args.length > 0) body.Cmd = [...launch.args];
  if (launch.workingDir) body.WorkingDir = launch.workingDir;
  if (launch.network === "bridge" && launch.ports.length > 0) {
    const exposed: Record<string, Record<string, never>> = {};
    const bindings: Record<string, Array<{ HostIp: string; HostPort: string }>> = {};
    const sorted = [...launch.ports].sort((a, b) => a.containerPort - b.containerPort || a.hostPort - b.hostPort);
    for (const p of sorted) {
      const key = `${p.containerPort}/${p.protocol.toLowerCase()}`;
      exposed[key] = {};
      (bindings[key] ??= []).push({ HostIp: bridge.publishIp, HostPort: String(p.hostPort) });
    }
    body.ExposedPorts = exposed;
    body.HostConfig.PortBindings = bindings;
  }
  // Service names (ContainerLaunch.hosts): Docker writes them into the container's own /etc/hosts.
  if (launch.mounts?.length) {
    const mounts = dockerMounts(launch, mountpoints);
    const binds = dockerBinds(launch);
    if (mounts.length > 0) body.HostConfig.Mounts = mounts;
    if (binds.length > 0) body.HostConfig.Binds = binds;
  }
  if (launch.hosts?.length) body.HostConfig.ExtraHosts = launch.hosts.flatMap((h) => h.names.map((n) => `${n}:${h.address}`));
  // On a user-defined network Docker's DNS answers the Service forwarders' aliases; the search path makes
  // short names work. Docker writes ndots:0 there unless told otherwise (every name tried as it is first,
  // each short name asked of the upstream servers): ndots:1, the resolver's own default, tries the search
  // path first for a name without a dot, and a name with one as it is.
  if (launch.network === "bridge" && launch.dnsSearch?.length) {
    body.HostConfig.DnsSearch = [...launch.dnsSearch];
    body.HostConfig.DnsOptions = ["ndots:1"];
  }
  // The pod's own names: the network's DNS answers them with this container's address, for every container
  // on the network, also those made after it (a hosts file could not name them).
  if (launch.network === "bridge" && launch.aliases?.length) {
    body.NetworkingConfig = { EndpointsConfig: { [bridge.network]: { Aliases: [...launch.aliases] } } };
  }
  if (launch.limits.cpuMillis !== undefined) body.HostConfig.NanoCpus = Math.round(launch.limits.cpuMillis * 1e6);
  if (launch.limits.memoryBytes !== undefined) body.HostConfig.Memory = Math.round(launch.limits.memoryBytes);
  if (launch.security) {
    const security = dockerSecurityOptions(launch.security, imageUser);
    if (security.User !== undefined) body.User = security.User;
    Object.assign(body.HostConfig, security.HostConfig);
  }
  return body;
}

/**
 * Splits a byte stream into text lines, whatever the chunk boundaries: the engine's JSON streams
 * (events, pull progress) are one object per line, and a chunk may end in the middle of an object or
 * of a UTF-8 character.
 */
export class LineSplitter {
  private readonly decoder = new StringDecoder("utf8");
  private rest = "";

  /** Feeds a chunk; returns the complete, non-empty lines it finished. */
  push(chunk: Buffer | string): string[] {
    this.rest += typeof chunk === "string" ? chunk : this.decoder.write(chunk);
    const parts = this.rest.split("\n");
    this.rest = parts.pop() ?? "";
    return parts.map((l) => l.replace(/\r$/, "")).filter((l) => l.trim().length > 0);
  }

  /** Whatever is left after the stream ended (a last line without newline), or undefined. */
  end(): string | undefined {
    const last = (this.rest + this.decoder.end()).trim();
    this.rest = "";
    return last.length > 0 ? last : undefined;
  }
}

/** One engine event as coxswain uses it. */
export interface EngineEvent {
  /** Object id (the container id for container events). */
  id: string;
  /** "create", "start", "die", "destroy", … */
  action: string;
  /** "container", "image", … */
  type: string;
  /** Nanoseconds since the epoch as the exact decimal digits the engine sent (too big for a double). */
  timeNano: string;
}

/**
 * Parses one line of GET /events. Reads Actor.ID and Action (present since API 1.22; the top-level
 * id/status were removed in API 1.52) with the old fields as fallback; takes timeNano from the raw text
 * so that its nanoseconds survive (JSON.parse would round them). Undefined for lines that are not events.
 */
export function parseEventLine(line: string): EngineEvent | undefined {
  let obj: unknown;
  try {
    obj = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (!obj || typeof obj !== "object") return undefined;
  const o = obj as { Actor?: { ID?: unknown }; id?: unknown; Action?: unknown; status?: unknown; Type?: unknown; time?: unknown };
  const id = typeof o.Actor?.ID === "string" && o.Actor.ID ? o.Actor.ID : typeof o.id === "string" ? o.id : undefined;
  const action = typeof o.Action === "string" && o.Action ? o.Action : typeof o.status === "string" ? o.status : undefined;
  if (!id || !action) return undefined;
  const m = /"timeNano"\s*:\s*(\d+)/.exec(line);
  const timeNano = m ? m[1]! : typeof o.time === "number" ? `${Math.trunc(o.time)}000000000` : "0";
  return { id, action, type: typeof o.Type === "string" ? o.Type : "", timeNano };
}

/** The `since` query value for resuming after an event: "seconds.nanoseconds", exact. */
export function sinceFromTimeNano(timeNano: string): string {
  const digits = timeNano.replace(/^0+/, "").padStart(10, "0");
  return `${digits.slice(0, -9)}.${digits.slice(-9)}`;
}

/**
 * Docker's `since` ("<seconds>.<nanoseconds>", exact) for an engine timestamp in RFC 3339 with up to
 * nanoseconds (GET /info SystemTime, a log line's timestamp), moved on by `plusNanos` (1: just after a log
 * line, which a `since` of its own time would include); undefined for anything else.
 */
export function sinceOfTimestamp(rfc3339: string, plusNanos = 0): string | undefined {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/.exec(rfc3339.trim());
  const ms = m ? Date.parse(`${m[1]}${m[3]}`) : Number.NaN;
  if (!m || !Number.isFinite(ms) || ms < 0) return undefined;
  const nanos = BigInt(ms / 1000) * 1_000_000_000n + BigInt((m[2] ?? "").slice(0, 9).padEnd(9, "0")) + BigInt(plusNanos);
  return sinceFromTimeNano(nanos.toString());
}

/** The fields of GET /exec/{id}/json coxswain reads. */
export interface DockerExecInspect {
  ID?: string;
  Running?: boolean;
  /** null while running (and on some engines right after the stream ended). */
  ExitCode?: number | null;
  /** Pid of the exec'd process in the engine host's pid namespace; 0 when it is not running. */
  Pid?: number;
  ContainerID?: string;
}

/**
 * Reads the multiplexed stream of a non-TTY exec (or logs): frames of an 8-byte header — stream type
 * (0 stdin, 1 stdout, 2 stderr), three zero bytes, a big-endian 32-bit length — and the payload, split
 * anywhere by the transport. stdout and stderr payloads are kept interleaved in arrival order, up to a
 * byte limit (the rest is read and dropped, so the engine never blocks on us).
 */
export class ExecOutputDemuxer {
  private pending: Buffer = Buffer.alloc(0);
  private readonly kept: Buffer[] = [];
  private size = 0;

  constructor(private readonly limit: number = MAX_EXEC_OUTPUT_BYTES) {}

  /**
   * Feeds one chunk of the stream. Returns the stdout and stderr payloads of the frames this chunk
   * completed, in order and whole (not cut at the limit), for readers of a stream that never ends (a
   * followed log); the limit applies only to what text() keeps.
   */
  push(chunk: Buffer): Buffer[] {
    const payloads: Buffer[] = [];
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    for (;;) {
      if (this.pending.length < 8) return payloads;
      const length = this.pending.readUInt32BE(4);
      if (this.pending.length < 8 + length) return payloads;
      const type = this.pending[0];
      if (type === 1 || type === 2) {
        const payload = this.pending.subarray(8, 8 + length);
        payloads.push(payload);
        this.keep(payload);
      }
      this.pending = this.pending.subarray(8 + length);
    }
  }

  /** The output so far as UTF-8; a character cut at the limit is dropped. */
  text(): string {
    const text = Buffer.concat(this.kept).toString("utf8");
    return this.size >= this.limit ? text.replace(/\uFFFD$/, "") : text;
  }

  private keep(payload: Buffer): void {
    const room = this.limit - this.size;
    if (room <= 0) return;
    const part = payload.length <= room ? payload : payload.subarray(0, room);
    this.kept.push(Buffer.from(part)); // a copy: `pending` is re-sliced and may be released
    this.size += part.length;
  }
}
