/**
 * Preview environments: a proposal's objects running on the deploy branch's fleet, in namespaces of their
 * own, beside what the deploy branch runs.
 *
 * - previewGraph (pure) turns a proposal's graph into its preview graph: every namespaced object moves from
 *   namespace N to previewNamespace(proposal, N) ("pv-<proposal>-<N>", a DNS label of at most 63
 *   characters, with a hash when the name had to be shortened or changed), Namespace objects are renamed
 *   the same way and undeclared namespaces ("default") are declared, Node objects are dropped (the fleet
 *   is the deploy branch's), and references stay consistent: ConfigMap and Secret references are
 *   namespace-relative and follow, coxswain.io/depends-on entries naming a namespace are rewritten (entries
 *   naming Nodes dropped), and the dependency edges are carried over. Host ports never collide: the fleet
 *   assigns them from each node's range, as for any pod.
 * - Previews holds the running previews; CompositeView is the DesiredView and WorkloadReporter handed to
 *   the workload controllers: keys in a preview namespace go to the preview that owns it (no preview: not
 *   desired, its pods go), every other key to the deploy branch's BranchSync. A key the deploy branch's graph
 *   has always goes to the deploy branch, so a repository that declares a "pv-…" namespace itself keeps it.
 *   Preview workloads are reported to the status store (workloads/<preview namespace>/…) but never to the
 *   deploy branch's sync, so a preview's rollout never changes a deploy commit's phase.
 * - Previews run only while the deploy branch has an applied commit (the controllers touch nothing before
 *   that), and without a coordinated rollout: every preview workload follows its proposal's head at once.
 */
import { createHash } from "node:crypto";
import type { WorkloadEvent } from "../api/conditions.js";
import { silentLogger, workloadFields, type Logger } from "../api/log.js";
import { DEFAULT_NAMESPACE, KINDS, isKind, type DesiredObject, type Namespace } from "../api/objects.js";
import type { DesiredEntry, DesiredView, WorkloadReporter, WorkloadState } from "../controllers/types.js";
import { DEPENDS_ON_ANNOTATION, DesiredGraph, parseDependsOn, type GraphEdge, type GraphNode } from "../graph/index.js";
import type { StatusStore } from "../status/store.js";
import type { WorkloadRecord } from "../status/types.js";
import { isWorkloadKey } from "./gate.js";

/** Every preview namespace starts with this. */
const PREVIEW_PREFIX = "pv-";
/** Label on the Namespace objects of a preview: the proposal's plan name. */
const PREVIEW_LABEL = "coxswain.io/preview";

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/**
 * The namespace where a proposal's objects of namespace `ns` run: "pv-<proposal>-<ns>" when that is a DNS
 * label of at most 63 characters made of the names as they are; otherwise "pv-<hash8>-<slug>" cut to 63
 * characters, the hash taken over both names so that different proposals never share a namespace. Pure.
 */
export function previewNamespace(proposal: string, ns: string): string {
  const plain = `${PREVIEW_PREFIX}${proposal}-${ns}`;
  if (plain.length <= 63 && DNS_LABEL.test(plain)) return plain;
  const slug = `${proposal}-${ns}`
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/-+/g, "-")
    .replace(/^-+|-+$/g, "");
  const hash = createHash("sha256").update(`${proposal}\n${ns}`).digest("hex").slice(0, 8);
  return `${PREVIEW_PREFIX}${hash}-${slug}`.slice(0, 63).replace(/-+$/, "");
}

/** A proposal's preview graph and the namespaces it uses. */
export interface PreviewGraph {
  graph: DesiredGraph;
  /** Preview namespaces, sorted. */
  namespaces: string[];
}

/** The namespace part of a key ("Deployment/ns/name" → "ns"); undefined for cluster-scoped keys. */
export function namespaceOfKey(key: string): string | undefined {
  const parts = key.split("/");
  const kind = parts[0];
  return isKind(kind) && KINDS[kind].namespaced && parts.length === 3 ? parts[1] : undefined;
}

