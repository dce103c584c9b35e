/**
 * Assembles one operator: repository (credentials, writer lock) → branch sync → work queue → controllers
 * → fleet → status writer, plus what makes Git the whole interface: the webhook and health server,
 * proposals (PR plans and previews) and auto-revert. `coxswain run` is a thin shell around
 * startOperator(); tests start it in-process too.
 */
import { isIP } from "node:net";
import { CoxError, isCoxError, toCoxError } from "../api/errors.js";
import { commitFields, silentLogger, withCurrentFields, type Logger } from "../api/log.js";
import { PROXY_PREFIX, SERVICES_KEY, ServiceController } from "../controllers/service/controller.js";
import { AutoscalerController } from "../controllers/autoscaler/controller.js";
import { CLAIMS_KEY, ClaimController } from "../controllers/claim/controller.js";
import { BUDGETS_KEY, DisruptionBudgetController } from "../controllers/disruption/controller.js";
import { DrainWaits } from "../controllers/disruption/drain-waits.js";
import { claimOfPath, readClaimRecord } from "../status/claims.js";
import { TrafficBoard, recordedTraffic } from "../controllers/traffic-board.js";
import { StatefulSetController } from "../controllers/statefulset/controller.js";
import { WorkloadController } from "../controllers/workload/controller.js";
import { CronJobController } from "../controllers/cronjob/controller.js";
import { DaemonSetController } from "../controllers/daemonset/controller.js";
import { JobController } from "../controllers/job/controller.js";
import { PodPlacer } from "../controllers/workload/placer.js";
import { nodeConfigOf, NodeController, NODES_KEY } from "../controllers/node/controller.js";
import { Manager } from "../engine/manager.js";
import type { ReconcileResult } from "../engine/queue.js";
import { decideDefaultRuntime, inspectLocalDocker, type RuntimeChoice } from "../runtime/default-runtime.js";
import { DockerRuntime } from "../runtime/docker/index.js";
import { Fleet, type NodeConfig, type RuntimeFactory } from "../runtime/fleet.js";
import { DEFAULT_OWNER } from "../runtime/labels.js";
import { ProcessRuntime } from "../runtime/process/index.js";
import { FakeProxy } from "../runtime/fake/index.js";
import { dockerForwardersFactory } from "../runtime/docker/forwarders.js";
import { DEFAULT_PROXY_IMAGE, nodeProxyFactory, type ProxyFactory } from "../runtime/proxy/index.js";
import { DEFAULT_SERVICE_NETWORK } from "../traffic/addresses.js";
import type { SchedulerSettings } from "../scheduler/index.js";
import {
  commitEvent,
  DEFAULT_READY_FETCH_FAILURES,
  EventFeed,
  FleetEvents,
  OperatorMetrics,
  readiness,
  rolloutEvent,
  startServer,
  type ApiSource,
  type ApiToken,
  type CommitAuthor,
  type Readiness,
  type RunningServer,
  type WebhookSecrets,
} from "../server/index.js";
import { acquireRepositoryLock, openRepository, refGlob, type GitCredentials, type RepositoryLock } from "../source/index.js";
import type { Repository, WatchHandle } from "../source/types.js";
import { AutoReverter, autoRevertWanted } from "../status/revert.js";
import { ApiWrites } from "./api-writes.js";
import { StatusStore } from "../status/store.js";
import { StatusWriter } from "../status/writer.js";
import { BranchSync, changedWorkloads, short, SOURCE_KEY } from "./branch-sync.js";
import { ManifestCache } from "../manifest/index.js";
import { isWorkloadKey } from "./gate.js";
import { leavingNodeConfigs, loadCommit, type ManifestReadOptions } from "./load.js";
import type { FleetView } from "./plan.js";
import { CompositeView, Previews } from "./previews.js";
import { DEFAULT_PREVIEW_TTL_MS, ProposalTracker, PROPOSALS_KEY } from "./proposals.js";
import { createForgeClient, type ForgeClientOptions } from "../forge/client.js";
import { ForgePublisher } from "../forge/publisher.js";
import type { BackoffOptions } from "../engine/queue.js";
import { forgeReporter } from "./forge-posts.js";

