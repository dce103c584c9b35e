/**
 * Schemas of the records coxswain reads back from its status branch, one per kind of file, kept beside the
 * record types (status/types.ts and the per-kind status files) and checked against their renderings by
 * test/unit/status/schemas.test.ts. A record someone edited by hand, a newer or broken writer, or a file
 * that is not YAML at all must never crash the operator nor come back as a silently wrong value: it is a
 * StatusRecordInvalid error naming the file and what is wrong, and the record counts as absent.
 *
 * - Fields a record always had are required; later additions are optional, so that records written by
 *   earlier versions still read. Unknown fields are allowed (a newer coxswain's, kept by the store).
 * - Times the operator computes with (a Job's start, a CronJob's schedule times) must be ISO-8601
 *   date-times: a wrong one would move a deadline or a schedule silently.
 * - YAML is parsed with few aliases allowed (records never use them): an alias bomb is an error, not a
 *   billion-element expansion.
 * The schemas (record-schemas.ts) are compiled by `npm run gen` (schema-compile.ts) into
 * generated/validators.ts: the operator's first read of the status branch compiles nothing (that took
 * ~0.15 s and ~15 MiB of RSS on this project's idle 2-core machine).
 */
import type { ErrorObject } from "ajv";
import { parse } from "yaml";
import { CoxError } from "../api/errors.js";
import { RECORD_VALIDATORS } from "./generated/validators.js";
import { FILES, type StatusFileKind } from "./record-schemas.js";

export type { StatusFileKind } from "./record-schemas.js";

/** Aliases a record may use: coxswain writes none, so any real number is generous; a bomb needs thousands. */
const MAX_ALIASES = 20;

/** The kind of record a status branch path holds; undefined for a path of no record kind (a plan, a newer coxswain's file). */
export function statusFileKind(path: string): StatusFileKind | undefined {
  return FILES.find((f) => f.path.test(path))?.kind;
}

/**
 * Reads `text` as a record of `kind`. Throws StatusRecordInvalid naming `path` (the file, for the message)
 * when it is not YAML (an alias bomb included), not a mapping, or breaks the kind's schema: the first wrong
 * field, with what was expected.
 */
export function parseStatusRecord(kind: StatusFileKind, text: string, path: string): Record<string, unknown> {
  let doc: unknown;
  try {
    doc = parse(text, { maxAliasCount: MAX_ALIASES, uniqueKeys: true });
  } catch (err) {
    throw invalid(path, `not YAML: ${(err instanceof Error ? err.message : String(err)).split("\n", 1)[0]!.replace(/:$/, "")}`);
  }
  if (!doc || typeof doc !== "object" || Array.isArray(doc)) throw invalid(path, `not a valid ${kind} record: expected a YAML mapping`);
  const validate = RECORD_VALIDATORS[kind];
  if (!validate(doc)) throw invalid(path, `not a valid ${kind} record: ${describe(validate.errors?.[0])}`, validate.errors?.[0]);
  return doc as Record<string, unknown>;
}

/**
 * A record of `kind` as the controllers and `coxswain status` read it: undefined when the text is absent or
 * invalid. The load of the status branch (parseStatusTree) reports an invalid file once, as
 * StatusRecordInvalid; here it only counts as absent.
 */
export function statusRecordOrUndefined(kind: StatusFileKind, text: string | undefined): Record<string, unknown> | undefined {
  if (text === undefined || text === "") return undefined;
  try {
    return parseStatusRecord(kind, text, `(${kind} record)`);
  } catch {
    return undefined;
  }
}

function describe(e: ErrorObject | undefined): string {
  if (!e) return "invalid";
  const at = e.instancePath === "" ? "" : e.instancePath.slice(1).replace(/\//g, ".");
  if (e.keyword === "required") {
    const field = (e.params as { missingProperty: string }).missingProperty;
    return `${at === "" ? field : `${at}.${field}`} is missing`;
  }
  if (e.keyword === "enum") return `${at} must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(", ")}`;
  return `${at === "" ? "the record" : at} ${e.message ?? "is invalid"}`;
}

function invalid(path: string, reason: string, e?: ErrorObject): CoxError {
  const field = e ? e.instancePath.slice(1).replace(/\//g, ".") : "";
  return new CoxError("StatusRecordInvalid", `status file ${path}: ${reason}; it counts as absent until it is fixed or removed`, {
    details: { path, reason, ...(field !== "" ? { field } : {}) },
  });
}
