/**
 * The diff of two desired-state graphs: what to create, update and delete to go from one commit to the
 * next, in an order that respects dependencies both ways.
 */
import { canonicalJson } from "../api/canonical.js";
import type { DesiredObject, ResourceKey } from "../api/objects.js";
import type { DesiredGraph } from "./graph.js";
import { formatFieldPath } from "../manifest/paths.js";

/** What a change does to one object. */
export type ChangeAction = "create" | "update" | "delete";

/** One object's change between two graphs. */
export interface Change {
  action: ChangeAction;
  key: ResourceKey;
  /** The object in the old graph (update, delete). */
  before?: DesiredObject;
  /** The object in the new graph (create, update). */
  after?: DesiredObject;
  /** For updates: the changed paths, at most two levels deep ("spec.replicas", "spec.template"), sorted. */
  fields?: string[];
}

/** The changes between two graphs, in apply order. */
export interface ChangeSet {
  changes: Change[];
}

/**
 * Diffs two graphs (`before` undefined means nothing was applied yet). Objects are compared as data (key
 * order ignored, undefined fields dropped) — both graphs hold defaulted objects, so a default written out
 * explicitly is no change. Order: creates and updates in `after`'s topological order (dependencies first),
 * then deletes in the reverse of `before`'s order (dependents before their dependencies).
 */
export function diffGraphs(before: DesiredGraph | undefined, after: DesiredGraph): ChangeSet {
  const changes: Change[] = [];
  for (const key of after.order()) {
    const next = after.get(key)!.object;
    const prev = before?.get(key)?.object;
    if (prev === undefined) changes.push({ action: "create", key, after: next });
    else if (prev !== next && canonicalJson(prev) !== canonicalJson(next)) {
      changes.push({ action: "update", key, before: prev, after: next, fields: changedFields(prev, next) });
    }
  }
  if (before) {
    const order = before.order();
    for (let i = order.length - 1; i >= 0; i--) {
      const key = order[i]!;
      if (!after.has(key)) changes.push({ action: "delete", key, before: before.get(key)!.object });
    }
  }
  return { changes };
}

/**
 * The paths where two objects differ, two levels deep: "spec.replicas", "metadata.labels", "data.LOG_LEVEL";
 * a top-level field that is added, removed, or not an object on both sides is named alone ("spec"). Sorted.
 * Empty when the objects are equal as data.
 */
export function changedFields(before: DesiredObject, after: DesiredObject): string[] {
  const a = before as unknown as Record<string, unknown>;
  const b = after as unknown as Record<string, unknown>;
  const out: string[] = [];
  for (const top of unionKeys(a, b)) {
    const x = a[top];
    const y = b[top];
    if (isRecord(x) && isRecord(y)) {
      for (const sub of unionKeys(x, y)) {
        if (canonicalJson(x[sub]) !== canonicalJson(y[sub])) out.push(formatFieldPath([top, sub]));
      }
    } else if (canonicalJson(x) !== canonicalJson(y)) {
      out.push(formatFieldPath([top]));
    }
  }
  return out.sort();
}

/** One line per change: "create Deployment/default/web", "update Deployment/default/web (spec.replicas)". */
export function formatChange(change: Change): string {
  const fields = change.fields?.length ? ` (${change.fields.join(", ")})` : "";
  return `${change.action} ${change.key}${fields}`;
}

function unionKeys(a: Record<string, unknown>, b: Record<string, unknown>): string[] {
  return [...new Set([...Object.keys(a), ...Object.keys(b)])];
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