/** Which runtime the default local node uses when the repository declares no Node objects. */
export type DefaultRuntime = RuntimeChoice;

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
  /** HAProxy image of the default node's proxy when it is a Docker engine (default haproxy:2.6). */
  defaultProxyImage?: string;
  /** Service network of the default local node (default 127.77.0.0/16): operators that share one host need disjoint ones. */
  defaultServiceNetwork?: string;
  /** Serve Ingresses on every node's address at these ports (`--ingress-http-port`, `--ingress-https-port`); none: not served. */
  ingress?: { httpPort?: number; httpsPort?: number };
  /** Poll interval of the repository (the local watch fires sooner). */
  pollMs?: number;
  /** Re-list interval of the nodes. */
  fleetPollMs?: number;
  /** A node silent this long is NotReady (default 10 s). */
  nodeGraceMs?: number;
  /** Pods of a NotReady node are replaced after this much longer (default 30 s). */
  evictionTimeoutMs?: number;
  statusBranch?: string;
  notesRef?: string;
  /** Coalescing window of status writes. */
  statusDebounceMs?: number;
  /** First retry delay of a failed status write, doubling up to 60 s (default 1 s; tests lengthen it). */
  statusRetryMs?: number;
  /** Git network timeout. */
  gitTimeoutMs?: number;
  /** Basic-auth credentials for a remote repository (source/credentials.ts); credentials in the URL win. */
  gitCredentials?: GitCredentials;
  /** Retry delays of a remote after a failed fetch (default 1 s doubling to 60 s). */
  fetchBackoff?: { initialMs?: number; maxMs?: number };
  /** "HOST:PORT": serve the webhooks, /healthz, /readyz and /metrics there. */
  listen?: string;
  /** /readyz fails from this many failed fetches of the remote in a row on (default 3). */
  readyFetchFailures?: number;
  /** Webhook secrets (one for every provider, or one per provider). */
  webhookSecret?: WebhookSecrets;
  /** Webhook requests per second per client (default 10). */
  webhookRate?: number;
  /**
   * Bearer tokens of the read API (`--api-token-file`). Without them the API is served only when
   * `listen` is a loopback address (startServer refuses any other with ApiTokensRequired).
   */
  apiTokens?: ApiToken[];
  /** Heartbeat interval of the event stream (default 15 s; tests shorten it). */
  apiHeartbeatMs?: number;
  /** Serve the web dashboard at / of `listen` (`--ui`). */
  ui?: boolean;
  /** Revert a failed commit on the deploy branch once it has been rolled back (also per workload by annotation). */
  autoRevert?: boolean;
  /** Globs of proposals to validate and plan (branches; "pull/*", "merge-requests/*" for pull requests). */
  previewBranches?: string[];
  /** Globs of proposals that also run as previews. */
  previewEnvs?: string[];
  /** Lifetime of a preview after its proposal's last new head (default 24 h). */
  previewTtlMs?: number;
  /**
   * Post proposals' plans and statuses on this forge (`--forge`; sync/forge-posts.ts): where it is, the
   * token, and the delays between attempts of a failed post (default the work queue's; tests shorten them).
   */
  forge?: Omit<ForgeClientOptions, "signal"> & { backoff?: Required<BackoffOptions> };
  /** Burst coalescing of pushes (BurstGate): quiet time and longest hold (defaults 500 ms and 2 s). */
  burstQuietMs?: number;
  burstMaxWaitMs?: number;
  /** How often HorizontalPodAutoscalers are synced (default 15 s, as Kubernetes; tests shorten it). */
  autoscalerSyncMs?: number;
  /** Where every module's lines go (the CLI's is pino's, --log-format and --log-level); none: nowhere. */
  log?: Logger;
  /** Replaces the runtimes (tests and benchmarks use the fake runtime). */
  runtimeFactory?: RuntimeFactory;
  /** Replaces the node proxies; with a runtimeFactory and no proxyFactory, nodes get in-memory FakeProxy ones. */
  proxyFactory?: ProxyFactory;
  /** Scheduler seed (tests). */
  seed?: number;
  /** The clock CronJob schedules are read on (default Date.now; tests move it). */
  cronClock?: () => number;
  /** Scoring profile and percentageOfNodesToScore of the scheduler (`--scheduler-scoring`, …). */
  scheduler?: SchedulerSettings;
  /**
   * How commits are read: limits (`--manifest-max-*`) and the parse cache (`--manifest-cache-size`). The
   * same for the branch, proposals and auto-revert. Default: the default limits and a cache of its own.
   */
  manifests?: ManifestReadOptions;
}

/** A running operator. */
export interface RunningOperator {
  readonly sync: BranchSync;
  readonly fleet: Fleet;
  readonly store: StatusStore;
  readonly repo: Repository;
  /** The webhook and health server, when `listen` was given. */
  readonly server?: RunningServer;
  /** This operator's metrics (served at /metrics). */
  readonly metrics: OperatorMetrics;
  /** Live events (GET /api/v1/events): commit phases, rollout steps, pod readiness, node health. */
  readonly events: EventFeed;
  /** Proposals, when globs were given. */
  readonly proposals?: ProposalTracker;
  /** The posts to the forge, when `forge` was given with proposals to follow. */
  readonly forge?: ForgePublisher;
  readonly previews: Previews;
  readonly reverter: AutoReverter;
  /** The default local node's runtime type ("docker" or "process"). */
  readonly defaultRuntime: string;
  /** What GET /healthz answers (always with status 200). */
  health(): Record<string, unknown>;
  /** What GET /readyz answers (503 when not ready). */
  ready(): Readiness;
  /** Fetch (remote) and look at the refs now, as a webhook does. */
  trigger(): void;
  /** Writes pending status now (tests). */
  flushStatus(): Promise<void>;
  /**
   * Stops the server and the watch, lets reconciles and reverts in flight finish, writes status a last
   * time, releases the repository lock. Containers and node proxies keep running (the next run adopts
   * them, so traffic does not stop with the operator); `stopProxies` stops the proxies too (tests).
   */
  stop(options?: { stopProxies?: boolean }): Promise<void>;
}

/** The local Docker socket coxswain tries for the default node: DOCKER_HOST when it is unix://, else the standard path. */
export function localDockerEndpoint(): string {
  const env = process.env.DOCKER_HOST;
  return env?.startsWith("unix://") ? env : "unix:///var/run/docker.sock";
}

/**
 * Decides the default node (runtime/default-runtime.ts): `process` only when chosen, or under `auto` when
 * there is no Docker socket at all — never because an engine is slow to answer — with a warning to
 * `log`; a Docker socket that exists is the node whether it answers or not (the node waits for it, and
 * `log` warns so when it does not answer within 2 s). RuntimeUndecided when `auto` cannot tell.
 */
