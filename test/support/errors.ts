/**
 * The error code a call ends with, for tests that assert codes rather than messages (table-driven tests
 * of bad input). Several older suites keep a local copy of this; new tests call this one.
 */
import { isCoxError, type ErrorCode } from "../../operator/src/api/errors.js";

/** The CoxError code `fn` throws; "ok" when it returns, "not a CoxError" for any other throw. */
export function codeOf(fn: () => unknown): ErrorCode | "ok" | "not a CoxError" {
  try {
    fn();
    return "ok";
  } catch (err) {
    return isCoxError(err) ? err.code : "not a CoxError";
  }
}
