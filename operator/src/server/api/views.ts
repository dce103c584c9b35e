/**
 * The read API's JSON, shaped from what the operator already holds: the status records (the same
 * StatusState `coxswain status` reads back from the status branch — summary, commits, workloads and the
 * other status files), the fleet's observed nodes and its scheduler snapshot, and the running previews.
 * Pure: the same inputs give the same JSON, every list sorted (commits newest first, the rest by name).
 * The shapes are described in openapi.ts; a test checks real answers against it.
 */
import type { NodeSnapshot } from "../../scheduler/types.js";
import type { ObservedNode } from "../../runtime/fleet.js";
import { readServiceRecord, type ServiceRecord } from "../../status/services.js";
import { CLUSTER_SCOPE, parsePlan, type StatusState } from "../../status/store.js";
import type { CommitRecord, PlanRecord, WorkloadRecord } from "../../status/types.js";

/** Who wrote a commit, from Git. */
export interface CommitAuthor {
  name: string;
  email: string;
  /** ISO-8601. */
  time: string;
}

/** One commit as the API shows it. */
export interface CommitView {
  sha: string;
  branch: string;
  subject: string;
  author: CommitAuthor | null;
  phase: string;
  message: string;
  timings: CommitRecord["timings"];
  changes: string[];
  errors: CommitRecord["errors"];
  /** This commit is what is applied now / the last one that succeeded (the rollback target). */
  applied: boolean;
  stable: boolean;
  quarantined: boolean;
  supersededBy: string | null;
  rollback: CommitRecord["rollback"] | null;
  revert: CommitRecord["revert"] | null;
  historyRewritten: boolean;
  /** The plan shown for the proposal this commit merged (a status-branch path), if any. */
  plan: string | null;
}

/** Largest `?limit=` of GET /api/v1/commits, and its default. */
export const MAX_COMMITS_LIMIT = 500;
export const DEFAULT_COMMITS_LIMIT = 50;

/**
 * Commits newest first (by when coxswain saw them, then by sha), at most `limit`; `total` counts them
 * all. `authors` holds what Git says of the commits on this page (absent: null).
 */
export function commitsView(state: StatusState, limit: number, authors: ReadonlyMap<string, CommitAuthor>): { total: number; limit: number; commits: CommitView[] } {
  const sorted = newestFirst(state.commits);
  return { total: sorted.length, limit, commits: sorted.slice(0, limit).map((c) => commitView(state, c, authors.get(c.commit))) };
}

/** The commits of a page of commitsView, to look their authors up first. */
export function commitPage(state: StatusState, limit: number): string[] {
  return newestFirst(state.commits)
    .slice(0, limit)
    .map((c) => c.commit);
}

/** The record of `sha` (a full sha, or a prefix of at least 4 hex digits naming one commit), if any. */
export function findCommit(state: StatusState, sha: string): CommitRecord | undefined {
  if (!/^[0-9a-f]{4,40}$/.test(sha)) return undefined;
  const found = state.commits.filter((c) => c.commit.startsWith(sha));
  return found.length === 1 ? found[0] : undefined;
}

/** One commit's view. */
export function commitView(state: StatusState, c: CommitRecord, author: CommitAuthor | undefined): CommitView {
  return {
    sha: c.commit,
    branch: c.branch,
    subject: c.subject,
    author: author ?? null,
    phase: c.phase,
    message: c.message,
    timings: { ...c.timings },
    changes: [...c.changes],
    errors: c.errors.map((e) => ({ ...e })),
    applied: state.summary?.applied === c.commit,
    stable: state.summary?.stable === c.commit,
    quarantined: c.quarantined === true,
    supersededBy: c.supersededBy ?? null,
    rollback: c.rollback ? { ...c.rollback } : null,
    revert: c.revert ? { ...c.revert } : null,
    historyRewritten: c.historyRewritten === true,
    plan: c.plan ?? null,
  };
}

/** A workload in the list: what a table row needs (the detail has pods, events, revisions, …). */
export interface WorkloadSummaryView {
  kind: string;
  namespace: string;
  name: string;
  revision: string;
  commit: string;
  strategy: string | null;
  paused: boolean;
  replicas: WorkloadRecord["replicas"];
  conditions: WorkloadRecord["conditions"];
}

/** Every workload, by namespace, kind and name. */
export function workloadsView(state: StatusState): { workloads: WorkloadSummaryView[] } {
  return {
    workloads: sortWorkloads(state.workloads).map((w) => ({
      kind: w.kind,
      namespace: w.namespace,
      name: w.name,
      revision: w.revision,
      commit: w.commit,
      strategy: w.strategy ?? null,
      paused: w.paused === true,
      replicas: { ...w.replicas },
      conditions: w.conditions.map((c) => ({ ...c })),
    })),
  };
}

/**
 * One workload's whole record (pods with their endpoints, conditions, events, revision history, canary,
 * blue/green and traffic state), found case-insensitively by kind; namespace `_cluster` names the
 * cluster scope.
 */
