/**
 * Kubernetes' matching rules, compiled once and evaluated many times: label selectors (apimachinery labels),
 * node selector terms (component-helpers nodeaffinity), tolerations (v1.Toleration.ToleratesTaint), host-port
 * conflicts (framework.HostPortInfo) and image names (ImageLocality's normalizedImageName).
 *
 * Each compiled form carries a canonical signature, so that equal rules written twice share caches.
 */
import type { HostPort, LabelSelector, LabelSelectorRequirement, NodeSelectorRequirement, NodeSelectorTerm, Taint, Toleration } from "./types.js";

/** Labels as they are matched: a plain record. */
export type Labels = Readonly<Record<string, string>>;

/** A compiled label selector. kind tells the two special cases apart, which some rules treat specially. */
export interface Selector {
  /** "everything" = the empty selector {}; "nothing" = an absent selector; "match" = anything else. */
  readonly kind: "everything" | "nothing" | "match";
  /** Canonical text of the selector: equal selectors have equal signatures. */
  readonly sig: string;
  /** `key = value` requirements every matching label set has (for indexed lookups); may be empty. */
  readonly equalities: readonly (readonly [string, string])[];
  matches(labels: Labels): boolean;
}

const EVERYTHING: Selector = { kind: "everything", sig: "*", equalities: [], matches: () => true };
const NOTHING: Selector = { kind: "nothing", sig: "!", equalities: [], matches: () => false };

/** A selector requirement reduced to what evaluation needs. */
interface Requirement {
  key: string;
  op: "In" | "NotIn" | "Exists" | "DoesNotExist";
  values: readonly string[];
}

function requirementSig(r: Requirement): string {
  return `${r.key}\u0001${r.op}\u0001${[...r.values].sort().join("\u0002")}`;
}

function compileRequirement(r: Requirement): (labels: Labels) => boolean {
  const key = r.key;
  switch (r.op) {
    case "Exists":
      return (l) => Object.hasOwn(l, key);
    case "DoesNotExist":
      return (l) => !Object.hasOwn(l, key);
    case "In": {
      if (r.values.length === 1) {
        const v = r.values[0]!;
        return (l) => l[key] === v;
      }
      const set = new Set(r.values);
      return (l) => {
        const v = l[key];
        return v !== undefined && Object.hasOwn(l, key) && set.has(v);
      };
    }
    case "NotIn": {
      const set = new Set(r.values);
      return (l) => !Object.hasOwn(l, key) || !set.has(l[key]!);
    }
  }
}

/** Compiles a list of requirements (ANDed). An empty list matches everything. */
function compileRequirements(reqs: Requirement[]): Selector {
  if (reqs.length === 0) return EVERYTHING;
  const sorted = [...reqs].sort((a, b) => (requirementSig(a) < requirementSig(b) ? -1 : 1));
  const sig = sorted.map(requirementSig).join("\u0003");
  const tests = sorted.map(compileRequirement);
  const equalities = sorted.filter((r) => r.op === "In" && r.values.length === 1).map((r) => [r.key, r.values[0]!] as const);
  if (tests.length === 1) return { kind: "match", sig, equalities, matches: tests[0]! };
  return {
    kind: "match",
    sig,
    equalities,
    matches(labels) {
      for (let i = 0; i < tests.length; i++) if (!tests[i]!(labels)) return false;
      return true;
    },
  };
}

function selectorRequirements(s: LabelSelector): Requirement[] {
  const reqs: Requirement[] = [];
  for (const [key, value] of Object.entries(s.matchLabels ?? {})) reqs.push({ key, op: "In", values: [value] });
  for (const e of s.matchExpressions ?? []) reqs.push(labelRequirement(e));
  return reqs;
}

function labelRequirement(e: LabelSelectorRequirement): Requirement {
  return { key: e.key, op: e.operator, values: e.values ?? [] };
}

/**
 * Compiles a metav1.LabelSelector as metav1.LabelSelectorAsSelector does: undefined matches nothing, {} matches
 * everything, otherwise matchLabels and matchExpressions ANDed. `extra` adds requirements (matchLabelKeys).
 */
export function compileLabelSelector(s: LabelSelector | undefined, extra: readonly LabelSelectorRequirement[] = []): Selector {
  if (s === undefined) return NOTHING;
  const reqs = selectorRequirements(s);
  for (const e of extra) reqs.push(labelRequirement(e));
  return compileRequirements(reqs);
}