/** Builds a proposal's preview graph (see the module comment). Pure. */
export function previewGraph(source: DesiredGraph, proposal: string): PreviewGraph {
  const mapping = new Map<string, string>();
  const nsOf = (ns: string): string => {
    let m = mapping.get(ns);
    if (m === undefined) mapping.set(ns, (m = previewNamespace(proposal, ns)));
    return m;
  };
  const renameKey = (key: string): string | undefined => {
    const parts = key.split("/");
    const kind = parts[0]!;
    if (kind === "Node") return undefined;
    if (kind === "Namespace") return `Namespace/${nsOf(parts[1]!)}`;
    if (parts.length === 3) return `${kind}/${nsOf(parts[1]!)}/${parts[2]}`;
    return key;
  };
  const rewriteDependsOn = (obj: DesiredObject, ns: string | undefined): void => {
    const value = obj.metadata.annotations?.[DEPENDS_ON_ANNOTATION];
    if (value === undefined) return;
    const entries: string[] = [];
    for (const e of parseDependsOn(value, ns)) {
      if ("error" in e) {
        entries.push(e.entry);
        continue;
      }
      const parts = e.entry.split("/");
      if (parts[0] === "Node") continue;
      entries.push(parts.length === 3 ? `${parts[0]}/${nsOf(parts[1]!)}/${parts[2]}` : e.entry);
    }
    obj.metadata.annotations![DEPENDS_ON_ANNOTATION] = entries.join(", ");
  };

  const nodes: GraphNode[] = [];
  for (const key of source.keys()) {
    const entry = source.get(key)!;
    const o = entry.object;
    if (o.kind === "Node") continue;
    const copy = structuredClone(o) as DesiredObject;
    copy.metadata = { ...copy.metadata, ...(copy.metadata.annotations ? { annotations: { ...copy.metadata.annotations } } : {}) };
    if (copy.kind === "Namespace") {
      copy.metadata.name = nsOf(o.metadata.name);
      copy.metadata.labels = { ...(copy.metadata.labels ?? {}), [PREVIEW_LABEL]: proposal };
      rewriteDependsOn(copy, undefined);
    } else if (KINDS[copy.kind].namespaced) {
      const ns = o.metadata.namespace ?? DEFAULT_NAMESPACE;
      copy.metadata.namespace = nsOf(ns);
      rewriteDependsOn(copy, ns);
    } else rewriteDependsOn(copy, undefined);
    nodes.push({ object: copy, ...(entry.source ? { source: entry.source } : {}) });
  }
  const edges: GraphEdge[] = [];
  for (const e of source.edges()) {
    const from = renameKey(e.from);
    const to = renameKey(e.to);
    if (from !== undefined && to !== undefined) edges.push({ from, to });
  }
  // Namespaces the proposal uses without declaring them ("default") are declared, as the deploy branch
  // never has to; their objects depend on them as on any declared namespace.
  const declared = new Set(source.ofKind("Namespace").map((n) => n.object.metadata.name));
  for (const [src, pv] of [...mapping].sort()) {
    if (declared.has(src)) continue;
    const ns: Namespace = { apiVersion: "v1", kind: "Namespace", metadata: { name: pv, labels: { [PREVIEW_LABEL]: proposal } } };
    nodes.push({ object: ns });
    for (const n of nodes)
      if (n.object.kind !== "Namespace" && KINDS[n.object.kind].namespaced && n.object.metadata.namespace === pv) edges.push({ from: `Namespace/${pv}`, to: `${n.object.kind}/${pv}/${n.object.metadata.name}` });
  }
  return { graph: new DesiredGraph(nodes, edges), namespaces: [...new Set(mapping.values())].sort() };
}

/** One running preview environment. */
export interface PreviewEnv {
  /** The proposal's plan name ("pr-login", "pr-12"). */
  name: string;
  /** The proposal's ref. */
  ref: string;
  /** The commit whose objects run. */
  commit: string;
  graph: DesiredGraph;
  namespaces: string[];
  /** Epoch ms after which the preview is removed unless the proposal gets a new head. */
  expiresAt: number;
}

/** How a preview is doing, from its workloads' reports. */
export interface PreviewProgress {
  /** "Progressing" until every workload completed at the preview's commit, then "Running"; "Failed" when one failed. */
  state: "Progressing" | "Running" | "Failed";
  /** One line: the failed workload's message, or counts. */
  message: string;
}

/**
 * The previews that run, by name and by namespace, and their workloads' states. set() and remove() return
 * the workload keys whose desired state changed: the caller queues them.
 */
export class Previews {
  private readonly byName = new Map<string, PreviewEnv>();
  private readonly byNamespace = new Map<string, PreviewEnv>();
  private readonly states = new Map<string, WorkloadState>();

  /** Starts or updates a preview; returns the workload keys to queue (old and new), sorted. */
  set(env: PreviewEnv): string[] {
    const old = this.byName.get(env.name);
    const keys = new Set<string>();
    if (old) {
      for (const ns of old.namespaces) this.byNamespace.delete(ns);
      for (const k of old.graph.keys()) if (isWorkloadKey(k)) keys.add(k);
    }
    this.byName.set(env.name, env);
    for (const ns of env.namespaces) this.byNamespace.set(ns, env);
    for (const k of env.graph.keys()) if (isWorkloadKey(k)) keys.add(k);
    return [...keys].sort();
  }

  /** Stops a preview (its pods go); returns the workload keys to queue, sorted. */
  remove(name: string): string[] {
    const old = this.byName.get(name);
    if (!old) return [];
    this.byName.delete(name);
    for (const ns of old.namespaces) if (this.byNamespace.get(ns) === old) this.byNamespace.delete(ns);
    return old.graph.keys().filter(isWorkloadKey).sort();
  }