export async function resolveDefaultNode(runtime: DefaultRuntime, instance: string, portRange: { from: number; to: number } = { from: 30000, to: 32767 }, log: Logger = silentLogger): Promise<NodeConfig> {
  const base = {
    name: "local",
    network: "host" as const,
    address: "127.0.0.1",
    portRange,
    serviceNetwork: DEFAULT_SERVICE_NETWORK,
    proxyImage: DEFAULT_PROXY_IMAGE,
    unschedulable: false,
    labels: { "kubernetes.io/hostname": "local" },
  };
  const decision = decideDefaultRuntime(runtime, await inspectLocalDocker(process.env.DOCKER_HOST));
  if (decision.warning) log.warn(decision.warning);
  if (decision.runtime === "process") return { ...base, endpoint: "process://local" };
  const endpoint = localDockerEndpoint();
  // Only for the message: whatever the answer, this engine is the default node.
  const probe = new DockerRuntime({ endpoint, owner: instance, callTimeoutMs: 2_000 });
  try {
    await probe.connect();
  } catch (err) {
    const e = toCoxError(err, "NodeUnreachable");
    log.warn(`default node runtime: docker, but the engine does not answer yet (${e.code}: ${e.message}); ` + "the node waits for it: pods are placed once it answers, and nothing runs as a local process meanwhile");
  } finally {
    await probe.close().catch(() => undefined);
  }
  return { ...base, endpoint };
}

/**
 * The runtime factory of real nodes: unix:// and tcp:// (TLS) → Docker, process:// → local processes.
 * `onEngineCall` hears of every Docker Engine API call (metrics).
 */
export function realRuntimeFactory(stateDir: string, instance: string, onEngineCall?: (node: string, ms: number, failed: boolean) => void): RuntimeFactory {
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
        ...(onEngineCall ? { onCall: (ms: number, failed: boolean) => onEngineCall(node.name, ms, failed) } : {}),
      });
    }
    if (node.endpoint.startsWith("process://")) return new ProcessRuntime({ stateDir, owner: instance });
    throw new CoxError("InvalidField", `node ${node.name}: unsupported endpoint ${node.endpoint}`);
  };
}

/** A head that moves again within this long of its previous move is part of a burst of pushes. */
const DEFAULT_BURST_QUIET_MS = 500;
/** During a burst, a head is applied at least this often. */
const DEFAULT_BURST_MAX_WAIT_MS = 2_000;

/** How long fleet changes gather before their pod events are told (the API's event stream). */
const FLEET_EVENTS_MS = 50;

/**
 * Coalesces bursts of pushes in front of the branch sync (the SOURCE_KEY reconciler). A head that moved
 * once is handed to the sync at once (no added latency for a single push). A head that moves again within
 * `quietMs` of its previous move is part of a burst: it is held until the branch has been quiet for
 * `quietMs`, or at most `maxWaitMs` after the burst began, so 100 commits pushed in a few seconds start a
 * handful of rollouts, not 100 — the sync only ever applies the head it reads when it runs. Reconciles
 * without a new head pass straight through.
 */
export class BurstGate {
  private lastHead: string | undefined;
  private lastMoveAt = Number.NEGATIVE_INFINITY;
  private burstSince: number | undefined;