/**
 * The requirements matchLabelKeys / mismatchLabelKeys add for a pod: `key in (value)` / `key notin (value)` for
 * each key the pod carries (keys it does not carry are ignored, as in Kubernetes).
 */
export function labelKeyRequirements(podLabels: Labels, matchLabelKeys: readonly string[] = [], mismatchLabelKeys: readonly string[] = []): LabelSelectorRequirement[] {
  const out: LabelSelectorRequirement[] = [];
  for (const key of matchLabelKeys) if (Object.hasOwn(podLabels, key)) out.push({ key, operator: "In", values: [podLabels[key]!] });
  for (const key of mismatchLabelKeys) if (Object.hasOwn(podLabels, key)) out.push({ key, operator: "NotIn", values: [podLabels[key]!] });
  return out;
}

/** A compiled node selector term or set of terms: matches a node by its labels and name. */
export interface NodeMatcher {
  readonly sig: string;
  matches(labels: Labels, name: string): boolean;
}

/** Parses a Kubernetes integer the way strconv.ParseInt(s, 10, 64) accepts it; undefined when it is not one. */
function parseInteger(s: string): number | undefined {
  return /^[+-]?\d+$/.test(s) ? Number(s) : undefined;
}

function compileNodeRequirement(r: NodeSelectorRequirement, field: boolean): (labels: Labels, name: string) => boolean {
  const values = r.values ?? [];
  if (field) {
    // matchFields: only metadata.name, In/NotIn with values (validation enforces it; anything else never matches).
    if (r.key !== "metadata.name") return () => false;
    const set = new Set(values);
    if (r.operator === "In") return (_l, name) => set.has(name);
    if (r.operator === "NotIn") return (_l, name) => !set.has(name);
    return () => false;
  }
  const key = r.key;
  switch (r.operator) {
    case "In":
    case "NotIn":
    case "Exists":
    case "DoesNotExist": {
      const t = compileRequirement({ key, op: r.operator, values });
      return (l) => t(l);
    }
    case "Gt":
    case "Lt": {
      const bound = values.length === 1 ? parseInteger(values[0]!) : undefined;
      if (bound === undefined) return () => false;
      const gt = r.operator === "Gt";
      return (l) => {
        const v = l[key];
        if (v === undefined || !Object.hasOwn(l, key)) return false;
        const n = parseInteger(v);
        if (n === undefined) return false;
        return gt ? n > bound : n < bound;
      };
    }
  }
}

function nodeRequirementSig(r: NodeSelectorRequirement, field: boolean): string {
  return `${field ? "F" : "L"}\u0001${r.key}\u0001${r.operator}\u0001${[...(r.values ?? [])].sort().join("\u0002")}`;
}

/** Compiles one NodeSelectorTerm (requirements ANDed; a term without requirements matches no node). */
export function compileNodeSelectorTerm(term: NodeSelectorTerm): NodeMatcher {
  const parts: { sig: string; test: (l: Labels, name: string) => boolean }[] = [];
  for (const r of term.matchExpressions ?? []) parts.push({ sig: nodeRequirementSig(r, false), test: compileNodeRequirement(r, false) });
  for (const r of term.matchFields ?? []) parts.push({ sig: nodeRequirementSig(r, true), test: compileNodeRequirement(r, true) });
  if (parts.length === 0) return { sig: "!", matches: () => false };
  parts.sort((a, b) => (a.sig < b.sig ? -1 : a.sig > b.sig ? 1 : 0));
  const tests = parts.map((p) => p.test);
  return {
    sig: parts.map((p) => p.sig).join("\u0003"),
    matches(labels, name) {
      for (let i = 0; i < tests.length; i++) if (!tests[i]!(labels, name)) return false;
      return true;
    },
  };
}

/**
 * A pod's required node affinity (nodeaffinity.GetRequiredNodeAffinity): every nodeSelector label AND at least
 * one of the required terms. Undefined when the pod has neither (every node matches).
 */
export function compileRequiredNodeAffinity(nodeSelector: Labels | undefined, terms: readonly NodeSelectorTerm[] | undefined): NodeMatcher | undefined {
  const hasSelector = nodeSelector !== undefined && Object.keys(nodeSelector).length > 0;
  if (!hasSelector && terms === undefined) return undefined;
  const selector = hasSelector ? compileLabelSelector({ matchLabels: nodeSelector }) : EVERYTHING;
  const compiled = (terms ?? []).map(compileNodeSelectorTerm);
  const termSigs = compiled.map((t) => t.sig).sort();
  const sig = `${selector.sig}\u0004${terms === undefined ? "-" : termSigs.join("\u0005")}`;
  return {
    sig,
    matches(labels, name) {
      if (!selector.matches(labels)) return false;
      if (terms === undefined) return true;
      for (let i = 0; i < compiled.length; i++) if (compiled[i]!.matches(labels, name)) return true;
      return false;
    },
  };
}

