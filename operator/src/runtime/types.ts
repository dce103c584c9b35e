/**
 * The NodeRuntime interface: the only way coxswain touches a node. Docker engines (runtime/docker),
 * local processes (runtime/process) and the in-memory fake (runtime/fake) implement it.
 *
 * A runtime knows containers, not pods or deployments: a pod is the set of containers sharing the
 * `io.coxswain.pod` label, and everything coxswain must remember about a container is in its labels
 * (runtime/labels.ts), so that observed state can be rebuilt from any runtime after a restart.
 */

import type { BridgeNetwork } from "../traffic/bridge.js";
import type { LogTail } from "./log-tail.js";
import type { PullSpec } from "./pull.js";

/** What a node offers, read from the engine when connecting. */
export interface NodeInfo {
  /** CPU capacity in millicores (engine's NCPU × 1000). */
  cpuMillis: number;
  /** Memory capacity in bytes. */
  memoryBytes: number;
  /** Engine description for status and logs, e.g. "docker 20.10.24 (API 1.41)". */
  engine: string;
  /** Operating system / architecture, e.g. "linux/amd64". */
  platform: string;
}

/** One port of a container as launched: the declared container port and the host port coxswain assigned. */
export interface LaunchPort {
  /** Port name from the manifest (lower-case), if any. */
  name?: string;
  /** The containerPort declared in the manifest. */
  containerPort: number;
  /** The port on the node clients use; assigned from the node's portRange. */
  hostPort: number;
  protocol: "TCP" | "UDP";
}

/** A file of a configMap or secret volume, as a runtime writes it. */
export interface LaunchFile {
  /** Relative to the volume's root, "/"-separated, without "." or ".." elements (checked when the manifest was read). */
  path: string;
  /** Permission bits, 0 to 0o777. */
  mode: number;
  /** The content, base64-encoded (a Secret's bytes or a ConfigMap value's UTF-8). Never logged or written to Git. */
  data: string;
}

/** A volume of the pod, as a container that mounts it needs it (controllers/workload/volumes.ts plans them). */
export interface LaunchVolume {
  /** The volume's name, unique in the pod. */
  name: string;
  /**
   * "files": a configMap or secret volume, its content fixed at launch and always mounted read-only (as in
   * Kubernetes); "emptyDir": starts empty, shared by the pod's containers, removed with the pod's last one;
   * "claim": a PersistentVolumeClaim's storage on the node, made with its first pod and kept after the last
   * (removed only by the claim controller); "hostPath": a path of the node.
   */
  type: "files" | "emptyDir" | "claim" | "hostPath";
  /** type "files": the files, sorted by path. */
  files?: LaunchFile[];
  /** emptyDir medium Memory: a tmpfs, `sizeBytes` big when sizeLimit was given. */
  memory?: { sizeBytes?: number };
  /** type "claim": the claim ("namespace/name"); readOnly: every mount of it is read-only (the volume source's readOnly). */
  claim?: { name: string; readOnly: boolean };
  /**
   * type "hostPath": the node's absolute path and Kubernetes' type: "" (no check), DirectoryOrCreate (made when
   * missing), Directory or File (must exist). Other types were refused when the manifest was read.
   */
  hostPath?: { path: string; type: HostPathType };
}

/** The hostPath types coxswain mounts (manifest/pod.ts refuses FileOrCreate, Socket, CharDevice and BlockDevice). */
export type HostPathType = "" | "DirectoryOrCreate" | "Directory" | "File";

/** A claim's storage found on a node (NodeRuntime.claims). */
export interface ClaimVolume {
  /** The claim, "namespace/name". */
  claim: string;
  /** Where the data is: the Docker volume's name, or the directory (process runtime). */
  volume: string;
}

/** Where a container sees one of its pod's volumes (a volumeMount). */
export interface LaunchMount {
  /** A LaunchVolume's name. */
  volume: string;
  /** Absolute path in the container. */
  mountPath: string;
  readOnly: boolean;
  /** A path inside the volume mounted instead of its root (relative, no ".." elements). */
  subPath?: string;
}