  constructor(
    private readonly sync: { reconcile(key: string): Promise<ReconcileResult | void> },
    private readonly head: () => Promise<string | undefined>,
    private readonly quietMs: number,
    private readonly maxWaitMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Holds a head that is part of a burst (requeueing itself), else reconciles the sync. */
  async reconcile(key: string): Promise<ReconcileResult | void> {
    const head = await this.head();
    const now = this.now();
    if (head !== this.lastHead) {
      // The first head seen (at start) is not a move: the first push after it must not wait.
      const first = this.lastHead === undefined;
      const sincePrevious = now - this.lastMoveAt;
      this.lastHead = head;
      this.lastMoveAt = first ? Number.NEGATIVE_INFINITY : now;
      if (!first && sincePrevious < this.quietMs) this.burstSince ??= now;
    }
    if (this.burstSince !== undefined) {
      const quietFor = now - this.lastMoveAt;
      const waited = now - this.burstSince;
      if (quietFor < this.quietMs && waited < this.maxWaitMs) return { requeueAfterMs: Math.max(10, Math.min(this.quietMs - quietFor, this.maxWaitMs - waited)) };
      this.burstSince = undefined;
    }
    return this.sync.reconcile(key);
  }
}

/** The fleet as plans see it: the scheduler snapshot and each workload's live pods. */
export function fleetView(fleet: Fleet): FleetView {
  return {
    snapshot: () => fleet.schedulerSnapshot(),
    pods: (owner) =>
      fleet
        .pods(owner)
        .filter((p) => p.phase !== "Terminating")
        .map((p) => ({ name: p.name, revision: p.revision })),
    claimNode: (claim) => fleet.claimNode(claim),
  };
}

/** Starts an operator and returns once the first reconciles are queued. */
export async function startOperator(opts: OperatorOptions): Promise<RunningOperator> {
  const log = opts.log ?? silentLogger;
  const instance = opts.instance ?? DEFAULT_OWNER;
  const branch = opts.branch ?? "main";
  const repoPath = normalizePath(opts.path ?? "");
  // One parse cache per operator, bounded in bytes: the process-wide default is for the CLI's one-shot reads.
  const manifests: ManifestReadOptions = { ...opts.manifests, cache: opts.manifests?.cache === undefined ? new ManifestCache() : opts.manifests.cache };
  const statusBranch = opts.statusBranch ?? "coxswain/status";
  const previewBranches = opts.previewBranches ?? [];
  const previewEnvs = opts.previewEnvs ?? [];
  const following = previewBranches.length + previewEnvs.length > 0;
  // Pull/merge request heads ("pull/<n>", "merge-requests/<n>") are followed when some glob names them.
  const pullRequests = [...previewBranches, ...previewEnvs].some((g) => refGlob(g).test("pull/1") || refGlob(g).test("merge-requests/1"));
  const repo = await openRepository({
    repo: opts.repo,
    stateDir: opts.stateDir,
    ...(opts.gitTimeoutMs ? { timeoutMs: opts.gitTimeoutMs } : {}),
    ...(opts.gitCredentials ? { auth: opts.gitCredentials } : {}),
    // One more request per fetch (the server's ref list), so only when a glob asks for them.
    ...(pullRequests ? { pullRequests: true } : {}),
    log,
  });
  let lock: RepositoryLock | undefined;
  const cleanups: (() => Promise<unknown>)[] = [() => repo.close()];
  try {
    lock = await acquireRepositoryLock(repo.gitdir, `coxswain run (instance ${instance}, branch ${branch})`);
    cleanups.push(() => lock!.release());
    if (repo.remote) await repo.refresh();
    await checkBranchAndPath(repo, branch, repoPath).catch(async (err: unknown) => {
      // A mirror whose damage only a read finds (an object gone below a ref) is repaired by the next fetch.
      if (!isCoxError(err, "MirrorCorrupt")) throw err;
      log.warn(`source: ${err.code}: ${err.message}`);
      await repo.refresh();
      await checkBranchAndPath(repo, branch, repoPath);
    });
    return await assemble();
  } catch (err) {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
    throw err;
  }

  async function assemble(): Promise<RunningOperator> {
    let manager: Manager | undefined;
    let fleet: Fleet | undefined;
    const metrics = new OperatorMetrics({
      nodes: () => fleet?.listNodes().map((n) => ({ name: n.config.name, ready: n.condition === "Ready" })) ?? [],
      podPhases: () => fleet?.pods().map((p) => p.phase) ?? [],
      queueDepth: () => manager?.queue.len() ?? 0,
    });
    const events = new EventFeed();
    const fleetEvents = new FleetEvents(events);
    // Pod events are told once per burst of fleet changes (FLEET_EVENTS_MS), not per change: a 10,000-pod
    // rollout changes its owner 10,000 times, and looking at all its pods each time was quadratic.
    const changedOwners = new Set<string>();
    let fleetEventsTimer: NodeJS.Timeout | undefined;
    const tellFleetEvents = () => {
      fleetEventsTimer = undefined;
      const owners = [...changedOwners].sort();
      changedOwners.clear();
      for (const o of owners) fleetEvents.owner(o, fleet?.pods(o) ?? []);
    };
    const store = new StatusStore({
      onCommitPhase: (phase, previous, record) => {
        metrics.commitPhase(phase, previous);
        events.publish("commit", commitEvent(record, previous));
      },
      onWorkload: (record, previous) => {
        const step = rolloutEvent(previous, record);
        if (step) events.publish("rollout", step);
      },
    });
    /** The status branch's last write failed (cleared by the next write that succeeds). */
    let statusFault: { code: string; message: string; since: string } | undefined;
    let proposals: ProposalTracker | undefined;
    let forge: ForgePublisher | undefined;
    let sync: BranchSync | undefined;
    // Every record change schedules a write; when the deploy branch applied another commit, proposals
    // are planned again against it.
    const scheduleStatusWrite = (): void => {
      writer.schedule();
      if (proposals?.enabled && sync && manager && sync.commit() !== proposals.plannedBase()) manager.enqueue(PROPOSALS_KEY);
    };
    const writer = new StatusWriter({
      writer: repo.writer,
      store,
      branch: statusBranch,
      notesRef: opts.notesRef ?? "refs/notes/coxswain",
      remote: repo.remote,
      debounceMs: opts.statusDebounceMs ?? 500,
      ...(opts.statusRetryMs !== undefined ? { retryMs: opts.statusRetryMs } : {}),
      onError: (err) => {
        log.warn(`status: ${err.code}: ${err.message}`);
        statusFault = { code: err.code, message: err.message, since: statusFault?.since ?? new Date().toISOString() };
      },
      onWritten: () => {
        statusFault = undefined;
      },
    });
    await writer.load();
    cleanups.push(() => writer.close());

    const defaultNode = {
      ...(await resolveDefaultNode(opts.runtime ?? "auto", instance, opts.defaultPortRange, log)),
      ...(opts.defaultProxyImage ? { proxyImage: opts.defaultProxyImage } : {}),
      ...(opts.defaultServiceNetwork ? { serviceNetwork: opts.defaultServiceNetwork } : {}),
    };
    const defaultRuntime = defaultNode.endpoint.startsWith("process://") ? "process" : "docker";
    let services: ServiceController | undefined;
    fleet = new Fleet({
      runtimeFactory: opts.runtimeFactory ?? realRuntimeFactory(opts.stateDir, instance, (node, ms, failed) => metrics.engineCall(node, ms, failed)),
      ...(opts.fleetPollMs ? { pollMs: opts.fleetPollMs } : {}),
      ...(opts.nodeGraceMs !== undefined ? { nodeGraceMs: opts.nodeGraceMs } : {}),
      ...(opts.evictionTimeoutMs !== undefined ? { evictionTimeoutMs: opts.evictionTimeoutMs } : {}),
      log,
      onChange: ({ owners, nodes }) => {
        for (const o of owners) changedOwners.add(o);
        if (owners.length > 0 && !fleetEventsTimer) {
          fleetEventsTimer = setTimeout(tellFleetEvents, FLEET_EVENTS_MS);
          fleetEventsTimer.unref();
        }
        if (nodes.length > 0) fleetEvents.nodeList(fleet!.listNodes());
        for (const o of owners) manager?.enqueue(o);
        // A StatefulSet's pod binds its own claim: its record goes from Pending to Bound.
        if (owners.some((o) => o.startsWith("StatefulSet/"))) manager?.enqueue(CLAIMS_KEY);
        if (owners.length > 0) manager?.enqueue(BUDGETS_KEY);
        // A node removed from Git leaves once the pods a drain moves are off it (or it stops answering).
        if (fleet!.listNodes().some((n) => n.leaving)) manager?.enqueue(NODES_KEY);
        services?.podsChanged(owners);
        if (nodes.length > 0) {
          sync?.enqueueAll();
          sync?.writeSummary();
          services?.nodesChanged();
        }
      },
      // Out of every proxy first, then preStop, then SIGTERM.
      beforeStop: (pod, budgetMs) => services?.beforeStop(pod, budgetMs) ?? Promise.resolve(),
    });
    cleanups.push(() => fleet.close());
    cleanups.push(async () => clearTimeout(fleetEventsTimer));
    manager = new Manager({
      concurrency: 4,
      observe: { reconciled: (controller, ms, failed) => metrics.reconciled(controller, ms, failed), waited: (ms) => metrics.queueWaited(ms) },
      // The branch sync reports its own faults, once each (sync.setFault), in the log and the summary.
      onError: (key, err) => {
        // A workload's failed reconcile is a line of the workload (its key and commit as fields).
        if (key !== SOURCE_KEY) (isWorkloadKey(key) ? desired.log(key) : log).warn(`${key}: ${err.code}: ${err.message}${err.retry === "stalled" ? " (needs a fix; not retried)" : ""}`);
      },
    });
    const reverter = new AutoReverter({
      repo,
      branch,
      store,
      scheduleStatusWrite,
      log,
      onReverted: () => {
        metrics.reverted();
        watch?.trigger();
        manager!.enqueue(SOURCE_KEY);
      },
    });
    let nodes: NodeController | undefined;
    /** Auto-revert decisions in flight (awaited on stop). */
    let reverting: Promise<unknown> = Promise.resolve();
    // Drains held by a PodDisruptionBudget, shown on the summary's node lines.
    const drainWaits = new DrainWaits(() => sync?.writeSummary());
    sync = new BranchSync({
      manifests,
      drainWaits,
      applyNodes: () => nodes!.reconcile(NODES_KEY),
      repo,
      branch,
      path: repoPath,
      manager,
      fleet,
      store,
      scheduleStatusWrite,
      log,
      onRolledBack: (failed, stable, graph) => {
        metrics.rolledBack();
        reverting = reverting.then(() => considerRevert(failed, stable, graph)).catch((err: unknown) => log.error(`auto-revert: ${(err as Error).message}`, { commit: short(failed) }));
      },
    });
    /** Auto-revert policy: the flag, or the annotation on a workload the failed commit changed. */
    const considerRevert = async (failed: string, stable: string, stableGraph: Parameters<typeof changedWorkloads>[1]): Promise<void> => {
      const loaded = await loadCommit(repo, failed, repoPath, manifests).catch(() => undefined);
      const changed = loaded?.graph ? changedWorkloads(stableGraph, loaded.graph) : [];
      const wanted = loaded?.graph ? autoRevertWanted(changed, loaded.graph, stableGraph, opts.autoRevert === true) : opts.autoRevert === true;
      if (!wanted) return;
      log.info(`commit ${short(failed)} was rolled back to ${short(stable)}; reverting it on ${branch} (auto-revert)`);
      await reverter.revert(failed);
    };
    const previews = new Previews();
    const desired = new CompositeView(sync, previews, { store, scheduleStatusWrite, onPreviewChange: (name) => proposals?.previewChanged(name), log });
    // Rollouts' traffic between the two controllers: a decision reaches every proxy, what they run comes back.
    // One writer of status-branch files for every controller that keeps one: a file set or removed, then the coalesced write.
    const setStatusFile = (path: string, content: string | undefined): void => {
      if (content === undefined) store.removeFile(path);
      else store.setFile(path, content);
      scheduleStatusWrite();
    };
    const traffic = new TrafficBoard({
      onWanted: () => manager!.enqueue(SERVICES_KEY),
      onApplied: (rollout) => manager!.enqueue(rollout),
      recorded: (rollout) => recordedTraffic(desired.previousRecord(rollout)),
    });
    // HorizontalPodAutoscalers: their counts replace spec.replicas in the workload and StatefulSet controllers.
    const autoscalers = new AutoscalerController({
      desired: sync,
      fleet,
      setStatusFile,
      statusFiles: (prefix) => store.filePaths(prefix),
      statusFile: (path) => store.getFile(path),
      onScaled: (workload) => manager!.enqueue(workload),
      ...(opts.autoscalerSyncMs !== undefined ? { syncPeriodMs: opts.autoscalerSyncMs } : {}),
      log,
    });
    // One placer for every controller that makes pods, as one kube-scheduler serves a cluster.
    const placer = new PodPlacer({
      desired,
      fleet,
      instance,
      ingressPorts: [opts.ingress?.httpPort, opts.ingress?.httpsPort].filter((p): p is number => p !== undefined),
      ...(opts.seed !== undefined ? { seed: opts.seed } : {}),
      ...(opts.scheduler ? { scheduler: opts.scheduler } : {}),
      onScheduled: (ms, placed, unschedulable) => metrics.scheduled(ms, placed, unschedulable),
      records: (key) => desired.previousRecord(key),
    });
    const workloads = new WorkloadController({
      desired,
      fleet,
      drainWaits,
      reporter: desired,
      traffic,
      placer,
      replicas: autoscalers,
      // Canary analysis measures what the node proxies log (the service controller is made just below).
      requests: (listener) => services?.subscribeRequests(listener) ?? (() => undefined),
    });
    const daemonSets = new DaemonSetController({ desired, fleet, reporter: desired, placer });
    const statefulSets = new StatefulSetController({ desired, fleet, reporter: desired, placer, drainWaits, replicas: autoscalers });
    // CronJobs' runs are Jobs the Job controller runs: it asks the CronJob controller for those not in Git, and
    // a run's report wakes its CronJob.
    const cronJobs = new CronJobController({
      desired,
      fleet,
      setStatusFile,
      statusFile: (path) => store.getFile(path),
      enqueue: (key) => manager!.enqueue(key),
      ...(opts.cronClock ? { now: opts.cronClock } : {}),
      log,
    });
    const jobs = new JobController({
      desired: {
        graph: () => desired.graph(),
        commit: () => desired.commit(),
        ready: () => desired.ready(),
        entry: (key) => desired.entry(key) ?? cronJobs.runEntry(key),
      },
      fleet,
      placer,
      reporter: {
        report: (record, state) => {
          desired.report(record, state);
          const owner = cronJobs.ownerOf(state.key);
          if (owner) manager!.enqueue(owner);
        },
        removed: (key) => desired.removed(key),
        previousEvents: (key) => desired.previousEvents(key),
        previousRecord: (key) => desired.previousRecord(key),
        log: (key) => desired.log(key),
      },
      setStatusFile,
      statusFile: (path) => store.getFile(path),
      drainWaits,
    });
    // The lines of the controllers of the applied commit's Nodes, Services and claims carry that commit.
    const appliedLog = withCurrentFields(log, () => commitFields(sync!.commit()));
    nodes = new NodeController({ desired: sync, fleet, defaultNode, log: appliedLog });
    services = new ServiceController({
      desired: sync,
      fleet,
      // Fake runtimes (tests, benchmarks) get fake proxies unless a test asks for real ones.
      proxyFor: opts.proxyFactory ?? (opts.runtimeFactory ? () => new FakeProxy() : nodeProxyFactory(opts.stateDir, (name) => fleet.runtimeOf(name))),
      // Bridge nodes' Service forwarders (Docker engines only; fake runtimes have none).
      ...(opts.runtimeFactory ? {} : { forwardersFor: dockerForwardersFactory((name) => fleet.runtimeOf(name), DEFAULT_PROXY_IMAGE) }),
      setStatusFile,
      statusFiles: (prefix) => store.filePaths(prefix),
      enqueue: (key) => manager!.enqueue(key),
      log: appliedLog,
      traffic,
      ...(opts.ingress ? { ingress: opts.ingress } : {}),
    });
    const claims = new ClaimController({
      desired: sync,
      fleet,
      setStatusFile,
      statusFiles: (prefix) => store.filePaths(prefix),
      statusFile: (path) => store.getFile(path),
      otherGraphs: () => previews.list().map((p) => p.graph),
      log: appliedLog,
    });
    manager.register("PersistentVolumeClaim", claims);
    manager.register(
      "PodDisruptionBudget",
      new DisruptionBudgetController({
        desired: sync,
        fleet,
        setStatusFile,
        statusFiles: (prefix) => store.filePaths(prefix),
        records: (key) => sync!.previousRecord(key),
      }),
    );
    manager.register("Service", services);
    manager.register(PROXY_PREFIX, services);
    manager.register("CronJob", cronJobs);
    manager.register("DaemonSet", daemonSets);
    manager.register("Deployment", workloads);
    manager.register("HorizontalPodAutoscaler", autoscalers);
    manager.register("Job", jobs);
    manager.register("Pod", workloads);
    manager.register("ReplicaSet", workloads);
    manager.register("ReplicationController", workloads);
    manager.register("Rollout", workloads);
    manager.register("StatefulSet", statefulSets);
    manager.register("Node", nodes);
    manager.register(SOURCE_KEY, new BurstGate(sync, () => repo.head(branch), opts.burstQuietMs ?? DEFAULT_BURST_QUIET_MS, opts.burstMaxWaitMs ?? DEFAULT_BURST_MAX_WAIT_MS));
    if (following && opts.forge) {
      // Stopping drops what is queued and aborts the request in flight: a forge that hangs never holds up a stop.
      const abort = new AbortController();
      const client = createForgeClient({ ...opts.forge, signal: abort.signal });
      forge = new ForgePublisher({ client, log, ...(opts.forge.backoff ? { backoff: opts.forge.backoff } : {}), onCall: (result) => metrics.forgePost(client.kind, result) });
      const publisher = forge;
      cleanups.push(() => {
        const closed = publisher.close();
        abort.abort();
        return closed;
      });
    }
    if (following) {
      proposals = new ProposalTracker({
        repo,
        branch,
        path: repoPath,
        statusBranch,
        store,
        scheduleStatusWrite,
        log,
        base: sync,
        fleet: fleetView(fleet),
        ...(opts.scheduler ? { scheduler: opts.scheduler } : {}),
        enqueue: (key) => manager!.enqueue(key),
        planPatterns: previewBranches,
        previewPatterns: previewEnvs,
        pullRequests,
        previews,
        ttlMs: opts.previewTtlMs ?? DEFAULT_PREVIEW_TTL_MS,
        manifests,
        ...(forge ? { reporter: forgeReporter(forge, statusBranch) } : {}),
      });
      manager.register(PROPOSALS_KEY, proposals);
    }

    await sync.restore();
    // Nodes that were still draining out of the fleet when the operator stopped carry on leaving.
    const applied = sync.commit();
    const wasLeaving = (store.summary()?.nodes ?? []).filter((n) => n.leaving).map((n) => n.name);
    if (applied && wasLeaving.length > 0) {
      const back = await leavingNodeConfigs(repo, applied, wasLeaving, repoPath, manifests, nodeConfigOf).catch((err: unknown) => {
        log.warn(`nodes ${wasLeaving.join(", ")} were leaving, but their configurations could not be read back: ${(err as Error).message}`);
        return [];
      });
      const lost = wasLeaving.filter((name) => !back.some((c) => c.name === name));
      if (lost.length > 0) log.warn(`nodes ${lost.join(", ")} were leaving, but no recent commit declares them: they are not drained, their containers are left as they are`);
      nodes.restoreLeaving(back);
    }
    // Claims' bindings as last recorded: a claim whose node does not answer now still waits for that node.
    const recorded: Record<string, string> = {};
    for (const path of store.filePaths("claims/")) {
      const claim = claimOfPath(path);
      const node = readClaimRecord(store.getFile(path) ?? "").node;
      if (claim !== undefined && node !== undefined) recorded[claim] = node;
    }
    fleet.seedClaims(recorded);
    // The fleet first: observed state must be known before any Deployment decides anything.
    await nodes.reconcile(NODES_KEY);
    // Previews next, before any workload is reconciled: after a restart their pods must be recognised as
    // desired, not removed as orphans.
    if (proposals) await proposals.reconcile().catch((err: unknown) => log.warn(`proposals: ${(err as Error).message}`));
    // Stopped in reverse: the queue drains first, then reverts in flight finish (their outcome is part of
    // the final status write), then the fleet and the status writer close.
    cleanups.push(async () => {
      await reverting;
      await reverter.idle();
    });
    manager.start();
    cleanups.push(() => manager!.stop());
    fleet.start();
    manager.enqueue(SOURCE_KEY);
    if (proposals) manager.enqueue(PROPOSALS_KEY);
    sync.enqueueAll();
    let watch: WatchHandle | undefined = repo.watch(
      () => {
        manager!.enqueue(SOURCE_KEY);
        if (proposals) manager!.enqueue(PROPOSALS_KEY);
      },
      {
        pollMs: opts.pollMs ?? 5_000,
        onError: (err: CoxError) => {
          log.warn(`source: ${err.code}: ${err.message}${repo.remote ? `; retrying (${watch?.state().failures ?? 1} failure(s) in a row), what runs is left as it is` : ""}`);
          sync!.setFault("fetch", err);
        },
        onRecover: (failures) => {
          log.info(`source: ${repo.location} answers again after ${failures} failed fetch(es)`);
          sync!.setFault("fetch", undefined);
          // The remote answers again: pushing the status branch may too. A failed write waits out its own
          // back-off (up to 60 s after a long outage) — not for the remote that is back now.
          if (statusFault && repo.remote) void writer.flush();
        },
        onFetched: (ms, failed) => metrics.fetched(ms, failed),
        ...(opts.fetchBackoff ? { backoff: opts.fetchBackoff } : {}),
      },
    );
    cleanups.push(async () => {
      const w = watch;
      watch = undefined;
      await w?.();
    });

    // Liveness: answering is the check, the body is information (faults included); readiness decides on them.
    const health = (): Record<string, unknown> => {
      const summary = store.summary();
      const faults = [...sync!.sourceFaults(), ...(statusFault ? [{ where: "status", code: statusFault.code, message: statusFault.message, since: statusFault.since }] : [])];
      return {
        ok: true,
        ...(faults.length ? { faults } : {}),
        repository: repo.location,
        branch,
        source: watch?.state() ?? { remote: repo.remote, failures: 0 },
        applied: sync!.commit() ?? null,
        stable: summary?.stable ?? null,
        head: summary?.head ?? null,
        nodes: fleet!.listNodes().map((n) => ({ name: n.config.name, ready: n.condition === "Ready", pods: n.pods })),
        proxies: services!.health(),
        ...(proposals ? { previews: previews.list().map((p) => ({ name: p.name, commit: p.commit, namespaces: p.namespaces, expiresAt: new Date(p.expiresAt).toISOString() })) } : {}),
      };
    };
    const ready = (): Readiness =>
      readiness({
        location: repo.location,
        fetch: watch?.state() ?? { failures: 0 },
        fetchFailureLimit: opts.readyFetchFailures ?? DEFAULT_READY_FETCH_FAILURES,
        readFaults: sync!.sourceFaults().filter((f) => f.where !== "fetch"),
        ...(statusFault ? { statusFault } : {}),
        nodes: fleet!.listNodes().map((n) => ({ name: n.config.name, condition: n.condition })),
      });
    // Authors of commits never change: remembered (a bounded map, the oldest forgotten first).
    const authors = new Map<string, CommitAuthor | null>();
    const api: ApiSource = {
      state: () => store.snapshot(),
      nodes: () => ({ observed: fleet!.listNodes(), snapshot: fleet!.schedulerSnapshot() }),
      previews: () => previews.list(),
      async authors(shas) {
        const out = new Map<string, CommitAuthor>();
        for (const sha of shas) {
          if (!authors.has(sha)) {
            const info = await repo.reader.readCommit(sha).catch(() => undefined);
            authors.set(sha, info ? { name: info.author.name, email: info.author.email, time: new Date(info.author.timestamp * 1000).toISOString() } : null);
            if (authors.size > 2_000) authors.delete(authors.keys().next().value!);
          }
          const a = authors.get(sha);
          if (a) out.set(sha, a);
        }
        return out;
      },
    };
    // The API's writes: commits on the deploy branch, applied by the sync like any other.
    const writes = new ApiWrites({
      repo,
      branch,
      path: repoPath,
      manifests,
      store,
      nodeKnown: (name) => fleet!.listNodes().some((n) => n.config.name === name),
      log,
      onCommitted: () => {
        watch?.trigger();
        manager!.enqueue(SOURCE_KEY);
      },
    });
    cleanups.push(() => writes.idle());
    let server: RunningServer | undefined;
    if (opts.listen) {
      server = await startServer({
        listen: opts.listen,
        ...(opts.webhookSecret !== undefined ? { secrets: opts.webhookSecret } : {}),
        ...(opts.webhookRate !== undefined ? { rate: opts.webhookRate } : {}),
        // A verified push only triggers a fetch: the refs fetched decide what happens, not the payload.
        onPush: () => watch?.trigger(),
        health,
        ready,
        metrics: () => metrics.exposition(),
        onWebhook: (provider, result) => metrics.webhook(provider, result),
        api: { source: api, writer: writes, events, ...(opts.apiTokens ? { tokens: opts.apiTokens } : {}), ...(opts.apiHeartbeatMs ? { heartbeatMs: opts.apiHeartbeatMs } : {}) },
        ...(opts.ui ? { ui: true } : {}),
        log,
      });
      cleanups.push(() => server!.close());
      log.info(
        `listening on ${server.url}: POST /api/v1/webhooks/{github,gitlab,gitea,bitbucket,generic}, GET /healthz, /readyz, /metrics, ` +
          `GET /api/v1/{commits,workloads,nodes,services,proposals,events,openapi.json}, POST …/promote, …/cordon, …/uncordon, …/retry (${opts.apiTokens?.length ? `${opts.apiTokens.length} bearer token(s)` : "no token: loopback only"})` +
          (opts.ui ? `; dashboard at ${server.url}/` : ""),
      );
    }
    log.info(
      `following ${repo.location} branch ${branch}${repoPath ? ` path ${repoPath}` : ""}; default node runtime: ${defaultRuntime}` +
        (following ? `; proposals: ${[...previewBranches, ...previewEnvs.map((p) => `${p} (previews)`)].join(", ")}` : "") +
        (opts.autoRevert ? "; auto-revert on" : ""),
    );

    let stopping: Promise<void> | undefined;
    return {
      sync,
      fleet,
      store,
      repo,
      ...(server ? { server } : {}),
      metrics,
      events,
      ...(proposals ? { proposals } : {}),
      ...(forge ? { forge } : {}),
      previews,
      reverter,
      defaultRuntime,
      health,
      ready,
      trigger: () => watch?.trigger(),
      flushStatus: () => writer.flush(),
      stop(options = {}) {
        if (options.stopProxies) cleanups.push(() => services!.close());
        stopping ??= (async () => {
          // Reverse order of start: server, watch, queue, reverts in flight, fleet, status, lock, repository.
          const order = [...cleanups].reverse();
          for (const c of order) await c().catch((err: unknown) => log.warn(`stop: ${(err as Error).message}`));
        })();
        return stopping;
      },
    };
  }
}

/**
 * An error of the run, before anything is read from the status branch or done on a node: the branch must
 * exist, and the manifest path must be a directory at its head. A typo in --branch or --path must never look
 * like a commit that deletes everything (nor rewrite what earlier runs recorded).
 */
async function checkBranchAndPath(repo: Repository, branch: string, path: string): Promise<void> {
  const head = await repo.head(branch);
  if (!head) {
    const branches = (await repo.listRefs("**").catch(() => [])).map((r) => r.name).filter((b) => !b.startsWith("coxswain/"));
    // A repository with no branch yet is waiting for its first push: the run waits with it.
    if (branches.length === 0) return;
    throw new CoxError("BranchNotFound", `--branch ${branch}: no such branch in ${repo.location}; expected one of: ${branches.slice(0, 20).join(", ")}`);
  }
  if (path === "") return;
  try {
    await repo.reader.listFiles(head, path);
  } catch (err) {
    throw new CoxError("PathNotFound", `--path ${path}: no such directory at ${branch} (${short(head)}); expected a directory of manifests in the repository`, { cause: err });
  }
}

function normalizePath(p: string): string {
  const s = p
    .replace(/\\/g, "/")
    .replace(/^\.\/?/, "")
    .replace(/\/+$/, "");
  return s === "." ? "" : s;
}
