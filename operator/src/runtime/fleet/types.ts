/**
 * The fleet's picture of nodes and pods (runtime/fleet.ts): what a node is configured as, a pod and a node as
 * observed, and the fleet's own record of each node (NodeEntry) that the fleet's parts share.
 */
import type { CoxError } from "../../api/errors.js";
import type { Resources } from "../../scheduler/types.js";
import type { ClaimVolume, LaunchPort, NodeInfo, NodeRuntime, ObservedContainer } from "../types.js";

/** How a node is configured: from a Node object in the repository, or the default local node. */
export interface NodeConfig {
  name: string;
  /** "unix:///path/docker.sock", or "process://local" for the process runtime. */
  endpoint: string;
  network: "host" | "bridge";
  /** Address clients and probes use to reach the node's ports. */
  address: string;
  portRange: { from: number; to: number };
  /** Where the node's proxy gives each Service an address (IPv4 CIDR in 127.0.0.0/8; default 127.77.0.0/16). */
  serviceNetwork?: string;
  /** Image of the node's HAProxy on Docker nodes (default haproxy:2.6). */
  proxyImage?: string;
  unschedulable: boolean;
  labels: Record<string, string>;
  /** Node taints (Kubernetes' shape). */
  taints?: { key: string; value?: string; effect: "NoSchedule" | "PreferNoSchedule" | "NoExecute" }[];
  /** Override of what the engine reports (Node spec.capacity), and the extended resources the node offers. */
  capacity?: { cpuMillis?: number; memoryBytes?: number; pods?: number; extended?: Record<string, number> };
  /** Kept back from capacity for the engine and the host (Node spec.reserved). */
  reserved?: { cpuMillis: number; memoryBytes: number };
  /** Client credentials for tcp:// endpoints (from the Node's TLS Secret). */
  tls?: { ca: string; cert?: string; key?: string };
  /** Move the pods off this node (implies cordon). */
  drain?: boolean;
}

/** How often the fleet lists every node by default (FleetOptions.pollMs): its heartbeat. */
export const DEFAULT_FLEET_POLL_MS = 2000;

/** Makes the runtime of a node; swapped for the fake runtime in tests and benchmarks. */
export type RuntimeFactory = (node: NodeConfig) => NodeRuntime;

/**
 * Phase of an observed pod, in Kubernetes' words. Succeeded and Failed only for a pod whose restartPolicy is
 * not Always (a Job's): all its containers exited 0, or one failed and the policy will not restart it.
 */
export type PodPhase = "Pending" | "Running" | "Succeeded" | "Failed" | "Terminating";

/** A pod as observed: the containers sharing one pod label on one node. */
export interface ObservedPod {
  name: string;
  node: string;
  /** Owner key, e.g. "Deployment/default/web". */
  owner: string;
  namespace: string;
  workload: string;
  /** The pod template's labels (what Services and PodDisruptionBudgets select). */
  labels: Record<string, string>;
  revision: string;
  commit: string;
  phase: PodPhase;
  containers: ObservedContainer[];
  ports: LaunchPort[];
  /** Sum of the containers' real requests (0 when unset). */
  requests: Resources;
  /** Requests for scoring: 100m / 200Mi for each container that sets none. */
  requestsForScoring: Resources;
  /** Earliest container creation, epoch ms. */
  createdAt: number;
  ready: boolean;
  /** Epoch ms since when the pod has been ready continuously. */
  readySince?: number;
  /** Restarts in place of its containers (by coxswain's kubelet); of its init containers while it initializes (kubectl's RESTARTS). */
  restartCount: number;
  /** A container waits in crash-loop back-off. */
  crashLooping: boolean;
  /** First time this process saw the pod ready (pod start deadline). */
  firstReadyAt?: number;
  /** Kubernetes-style reason when not ready ("CrashLoopBackOff", "Starting", "NotReady", …). */
  reason?: string;
  /** Last probe failure or exit, for status. */
  message?: string;
}

/** A node as observed. */
export interface ObservedNode {
  config: NodeConfig;
  info?: NodeInfo;
  /** Listing succeeded the last time it was tried (pods can be placed on it now). */
  ready: boolean;
  /**
   * Kubernetes-style node condition: "Ready" while it answers or has not been silent longer than the
   * grace period, then "NotReady". After the eviction timeout on top, its pods count as lost (`evicted`).
   */
  condition: "Ready" | "NotReady";
  evicted: boolean;
  /**
   * Removed from Git and draining until the pods a drain moves are off it (setNodes' `leaving`); its config
   * has `drain: true` meanwhile.
   */
  leaving: boolean;
  /** Epoch ms of the last successful listing. */
  lastSeenAt?: number;
  error?: CoxError;
  pods: number;
}

/** The fleet's record of one node. */
export interface NodeEntry {
  config: NodeConfig;
  runtime: NodeRuntime;
  info?: NodeInfo;
  ready: boolean;
  /** Left the fleet: late listings are dropped. */
  removed: boolean;
  /** Removed from Git, draining before it leaves (see ObservedNode.leaving). */
  leaving: boolean;
  /** Epoch ms of the last successful listing (or of joining, before the first one). */
  lastSeenAt: number;
  /** Epoch ms when the listing under way began (undefined between listings): how long the node has not answered it. */
  askedAt?: number;
  condition: "Ready" | "NotReady";
  /** NotReady past the eviction timeout: its pods are left out of pods() so that they are replaced. */
  evicted: boolean;
  /** Pods the node held when it was evicted: removed when it answers again (they were replaced). */
  evictedPods: Set<string>;
  /** Listed successfully at least once since it joined: until then its pods are unknown. */
  listedOnce: boolean;
  /** Images present on the node (repo:tag), refreshed with every listing (ImageLocality). */
  images: string[];
  /** The claims whose storage is on the node (NodeRuntime.claims), as last listed; kept while it is NotReady. */
  claims: ClaimVolume[];
  error?: CoxError;
  containers: ObservedContainer[];
  /** Pods by name, rebuilt on every list and write-through. */
  pods: Map<string, ObservedPod>;
  /** The containers `pods` was built from: a listing that gives the same objects again changes no pod. */
  podsFrom: readonly ObservedContainer[];
  unwatch?: () => void;
  /** The listings under way (listLoop), while they run. */
  listing?: Promise<void>;
  /**
   * Containers this process created and removed on the node since the listing under way began: that
   * listing may not show the one and still show the other (a slow engine reads its containers before it
   * answers). Taken as listed, a new pod would vanish from the cache until the next listing, its host port
   * free for another pod, and a removed pod would come back as a pod of its workload, one too many.
   */
  writtenDuringListing?: { created: Set<string>; removed: Set<string> };
  /** Asked for since the listing under way began: one more listing, and its waiters. */
  nextListing?: { promise: Promise<void>; done: () => void };
  debounce?: NodeJS.Timeout;
}

/** A placement recorded before its pod exists (Fleet.reserve). */
export interface Reservation {
  pod: string;
  node: string;
  owner: string;
  requests: Resources;
  requestsForScoring: Resources;
  ports: number[];
}