/** Everything a runtime needs to create one container. Fully resolved: no defaults left to apply. */
export interface ContainerLaunch {
  /** Unique, deterministic runtime name, e.g. "cx_default_web-5d8f7c9b6-x2k4q_app". */
  runtimeName: string;
  image: string;
  /** Entrypoint override with $(VAR) already expanded; undefined keeps the image's entrypoint. */
  command?: string[];
  /** Arguments with $(VAR) already expanded. */
  args?: string[];
  /** Final environment, including PORT and PORT_<NAME>. */
  env: Record<string, string>;
  /**
   * The names in env whose values come from Secrets, sorted: kept out of error messages whatever their
   * length (runtime/env.ts), where other values are only from MIN_REDACTED_LENGTH characters on.
   */
  secretEnv?: string[];
  workingDir?: string;
  /** "host": container shares the node's network and must listen on hostPort; "bridge": hostPort → containerPort. */
  network: "host" | "bridge";
  ports: LaunchPort[];
  /** Limits enforced by the runtime when it can (Docker: NanoCpus, Memory); undefined = none. */
  limits: { cpuMillis?: number; memoryBytes?: number };
  /** Labels from runtime/labels.ts; the runtime stores them verbatim and returns them from list(). */
  labels: Record<string, string>;
  /**
   * Extra /etc/hosts lines (Service names → their addresses on the node), sorted by address. Docker adds them
   * to the container's hosts file; the process runtime cannot give a process a hosts file of its own and
   * ignores them (its programs find Services through the environment).
   */
  hosts?: { address: string; names: string[] }[];
  /**
   * Bridge network: the DNS search path of the container (Kubernetes' `<ns>.svc.cluster.local svc.cluster.local
   * cluster.local`), so that its short Service names resolve through the network's DNS (traffic/bridge.ts).
   */
  dnsSearch?: string[];
  /**
   * Bridge network: names of the pod itself (a StatefulSet pod's `<pod>.<serviceName>.<ns>.svc.cluster.local`
   * and shorter, traffic/pod-names.ts), sorted. Docker gives them to the container as network aliases, which
   * the network's DNS answers for every container on it; other runtimes and host networking ignore them.
   */
  aliases?: string[];
  /** The pod's and container's securityContext merged; absent when it asks for nothing (the runtime's defaults). */
  security?: LaunchSecurity;
  /**
   * The command is PID 1 itself (coxswain.io/init: "false"); absent: a runtime with an init process for
   * containers (Docker's docker-init) runs the command under it, so that signals reach it. Processes of the
   * process runtime get signals directly either way.
   */
  noInit?: true;
  /**
   * imagePullPolicy and the registry credentials of the pod's imagePullSecrets (runtime/pull.ts); absent:
   * IfNotPresent without credentials. Holds secrets: not in the labels nor the spec hash, never logged.
   * Runtimes without images (process) ignore it.
   */
  pull?: PullSpec;
  /** The pod's volumes this container mounts, in the pod's order; absent when it mounts none. */
  volumes?: LaunchVolume[];
  /** The container's volumeMounts, in declaration order; absent when it has none. */
  mounts?: LaunchMount[];
  /**
   * Create the container without starting it (state "created"): it waits for the pod's init containers
   * before it, and the kubelet starts it (NodeRuntime.start, which counts no restart for a first start).
   */
  startLater?: true;
}

/**
 * A container's securityContext as a runtime applies it: the container's fields over the pod's (as in
 * Kubernetes), capability names bare and upper-case (api/capabilities.ts), sorted. A field is present only
 * when it asks for something beyond the runtime's defaults; a runtime that cannot meet one refuses the
 * launch with SecurityContextUnmet, never runs the container without it.
 */
