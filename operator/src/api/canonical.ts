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

/**
 * Deep equality as data (key order ignored): exactly whether the two have the same canonical JSON. Plain
 * data (objects, arrays, strings, finite numbers, booleans, null) is compared in place, without writing
 * either out — the status store compares each workload record with the last on every change, and the two
 * texts were most of what that cost; anything else (a Date, a class instance, a non-finite number, an
 * undefined or function in an array) is compared by its canonical JSON.
 */
export function dataEqual(a: unknown, b: unknown): boolean {
  const same = plainEqual(a, b);
  return same === undefined ? canonicalJson(a) === canonicalJson(b) : same;
}

/** Whether plain data `a` and `b` are equal as JSON; undefined when either holds something else (see dataEqual). */
function plainEqual(a: unknown, b: unknown): boolean | undefined {
  const ka = plainKind(a);
  const kb = plainKind(b);
  if (ka === undefined || kb === undefined) return undefined;
  // A scalar's text never starts as an array's or an object's does, nor an array's as an object's.
  if (ka !== kb) return false;
  if (ka === "scalar") return a === b; // -0 and 0 are both written 0
  if (ka === "array") {
    const x = a as unknown[];
    const y = b as unknown[];
    if (x.length !== y.length) return false;
    for (let i = 0; i < x.length; i++) {
      const e = plainEqual(x[i], y[i]);
      if (e !== true) return e;
    }
    return true;
  }
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  const keys = definedKeys(x);
  const count = definedKeys(y);
  if (keys === undefined || count === undefined) return undefined;
  if (keys.length !== count.length) return false;
  for (const k of keys) {
    if (!Object.hasOwn(y, k) || y[k] === undefined) return false;
    const e = plainEqual(x[k], y[k]);
    if (e !== true) return e;
  }
  return true;
}

/**
 * What JSON writes `v` as when it is plain data: "scalar" (a string, finite number, boolean or null), "array" or
 * "object"; undefined for anything else (undefined, a function, a non-finite number, a Date or class instance).
 */
function plainKind(v: unknown): "scalar" | "array" | "object" | undefined {
  if (typeof v === "string" || typeof v === "boolean" || v === null) return "scalar";
  if (typeof v === "number") return Number.isFinite(v) ? "scalar" : undefined;
  if (Array.isArray(v)) return "array";
  return isPlainObject(v) ? "object" : undefined;
}

/** An object of Object's prototype (or none) without toJSON: JSON writes its own enumerable string keys. */
function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return (proto === Object.prototype || proto === null) && !("toJSON" in v);
}

/** The keys JSON writes of a plain object (undefined values left out); undefined when a value is a function, symbol or bigint (the fallback decides). */
function definedKeys(o: Record<string, unknown>): string[] | undefined {
  const keys: string[] = [];
  for (const k of Object.keys(o)) {
    const v = o[k];
    if (v === undefined) continue;
    // "__proto__" is not copied as a key by sortKeys (the assignment sets a prototype): the fallback decides.
    if (typeof v === "function" || typeof v === "symbol" || typeof v === "bigint" || k === "__proto__") return undefined;
    keys.push(k);
  }
  return keys;
}

/** A short, stable hash of data: the first `length` hex digits of sha256 over its canonical JSON. */
export function shortHash(value: unknown, length = 10): string {
  return createHash("sha256").update(canonicalJson(value)).digest("hex").slice(0, length);
}
