/**
 * Canonical JSON and short hashes. Object keys are sorted, so two objects that are equal as data have the
 * same text and hash whatever order their fields were written in. Used for diffing graphs, revision
 * (pod-template) hashes and spec hashes.
 */
import { createHash } from "node:crypto";

/** JSON text with object keys sorted at every level; undefined fields are dropped, as JSON.stringify does. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(value as Record<string, unknown>).sort()) {
      const v = (value as Record<string, unknown>)[k];
      if (v !== undefined) out[k] = sortKeys(v);
    }
    return out;
  }
  return value;
}

/** Deep equality as data (key order ignored). */
export function dataEqual(a: unknown, b: unknown): boolean {
  return canonicalJson(a) === canonicalJson(b);
}

/** A short, stable hash of data: the first `length` hex digits of sha256 over its canonical JSON. */
export function shortHash(value: unknown, length = 10): string {
  return createHash("sha256").update(canonicalJson(value)).digest("hex").slice(0, length);
}
