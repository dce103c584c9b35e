/**
 * Plans: what applying one commit after another would do — objects created, updated (with the fields that
 * changed), deleted, and which Deployments would roll to a new revision. Pure once both commits are read.
 * `coxswain plan` prints it; PR plans (a later issue) reuse it.
 */
import type { ConfigMap, Deployment } from "../api/objects.js";
import { diffGraphs, DesiredGraph, type Change } from "../graph/index.js";
import type { Diagnostic } from "../manifest/types.js";
import { formatDiagnostic } from "../manifest/types.js";
import { planTemplate } from "../controllers/deployment/template.js";
import type { Repository } from "../source/types.js";
import { loadCommit, short } from "./branch-sync.js";

/** One planned change. */
export interface PlannedChange {
  action: Change["action"];
  key: string;
  /** For updates: changed field paths, sorted. */
  fields: string[];
  /** For Deployments whose pod template (or read config) changes: the revision they roll to. */
  rollsTo?: { revision: string; replicas: number };
}

/** A plan between two commits. */
export interface Plan {
  /** undefined = from nothing. */
  from?: string;
  to: string;
  changes: PlannedChange[];
  /** Diagnostics of `to` (errors mean the commit would not apply). */
  diagnostics: Diagnostic[];
  valid: boolean;
}

/** Computes the plan of applying `to` after `from` (graph order: dependencies first, deletions last). */
export function planGraphs(before: DesiredGraph | undefined, after: DesiredGraph): PlannedChange[] {
  const revisionOf = (g: DesiredGraph | undefined, key: string): string | undefined => {
    const o = g?.get(key)?.object;
    if (!g || !o || o.kind !== "Deployment") return undefined;
    return planTemplate(o, (k) => g.get(k)?.object as ConfigMap | undefined).revision;
  };
  const changes = diffGraphs(before, after).changes.map((c): PlannedChange => {
    const out: PlannedChange = { action: c.action, key: c.key, fields: [...(c.fields ?? [])] };
    return out;
  });
  // A Deployment rolls when its revision changes, also when only a ConfigMap it reads changed.
  const byKey = new Map(changes.map((c) => [c.key, c]));
  for (const m of after.ofKind("Deployment")) {
    const next = revisionOf(after, m.key)!;
    const prev = revisionOf(before, m.key);
    if (prev === next) continue;
    let change = byKey.get(m.key);
    if (!change) {
      change = { action: "update", key: m.key, fields: ["(referenced ConfigMap data)"] };
      byKey.set(m.key, change);
      changes.push(change);
    }
    change.rollsTo = { revision: next, replicas: (m.object as Deployment).spec.replicas ?? 1 };
  }
  const order = new Map(after.order().map((k, i) => [k, i]));
  const rank = (c: PlannedChange) => (c.action === "delete" ? Number.MAX_SAFE_INTEGER : (order.get(c.key) ?? 0));
  return changes.sort((a, b) => rank(a) - rank(b) || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/** Reads both commits and plans. */
export async function planCommits(repo: Repository, from: string | undefined, to: string, path: string): Promise<Plan> {
  const target = await loadCommit(repo, to, path);
  if (!target.graph) return { ...(from ? { from } : {}), to, changes: [], diagnostics: target.diagnostics, valid: false };
  const base = from ? await loadCommit(repo, from, path) : undefined;
  return {
    ...(from ? { from } : {}),
    to,
    changes: planGraphs(base?.graph, target.graph),
    diagnostics: target.diagnostics,
    valid: true,
  };
}

/** Human form of a plan, one change per line. */
export function formatPlan(plan: Plan): string[] {
  const lines = [`plan ${plan.from ? short(plan.from) : "(nothing)"}..${short(plan.to)}`];
  for (const d of plan.diagnostics) lines.push(`  ${formatDiagnostic(d)}`);
  if (!plan.valid) {
    lines.push(`${plan.diagnostics.filter((d) => d.severity === "error").length} error(s): this commit would not be applied`);
    return lines;
  }
  for (const c of plan.changes) {
    let line = `  ${c.action} ${c.key}`;
    if (c.action === "update" && c.fields.length) line += ` (${c.fields.join(", ")})`;
    if (c.rollsTo) line += ` → rolls out revision ${c.rollsTo.revision} (${c.rollsTo.replicas} replicas)`;
    lines.push(line);
  }
  const count = (a: string) => plan.changes.filter((c) => c.action === a).length;
  lines.push(
    plan.changes.length === 0
      ? "no changes"
      : `${count("create")} to create, ${count("update")} to update, ${count("delete")} to delete`,
  );
  return lines;
}
