/**
 * The NodeRuntime interface: the only way coxswain touches a node. Docker engines (runtime/docker),
 * local processes (runtime/process) and the in-memory fake (runtime/fake) implement it.
 *
 * A runtime knows containers, not pods or deployments: a pod is the set of containers sharing the
 * `io.coxswain.pod` label, and everything coxswain must remember about a container is in its labels
 * (runtime/labels.ts), so that observed state can be rebuilt from any runtime after a restart.
 */

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
  workingDir?: string;
  /** "host": container shares the node's network and must listen on hostPort; "bridge": hostPort → containerPort. */
  network: "host" | "bridge";
  ports: LaunchPort[];
  /** Limits enforced by the runtime when it can (Docker: NanoCpus, Memory); undefined = none. */
  limits: { cpuMillis?: number; memoryBytes?: number };
  /** Labels from runtime/labels.ts; the runtime stores them verbatim and returns them from list(). */
  labels: Record<string, string>;
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
  /** Epoch milliseconds of the last exit, when it ever exited. */
  finishedAt?: number;
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
  /** Makes sure the image is present (pulling when the runtime can), creates the container and starts it. */
  run(launch: ContainerLaunch): Promise<ObservedContainer>;
  /** Starts an existing stopped container again (restart in place). */
  start(id: string): Promise<void>;
  /** SIGTERM, then SIGKILL after graceSeconds; resolves when the container no longer runs. No-op if stopped. */
  stop(id: string, graceSeconds: number): Promise<void>;
  /** Removes a stopped container (force-kills it if it still runs). No-op when it does not exist. */
  remove(id: string): Promise<void>;
  /** Images present on the node (repo:tag), for image locality and fast rollback. */
  images(): Promise<string[]>;
  /** Subscribes to changes; returns an unsubscribe function. Runtimes without events may never call it. */
  watch(listener: RuntimeChangeListener): () => void;
  /** Releases connections and timers. Never stops containers. */
  close(): Promise<void>;
}
