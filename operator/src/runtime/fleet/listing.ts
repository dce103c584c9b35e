/**
 * A node's listing against what the fleet has cached of it: the containers that did not change keep their
 * cached objects, so that the pods built from them are kept too (Fleet.rebuildPods).
 */
import type { ObservedContainer } from "../types.js";

/**
 * The listed containers, each one that is equal in every field to the cached container of its id replaced by
 * that cached object. rebuildPods keeps a pod whose containers are the very objects it was built from, so a
 * listing that changed nothing rebuilds no pod (a runtime that answers with new objects every time — the
 * fake, the process runtime — otherwise had every pod of the node rebuilt, its labels parsed again, every 2 s).
 */
export function keepUnchanged(cached: readonly ObservedContainer[], listed: ObservedContainer[]): ObservedContainer[] {
  if (cached.length === 0 || sameElements(cached, listed)) return listed; // a runtime that keeps its objects (Docker's cache, the fake): nothing to compare
  const byId = new Map<string, ObservedContainer>();
  for (const c of cached) byId.set(c.id, c);
  return listed.map((c) => {
    const prev = byId.get(c.id);
    return prev !== undefined && sameContainer(prev, c) ? prev : c;
  });
}

/** Two observations of a container are equal: the same own fields with the same values, labels compared by key and value. */
function sameContainer(a: ObservedContainer, b: ObservedContainer): boolean {
  if (a === b) return true;
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  for (const k of keys) {
    if (!Object.hasOwn(b, k)) return false;
    if ((a as unknown as Record<string, unknown>)[k] === (b as unknown as Record<string, unknown>)[k]) continue;
    if (k !== "labels" || !sameLabels(a.labels, b.labels)) return false;
  }
  return true;
}

function sameLabels(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  for (const k of keys) if (!Object.hasOwn(b, k) || a[k] !== b[k]) return false;
  return true;
}

/** The same elements (by identity) in the same order. */
export function sameElements<T>(a: readonly T[], b: readonly T[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
