/**
 * A problem found in one document, before it has a position: the checks speak in field paths, the loader
 * turns paths into line:col with the document's PositionIndex.
 */
import type { ErrorCode } from "../api/errors.js";
import type { PathSegment } from "./paths.js";

/** A problem at a field of one document. */
export interface Issue {
  code: ErrorCode;
  severity: "error" | "warning";
  /** The field the problem is about (may not exist in the document: a missing field). */
  path: PathSegment[];
  /** Point at the field's key (unknown fields, bad keys) or at its value (everything else). */
  at: "key" | "value";
  /** What was wrong and what was expected. */
  message: string;
}

/** An error-severity issue at a field's value. */
export function fieldError(code: ErrorCode, path: readonly PathSegment[], message: string): Issue {
  return { code, severity: "error", path: [...path], at: "value", message };
}

/** Renders a value for a message: JSON, cut to a readable length. */
export function showValue(v: unknown): string {
  let s: string;
  try {
    s = JSON.stringify(v) ?? String(v);
  } catch {
    s = String(v);
  }
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

/** The YAML-facing name of a value's type: mapping, list, string, integer, number, boolean, null. */
export function typeName(v: unknown): string {
  if (v === null || v === undefined) return "null";
  if (Array.isArray(v)) return "list";
  if (typeof v === "number") return Number.isInteger(v) ? "integer" : "number";
  if (typeof v === "object") return "mapping";
  return typeof v;
}

/** "got string "three"", "got mapping": what a value is, for "expected X, got Y" messages. */
export function describeGot(v: unknown): string {
  const t = typeName(v);
  return t === "mapping" || t === "list" || t === "null" ? `got ${t}` : `got ${t} ${showValue(v)}`;
}

/** "A, B, C or D" ("and" with `last`): names listed for a message, in the order given (callers pass them sorted). */
export function listOf(names: readonly string[], last: "or" | "and" = "or"): string {
  return names.length <= 1 ? names.join("") : `${names.slice(0, -1).join(", ")} ${last} ${names.at(-1)}`;
}
