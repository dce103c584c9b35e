/**
 * The diff of two desired-state graphs: what to create, update and delete to go from one commit to the
 * next, in an order that respects dependencies both ways.
 */
import { canonicalJson } from "../api/canonical.js";
import type { DesiredObject, ResourceKey } from "../api/objects.js";
import type { DesiredGraph } from "./graph.js";
import { formatFieldPath, parseFieldPath } from "../manifest/paths.js";

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

/** A value longer than this is named as changed, not shown. */
const MAX_SHOWN_VALUE = 40;

/** The values a detail shows: scalars up to MAX_SHOWN_VALUE characters; anything else is only "changed". */
function shown(v: unknown): string | undefined {
  if (v === undefined) return "(none)";
  if (typeof v !== "string" && typeof v !== "number" && typeof v !== "boolean") return undefined;
  const text = typeof v === "string" ? v : String(v);
  return text.length <= MAX_SHOWN_VALUE && !/[\n\r]/.test(text) ? text : undefined;
}

/** "replicas 2 → 4", or "<what> changed" when a side cannot be shown. */
function detail(what: string, x: unknown, y: unknown): string {
  const [a, b] = [shown(x), shown(y)];
  return a !== undefined && b !== undefined ? `${what} ${a} → ${b}` : `${what} changed`;
}

/** Containers of a pod template by name. */
function containersOf(template: unknown): Map<string, Record<string, unknown>> {
  const spec = isRecord(template) && isRecord(template.spec) ? template.spec : {};
  const list = Array.isArray(spec.containers) ? spec.containers : [];
  return new Map(list.filter(isRecord).map((c) => [String(c.name), c]));
}

/** A container's env entries by variable name, each as canonical JSON (compared, never shown). */
function envOf(c: Record<string, unknown>): Map<string, string> {
  const list = Array.isArray(c.env) ? c.env.filter(isRecord) : [];
  return new Map(list.map((e) => [String(e.name), canonicalJson(e)]));
}

/** "web env GREETING changed, DEBUG added, OLD removed": the variables whose entry changed, by name, never their values. */
function envDetail(container: string, a: Map<string, string>, b: Map<string, string>): string | undefined {
  const parts: string[] = [];
  for (const k of [...new Set([...a.keys(), ...b.keys()])].sort()) {
    if (!a.has(k)) parts.push(`${k} added`);
    else if (!b.has(k)) parts.push(`${k} removed`);
    else if (a.get(k) !== b.get(k)) parts.push(`${k} changed`);
  }
  return parts.length ? `${container} env ${parts.join(", ")}` : undefined;
}

/** What changed in a pod template: each container's image and env variables, containers added or removed, then the rest. */
function templateDetails(x: unknown, y: unknown): string[] {
  const [a, b] = [containersOf(x), containersOf(y)];
  const out: string[] = [];
  for (const name of [...new Set([...a.keys(), ...b.keys()])].sort()) {
    const [c, d] = [a.get(name), b.get(name)];
    if (!c) out.push(`container ${name} added`);
    else if (!d) out.push(`container ${name} removed`);
    else {
      if (c.image !== d.image) out.push(detail(`${name} image`, c.image, d.image));
      const env = envDetail(name, envOf(c), envOf(d));
      if (env) out.push(env);
    }
  }
  // Anything else: compare the templates with the images and env made equal.
  const strip = (t: unknown): string => {
    const copy = JSON.parse(canonicalJson(t ?? null)) as unknown;
    for (const c of containersOf(copy).values()) {
      delete c.image;
      delete c.env;
    }
    return canonicalJson(copy);
  };
  if (strip(x) !== strip(y) && out.every((l) => !l.startsWith("container "))) out.push("pod template changed");
  return out;
}

/**
 * What an update changes, for people reading a plan: "replicas 2 → 4", "web image app:1 → app:2",
 * "web env LOG_LEVEL changed, DEBUG added" (variables named, values never shown), "data.LOG_LEVEL changed". Field paths as changedFields gives them, without a leading "spec."; short
 * scalar values are shown, others only named. A Secret's values are never shown. Sorted by field.
 */
export function changeDetails(before: DesiredObject, after: DesiredObject): string[] {
  const secret = before.kind === "Secret" || after.kind === "Secret";
  const get = (o: DesiredObject, path: string): unknown => {
    let v: unknown = o;
    for (const part of parseFieldPath(path)) v = isRecord(v) ? v[part] : undefined;
    return v;
  };
  return changedFields(before, after).flatMap((field) => {
    const what = field.replace(/^spec\./, "");
    if (secret) return [`${what} changed`];
    if (field === "spec.template") return templateDetails(get(before, field), get(after, field));
    return [detail(what, get(before, field), get(after, field))];
  });
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