export function findWorkload(state: StatusState, kind: string, namespace: string, name: string): WorkloadRecord | undefined {
  const ns = namespace === CLUSTER_SCOPE ? "" : namespace;
  return state.workloads.find((w) => w.kind.toLowerCase() === kind.toLowerCase() && w.namespace === ns && w.name === name);
}

/** A node as the API shows it. */
export interface NodeView {
  name: string;
  /** Kubernetes' node condition: Ready while it answers (or within its grace period). */
  condition: "Ready" | "NotReady";
  ready: boolean;
  /** Its pods count as lost (NotReady past the eviction timeout). */
  evicted: boolean;
  unschedulable: boolean;
  draining: boolean;
  /** Removed from Git, draining before it leaves the fleet. */
  leaving: boolean;
  address: string;
  labels: Record<string, string>;
  taints: { key: string; value: string; effect: string }[];
  /** What pods may use and what they ask for; null while the node has not answered. */
  allocatable: { cpuMillis: number; memoryBytes: number; pods: number } | null;
  requested: { cpuMillis: number; memoryBytes: number; pods: number } | null;
  pods: number;
  lastSeenAt: string | null;
  /** Why it is not ready, or what holds its drain. */
  message: string | null;
}

/** Every node, by name: the fleet's observation, the scheduler's accounting, the summary's message. */
export function nodesView(state: StatusState, nodes: readonly ObservedNode[], snapshot: readonly NodeSnapshot[]): { nodes: NodeView[] } {
  const snap = new Map(snapshot.map((s) => [s.name, s]));
  const summary = new Map((state.summary?.nodes ?? []).map((n) => [n.name, n]));
  return {
    nodes: [...nodes]
      .sort((a, b) => cmp(a.config.name, b.config.name))
      .map((n) => {
        const s = snap.get(n.config.name);
        const line = summary.get(n.config.name);
        return {
          name: n.config.name,
          condition: n.condition,
          ready: n.condition === "Ready",
          evicted: n.evicted,
          unschedulable: n.config.unschedulable || n.config.drain === true,
          draining: n.config.drain === true,
          leaving: n.leaving,
          address: n.config.address,
          labels: Object.fromEntries(Object.entries(n.config.labels).sort(([a], [b]) => cmp(a, b))),
          taints: (n.config.taints ?? []).map((t) => ({ key: t.key, value: t.value ?? "", effect: t.effect })),
          allocatable: s ? { cpuMillis: s.allocatable.cpuMillis, memoryBytes: s.allocatable.memoryBytes, pods: s.allocatable.pods } : null,
          requested: s ? { cpuMillis: s.requested.cpuMillis, memoryBytes: s.requested.memoryBytes, pods: s.podCount } : null,
          pods: n.pods,
          lastSeenAt: n.lastSeenAt !== undefined ? new Date(n.lastSeenAt).toISOString() : null,
          message: n.error?.message ?? line?.message ?? null,
        };
      }),
  };
}

/** The Services' status files (services/<ns>/<name>.yaml), by namespace and name; none when no Service exists. */
export function servicesView(state: StatusState): { services: ServiceRecord[] } {
  return {
    services: state.extra
      .filter((f) => /^services\/[^/]+\/[^/]+\.yaml$/.test(f.path))
      .sort((a, b) => cmp(a.path, b.path))
      .flatMap((f) => readServiceRecord(f.content) ?? []),
  };
}

/** A running preview environment. */
export interface PreviewView {
  name: string;
  ref: string;
  commit: string;
  namespaces: string[];
  expiresAt: string;
}

/** Proposals' plans (plans/<name>.yaml) by name, and the running previews by name. */
export function proposalsView(
  state: StatusState,
  previews: readonly { name: string; ref: string; commit: string; namespaces: readonly string[]; expiresAt: number }[],
): {
  proposals: (PlanRecord & { name: string })[];
  previews: PreviewView[];
} {
  const proposals: (PlanRecord & { name: string })[] = [];
  for (const f of [...state.extra].sort((a, b) => cmp(a.path, b.path))) {
    const m = /^plans\/(.+)\.yaml$/.exec(f.path);
    if (!m) continue;
    try {
      const p = parsePlan(f.content);
      proposals.push({ name: m[1]!, ...p });
    } catch {
      // A plan file that cannot be read is left out (coxswain status reports such files).
    }
  }
  return {
    proposals,
    previews: [...previews].sort((a, b) => cmp(a.name, b.name)).map((p) => ({ name: p.name, ref: p.ref, commit: p.commit, namespaces: [...p.namespaces].sort(cmp), expiresAt: new Date(p.expiresAt).toISOString() })),
  };
}

function newestFirst(commits: readonly CommitRecord[]): CommitRecord[] {
  return [...commits].sort((a, b) => cmp(b.timings.seen, a.timings.seen) || cmp(a.commit, b.commit));
}

function sortWorkloads(ws: readonly WorkloadRecord[]): WorkloadRecord[] {
  return [...ws].sort((a, b) => cmp(a.namespace, b.namespace) || cmp(a.kind, b.kind) || cmp(a.name, b.name));
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
