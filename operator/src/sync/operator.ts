/**
 * Assembles one operator: repository → branch sync → work queue → controllers → fleet → status writer.
 * `coxswain run` is a thin shell around startOperator(); tests start it in-process too.
 */
import { isIP } from "node:net";
import { CoxError } from "../api/errors.js";
import { WorkloadController } from "../controllers/workload/controller.js";
import { NodeController, NODES_KEY } from "../controllers/node/controller.js";
import { Manager } from "../engine/manager.js";
import { DockerRuntime } from "../runtime/docker/index.js";
import { Fleet, type NodeConfig, type RuntimeFactory } from "../runtime/fleet.js";
import { DEFAULT_OWNER } from "../runtime/labels.js";
import { ProcessRuntime } from "../runtime/process/index.js";
import { openRepository } from "../source/index.js";
import { StatusStore } from "../status/store.js";
import { StatusWriter } from "../status/writer.js";
import { BranchSync, SOURCE_KEY } from "./branch-sync.js";

/** Which runtime the default local node uses when the repository declares no Node objects. */
export type DefaultRuntime = "auto" | "docker" | "process";

/** Options of one operator. */
export interface OperatorOptions {
  /** A path to a repository on disk, or an http(s) URL. */
  repo: string;
  branch?: string;
  /** Directory of the manifests inside the repository ("" = root). */
  path?: string;
  /** Where mirrors and the process runtime's state live. */
  stateDir: string;
  /** io.coxswain.owner label value; two operators on one engine need different instances. */
  instance?: string;
  runtime?: DefaultRuntime;
  /** Host ports of the default local node (default 30000-32767). */
  defaultPortRange?: { from: number; to: number };
  /** Poll interval of the repository (the local watch fires sooner). */
  pollMs?: number;
  /** Re-list interval of the nodes. */
  fleetPollMs?: number;
  statusBranch?: string;
  notesRef?: string;
  /** Coalescing window of status writes. */
  statusDebounceMs?: number;
  /** Git network timeout. */
  gitTimeoutMs?: number;
  /** Progress lines (the CLI prints them with a timestamp). */
  log?: (line: string) => void;
  /** Replaces the runtimes (tests and benchmarks use the fake runtime). */
  runtimeFactory?: RuntimeFactory;
  /** Scheduler seed (tests). */
  seed?: number;
}

/** A running operator. */
export interface RunningOperator {
  readonly sync: BranchSync;
  readonly fleet: Fleet;
  readonly store: StatusStore;
  /** The default local node's runtime type ("docker" or "process"). */
  readonly defaultRuntime: string;
  /** Writes pending status now (tests). */
  flushStatus(): Promise<void>;
  /** Stops watching, lets reconciles in flight finish, writes status a last time. Containers keep running. */
  stop(): Promise<void>;
}

/** The local Docker socket coxswain tries for the default node: DOCKER_HOST when it is unix://, else the standard path. */
export function localDockerEndpoint(): string {
  const env = process.env.DOCKER_HOST;
  return env && env.startsWith("unix://") ? env : "unix:///var/run/docker.sock";
}

/** Decides the default node: Docker when an engine answers (or is demanded), else the process runtime. */
export async function resolveDefaultNode(
  runtime: DefaultRuntime,
  instance: string,
  portRange: { from: number; to: number } = { from: 30000, to: 32767 },
): Promise<NodeConfig> {
  const base = { name: "local", network: "host" as const, address: "127.0.0.1", portRange, unschedulable: false, labels: { "kubernetes.io/hostname": "local" } };
  if (runtime === "process") return { ...base, endpoint: "process://local" };
  const endpoint = localDockerEndpoint();
  if (runtime === "docker") return { ...base, endpoint };
  const probe = new DockerRuntime({ endpoint, owner: instance, callTimeoutMs: 2_000 });
  try {
    await probe.connect();
    return { ...base, endpoint };
  } catch {
    return { ...base, endpoint: "process://local" };
  } finally {
    await probe.close().catch(() => undefined);
  }
}