/** v1.Toleration.ToleratesTaint: effect (empty = any), key (empty = any, with Exists), then value by operator. */
export function toleratesTaint(t: Toleration, taint: Taint): boolean {
  if (t.effect !== undefined && t.effect !== (taint.effect as string) && (t.effect as string) !== "") return false;
  if (t.key !== undefined && t.key !== "" && t.key !== taint.key) return false;
  const op = t.operator ?? "Equal";
  if (op === "Exists") return true;
  if (op === "Equal") return (t.value ?? "") === (taint.value ?? "");
  return false;
}

/** Whether any toleration tolerates the taint (v1helper.TolerationsTolerateTaint). */
export function tolerationsTolerate(tolerations: readonly Toleration[], taint: Taint): boolean {
  for (const t of tolerations) if (toleratesTaint(t, taint)) return true;
  return false;
}

/** Canonical text of a toleration list (order does not matter for matching). */
export function tolerationsSig(tolerations: readonly Toleration[] | undefined): string {
  if (tolerations === undefined || tolerations.length === 0) return "";
  return tolerations
    .map((t) => `${t.key ?? ""}\u0001${t.operator ?? "Equal"}\u0001${t.value ?? ""}\u0001${t.effect ?? ""}`)
    .sort()
    .join("\u0002");
}

/** A host port reduced to its conflict key ("TCP/8080") and address. */
export interface NormalizedHostPort {
  readonly key: string;
  readonly ip: string;
}

/** The bind-all address: a port on it conflicts with the same port on any address. */
const BIND_ALL = "0.0.0.0";

/** Normalizes host ports as HostPortInfo.sanitize (empty ip → 0.0.0.0, empty protocol → TCP); drops ports ≤ 0. */
export function normalizeHostPorts(ports: readonly HostPort[] | undefined): NormalizedHostPort[] {
  const out: NormalizedHostPort[] = [];
  for (const p of ports ?? []) {
    if (!(p.port > 0)) continue;
    out.push({ key: `${p.protocol ?? "TCP"}/${p.port}`, ip: p.hostIP === undefined || p.hostIP === "" ? BIND_ALL : p.hostIP });
  }
  return out;
}

/**
 * The host ports in use on one node, counted (a multiset: two pods may hold the same port on different
 * addresses, and preemption gives ports back one pod at a time).
 */
export class HostPortSet {
  private readonly byKey = new Map<string, Map<string, number>>();

  add(p: NormalizedHostPort): void {
    let ips = this.byKey.get(p.key);
    if (ips === undefined) this.byKey.set(p.key, (ips = new Map()));
    ips.set(p.ip, (ips.get(p.ip) ?? 0) + 1);
  }

  remove(p: NormalizedHostPort): void {
    const ips = this.byKey.get(p.key);
    const n = ips?.get(p.ip);
    if (ips === undefined || n === undefined) return;
    if (n <= 1) ips.delete(p.ip);
    else ips.set(p.ip, n - 1);
    if (ips.size === 0) this.byKey.delete(p.key);
  }

  /** HostPortInfo.CheckConflict: 0.0.0.0 conflicts with any address; another address with itself and 0.0.0.0. */
  conflicts(p: NormalizedHostPort): boolean {
    const ips = this.byKey.get(p.key);
    if (ips === undefined) return false;
    if (p.ip === BIND_ALL) return ips.size > 0;
    return ips.has(BIND_ALL) || ips.has(p.ip);
  }
}

/** ImageLocality's normalizedImageName: a name without a tag gets ":latest" (a ':' before the last '/' is a registry port). */
export function normalizeImageName(name: string): string {
  return name.lastIndexOf(":") <= name.lastIndexOf("/") ? `${name}:latest` : name;
}

/** Canonical text of a label record (sorted keys), for caches keyed by labels. */
export function labelsSig(labels: Labels): string {
  const keys = Object.keys(labels);
  if (keys.length === 0) return "";
  keys.sort();
  let s = "";
  for (const k of keys) s += `${k}\u0001${labels[k]}\u0002`;
  return s;
}
