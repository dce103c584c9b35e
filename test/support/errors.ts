/**
 * The error code a call ends with, for tests that assert codes rather than messages (table-driven tests
 * of bad input). Several older suites keep a local copy of this; new tests call this one.
 */
import { isCoxError, type CoxError, type ErrorCode } from "../../operator/src/api/errors.js";

/** The CoxError code `fn` throws; "ok" when it returns, "not a CoxError" for any other throw. */
export function codeOf(fn: () => unknown): ErrorCode | "ok" | "not a CoxError" {
  try {
    fn();
    return "ok";
  } catch (err) {
    return isCoxError(err) ? err.code : "not a CoxError";
  }
}

/** The CoxError `p` rejects with; throws when it resolves or rejects with anything else. */
export async function coxErrorOf(p: Promise<unknown>): Promise<CoxError> {
  try {
    await p;
  } catch (err) {
    if (isCoxError(err)) return err;
    throw err;
  }
  throw new Error("expected a CoxError, the call resolved");
}