/** The runtime factory of real nodes: unix:// and tcp:// (TLS) → Docker, process:// → local processes. */
export function realRuntimeFactory(stateDir: string, instance: string): RuntimeFactory {
  return (node) => {
    if (node.endpoint.startsWith("unix://") || node.endpoint.startsWith("tcp://")) {
      // Bridge mode publishes host ports on the node's address when it is an IP (all interfaces otherwise).
      // tcp:// always carries TLS client credentials from the Node's Secret (the manifest stage insists).
      return new DockerRuntime({
        endpoint: node.endpoint,
        owner: instance,
        nodeName: node.name,
        publishIp: isIP(node.address) ? node.address : "",
        ...(node.tls ? { tls: node.tls } : {}),
      });
    }
    if (node.endpoint.startsWith("process://")) return new ProcessRuntime({ stateDir, owner: instance });
    throw new CoxError("InvalidField", `node ${node.name}: unsupported endpoint ${node.endpoint}`);
  };
}

/** Starts an operator and returns once the first reconciles are queued. */
export async function startOperator(opts: OperatorOptions): Promise<RunningOperator> {
  const log = opts.log ?? (() => undefined);
  const instance = opts.instance ?? DEFAULT_OWNER;
  const branch = opts.branch ?? "main";
  const repoPath = normalizePath(opts.path ?? "");
  const repo = await openRepository({ repo: opts.repo, stateDir: opts.stateDir, ...(opts.gitTimeoutMs ? { timeoutMs: opts.gitTimeoutMs } : {}) });
  if (repo.remote) await repo.refresh();

  const store = new StatusStore();
  const writer = new StatusWriter({
    writer: repo.writer,
    store,
    branch: opts.statusBranch ?? "coxswain/status",
    notesRef: opts.notesRef ?? "refs/notes/coxswain",
    remote: repo.remote,
    debounceMs: opts.statusDebounceMs ?? 500,
    onError: (err) => log(`status: ${err.code}: ${err.message}`),
  });
  await writer.load();

  const defaultNode = await resolveDefaultNode(opts.runtime ?? "auto", instance, opts.defaultPortRange);
  const defaultRuntime = defaultNode.endpoint.startsWith("process://") ? "process" : "docker";
  let manager: Manager | undefined;
  let sync: BranchSync | undefined;
  const fleet = new Fleet({
    runtimeFactory: opts.runtimeFactory ?? realRuntimeFactory(opts.stateDir, instance),
    ...(opts.fleetPollMs ? { pollMs: opts.fleetPollMs } : {}),
    log,
    onChange: ({ owners, nodes }) => {
      for (const o of owners) manager?.enqueue(o);
      if (nodes.length > 0) {
        sync?.enqueueAll();
        sync?.writeSummary();
      }
    },
  });
  manager = new Manager({
    concurrency: 4,
    onError: (key, err) => log(`${key}: ${err.code}: ${err.message}${err.retry === "stalled" ? " (needs a fix; not retried)" : ""}`),
  });
  let nodes: NodeController | undefined;
  sync = new BranchSync({
    applyNodes: () => nodes!.reconcile(NODES_KEY),
    repo,
    branch,
    path: repoPath,
    manager,
    fleet,
    store,
    scheduleStatusWrite: () => writer.schedule(),
    progress: log,
  });
  const workloads = new WorkloadController({
    desired: sync,
    fleet,
    reporter: sync,
    instance,
    ...(opts.seed !== undefined ? { seed: opts.seed } : {}),
  });
  nodes = new NodeController({ desired: sync, fleet, defaultNode, progress: log });
  manager.register("Deployment", workloads);
  manager.register("Rollout", workloads);
  manager.register("Node", nodes);
  manager.register(SOURCE_KEY, sync);

  await sync.restore();
  // The fleet first: observed state must be known before any Deployment decides anything.
  await nodes.reconcile(NODES_KEY);
  manager.start();
  fleet.start();
  manager.enqueue(SOURCE_KEY);
  sync.enqueueAll();
  const stopWatch = repo.watch(() => manager!.enqueue(SOURCE_KEY), {
    pollMs: opts.pollMs ?? 5_000,
    onError: (err: CoxError) => log(`source: ${err.code}: ${err.message}`),
  });
  log(`following ${repo.location} branch ${branch}${repoPath ? ` path ${repoPath}` : ""}; default node runtime: ${defaultRuntime}`);

  return {
    sync,
    fleet,
    store,
    defaultRuntime,
    flushStatus: () => writer.flush(),
    async stop() {
      await stopWatch();
      await manager!.stop();
      await writer.close();
      await fleet.close();
      await repo.close();
    },
  };
}

function normalizePath(p: string): string {
  const s = p.replace(/\\/g, "/").replace(/^\.\/?/, "").replace(/\/+$/, "");
  return s === "." ? "" : s;
}