  /** The preview of a proposal. */
  get(name: string): PreviewEnv | undefined {
    return this.byName.get(name);
  }

  /** Every running preview, sorted by name. */
  list(): PreviewEnv[] {
    return [...this.byName.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  /** The preview that owns a namespace. */
  ofNamespace(ns: string): PreviewEnv | undefined {
    return this.byNamespace.get(ns);
  }

  /** What a preview workload's controller drives: the object of its preview graph, or undefined (its pods go). */
  entry(key: string): DesiredEntry | undefined {
    const ns = namespaceOfKey(key);
    const env = ns === undefined ? undefined : this.byNamespace.get(ns);
    const m = env?.graph.get(key);
    return env && m ? { object: m.object, graph: env.graph, commit: env.commit, paused: false } : undefined;
  }

  /** Records a preview workload's state. */
  setState(state: WorkloadState): void {
    this.states.set(state.key, state);
  }

  /** Forgets a preview workload's state. */
  clearState(key: string): void {
    this.states.delete(key);
  }

  /** How a preview is doing (see PreviewProgress). */
  progress(name: string): PreviewProgress | undefined {
    const env = this.byName.get(name);
    if (!env) return undefined;
    const keys = env.graph.keys().filter(isWorkloadKey);
    let done = 0;
    for (const k of keys) {
      const s = this.states.get(k);
      if (s?.commit !== env.commit) continue;
      if (s.failed) return { state: "Failed", message: s.message };
      if (s.complete) done++;
    }
    return done === keys.length ? { state: "Running", message: `${done}/${keys.length} workload(s) ready` } : { state: "Progressing", message: `${done}/${keys.length} workload(s) ready` };
  }
}

/**
 * The DesiredView and WorkloadReporter of the workload controllers when previews run: routes each key to
 * the deploy branch (`branch`, the BranchSync) or to the preview that owns its namespace (see the module
 * comment). graph() and commit() are the deploy branch's: nothing runs before it has applied a commit.
 */
export class CompositeView implements DesiredView, WorkloadReporter {
  constructor(
    private readonly branch: DesiredView & WorkloadReporter,
    private readonly previews: Previews,
    private readonly opts: { store: StatusStore; scheduleStatusWrite: () => void; onPreviewChange?: (name: string) => void; log?: Logger },
  ) {}

  /** True when `key` is a preview's: in a preview namespace, and not an object of the deploy branch. */
  isPreviewKey(key: string): boolean {
    const ns = namespaceOfKey(key);
    if (ns === undefined || !ns.startsWith(PREVIEW_PREFIX)) return false;
    return !this.branch.graph()?.has(key);
  }

  graph() {
    return this.branch.graph();
  }

  commit(): string | undefined {
    return this.branch.commit();
  }

  ready(): boolean {
    return this.branch.ready?.() !== false;
  }

  entry(key: string): DesiredEntry | undefined {
    if (!this.isPreviewKey(key)) return this.branch.entry(key);
    return this.branch.graph() ? this.previews.entry(key) : undefined;
  }

  async objectAt(commit: string, key: string) {
    if (!this.isPreviewKey(key)) return this.branch.objectAt?.(commit, key);
    const env = this.previews.ofNamespace(namespaceOfKey(key)!);
    const m = env && env.commit === commit ? env.graph.get(key) : undefined;
    return m && env ? { object: m.object, graph: env.graph } : undefined;
  }

  report(record: WorkloadRecord, state: WorkloadState): void {
    if (!this.isPreviewKey(state.key)) {
      this.branch.report(record, state);
      return;
    }
    this.opts.store.setWorkload(record);
    this.previews.setState(state);
    this.opts.scheduleStatusWrite();
    const env = this.previews.ofNamespace(record.namespace);
    if (env) this.opts.onPreviewChange?.(env.name);
  }

  removed(key: string): void {
    if (!this.isPreviewKey(key)) {
      this.branch.removed(key);
      return;
    }
    const [kind, namespace, name] = key.split("/") as [string, string, string];
    this.opts.store.removeWorkload(kind, namespace, name);
    this.previews.clearState(key);
    this.opts.scheduleStatusWrite();
  }

  previousEvents(key: string): WorkloadEvent[] {
    if (!this.isPreviewKey(key)) return this.branch.previousEvents(key);
    const [kind, namespace, name] = key.split("/") as [string, string, string];
    return [...(this.opts.store.getWorkload(kind, namespace, name)?.events ?? [])];
  }

  previousRecord(key: string): WorkloadRecord | undefined {
    if (!this.isPreviewKey(key)) return this.branch.previousRecord?.(key);
    const [kind, namespace, name] = key.split("/") as [string, string, string];
    return this.opts.store.getWorkload(kind, namespace, name);
  }

  log(key: string): Logger {
    if (!this.isPreviewKey(key)) return this.branch.log(key);
    return (this.opts.log ?? silentLogger).child(workloadFields(key, this.entry(key)?.commit));
  }
}