export interface LaunchSecurity {
  runAsUser?: number;
  runAsGroup?: number;
  /** Refuse to run as uid 0 (runAsUser, or the image's user when runAsUser is absent). */
  runAsNonRoot?: true;
  /** Extra gids of the container's processes, sorted. */
  supplementalGroups?: number[];
  readOnlyRootFilesystem?: true;
  /** allowPrivilegeEscalation: false (no-new-privileges). */
  noNewPrivileges?: true;
  privileged?: true;
  capAdd?: string[];
  capDrop?: string[];
  /** seccompProfile.type; RuntimeDefault is kept so that a runtime without seccomp can refuse it. */
  seccomp?: "RuntimeDefault" | "Unconfined";
  /** The pod's hostPID and hostIPC: share the node's process / IPC namespace. */
  hostPID?: true;
  hostIPC?: true;
}

/** Lifecycle state of a container as the runtime reports it. */
export type ContainerState = "created" | "running" | "restarting" | "paused" | "exited" | "dead" | "removing";

/** A container as observed on a node. */
export interface ObservedContainer {
  /** Runtime id (Docker container id, or the process runtime's own id). */
  id: string;
  runtimeName: string;
  image: string;
  labels: Record<string, string>;
  state: ContainerState;
  /** Exit code when state is exited/dead. */
  exitCode?: number;
  /** Epoch milliseconds. */
  createdAt: number;
  /** Epoch milliseconds of the last start, when it ever started. */
  startedAt?: number;
  /** Epoch milliseconds of the last exit, when it ever exited; not before startedAt while the container is exited. */
  finishedAt?: number;
  /**
   * How often coxswain restarted this container in place (start() of a container that had run before),
   * since it was created. Kept by the runtime itself, so it survives an operator restart: the process
   * runtime in its record, Docker in the container's name ("<runtimeName>.<n>", see runtime/docker),
   * the fake in memory. Restarts by anyone else (`docker start`, an engine restart policy) are not counted.
   */
  restartCount: number;
}

/** The result of running a command inside a container (NodeRuntime.exec). */
export interface ExecResult {
  /** The command's exit code; -1 when it did not finish (timedOut). 0 is success, as for an exec probe. */
  exitCode: number;
  /**
   * stdout and stderr interleaved as they arrived, at most MAX_EXEC_OUTPUT_BYTES (the rest is dropped, as
   * the kubelet does for exec probes), decoded as UTF-8.
   */
  output: string;
  /** Present (true) when the command was still running at the deadline; it was killed where the runtime can (see each runtime). */
  timedOut?: true;
}

/** At most this much output of an exec is kept (Kubernetes keeps 10 KiB of an exec probe's output). */
export const MAX_EXEC_OUTPUT_BYTES = 10 * 1024;

/**
 * Signals NodeRuntime.kill can send. Limited to those the process runtime's wrapper shell survives
 * (HUP, INT, QUIT, TERM) plus KILL, so that a signal never kills the wrapper and orphans the program.
 */
export type KillSignal = "SIGTERM" | "SIGKILL" | "SIGINT" | "SIGQUIT" | "SIGHUP";

/** Client credentials and trust for a Docker engine over TCP with TLS; PEM text, as read from a Secret. */
export interface TlsCredentials {
  /** CA certificate(s) the engine's server certificate must chain to (PEM; a bundle is fine). */
  ca: string;
  /** Client certificate (PEM), for engines started with --tlsverify. Give cert and key together, or neither. */
  cert?: string;
  /** Private key of the client certificate (PEM, PKCS#8, PKCS#1 or SEC1). */
  key?: string;
}

/** A container's resource use at one moment (NodeRuntime.usage), what an autoscaler measures. */
export interface ContainerUsage {
  /** CPU time the container's processes used since it started, in nanoseconds: cumulative, so a rate needs two readings. */
  cpuNanos: number;
  /** Its working set in bytes: memory in use less the inactive file cache, as the kubelet's metrics count it. */
  memoryBytes: number;
  /** Epoch ms of the reading. */
  at: number;
}

/** Something changed on the node (a container started, died, was removed); callers re-list. */
export type RuntimeChangeListener = (containerId: string | undefined) => void;

/**
 * One node's runtime. Every method may throw a CoxError (NodeUnreachable, ImagePullFailed,
 * CommandNotFound, RuntimeCallFailed, …); none retries by itself beyond what the method says.
 */
export interface NodeRuntime {
  /** "docker" | "process" | "fake". */
  readonly type: string;
  /** Connects (negotiating the API version where there is one) and reports capacity. Idempotent. */
  connect(): Promise<NodeInfo>;
  /** Every container on the node that carries the owner label of this operator instance. */
  list(): Promise<ObservedContainer[]>;
  /**
   * Makes sure the image is present (pulling when the runtime can), creates the container and starts it
   * (unless launch.startLater).
   * Env values never appear in what it throws (InvalidField for one no environment can hold; see env.ts).
   */
  run(launch: ContainerLaunch): Promise<ObservedContainer>;
  /**
   * Starts an existing stopped container again (restart in place). When the container had run before,
   * its restartCount goes up by one. No-op when it runs.
   */
  start(id: string): Promise<void>;
  /**
   * SIGTERM (Docker: the image's STOPSIGNAL), then SIGKILL after graceSeconds (at once when 0); resolves
   * when the container no longer runs, with the exit recorded as it happened: the program's own code when
   * it exits on SIGTERM by itself, 143 (128+15) when SIGTERM killed it, 137 (128+9) after SIGKILL.
   * No-op if stopped.
   */
  stop(id: string, graceSeconds: number): Promise<void>;
  /**
   * Sends one signal to the container's processes and returns at once, without waiting for an exit (for
   * a caller that runs the grace period itself). No-op when the container does not run; RuntimeCallFailed
   * for an unknown container.
   */
  kill(id: string, signal: KillSignal): Promise<void>;
  /**
   * Runs `command` (argv, no shell) inside the running container, in its working directory and
   * environment, and resolves with its exit code and output. Never hangs: at `timeoutMs` it resolves with
   * `timedOut` (exitCode -1) and kills the command where the runtime can. A command that cannot be found
   * is a result (exit code 126/127), not an error. Throws RuntimeCallFailed when the container does not
   * exist or does not run, NodeUnreachable when the node does not answer.
   */
  exec(id: string, command: readonly string[], timeoutMs: number): Promise<ExecResult>;
  /**
   * The end of the container's output, stdout and stderr interleaved, over its runs so far (runtime/log-tail.ts
   * bounds it). RuntimeCallFailed for an unknown container. May hold anything the program printed: callers that
   * write it anywhere say whose output it is.
   */
  logs?(id: string, tail: LogTail): Promise<string>;
  /** Removes a stopped container (force-kills it if it still runs). No-op when it does not exist. */
  remove(id: string): Promise<void>;
  /** Images present on the node (repo:tag), for image locality and fast rollback. */
  images(): Promise<string[]>;
  /** Subscribes to changes; returns an unsubscribe function. Runtimes without events may never call it. */
  watch(listener: RuntimeChangeListener): () => void;
  /**
   * The network bridge-mode containers join, created when missing, with where its Service forwarders get
   * their addresses (traffic/bridge.ts). Only runtimes with bridge networks (Docker) have it.
   */
  bridgeNetwork?(): Promise<BridgeNetwork>;
  /**
   * The claims whose storage is on this node (made by this runtime's owner), sorted by claim: the durable
   * record of which node a claim is bound to. Runtimes without claims (the fake) leave it out.
   */
  claims?(): Promise<ClaimVolume[]>;
  /**
   * The container's resource use now; undefined when it does not run. Runtimes that cannot measure (the
   * fake, unless a test sets usage) leave it out or answer undefined.
   */
  usage?(id: string): Promise<ContainerUsage | undefined>;
  /** Removes a claim's storage and its data; RuntimeCallFailed while a container still uses it. Missing is fine. */
  removeClaim?(claim: string): Promise<void>;
  /** Releases connections and timers. Never stops containers. */
  close(): Promise<void>;
}
