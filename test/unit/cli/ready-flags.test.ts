/**
 * `coxswain run --ready-fetch-failures`: what it turns into (OperatorOptions.readyFetchFailures) and the
 * errors for bad values or without --listen (asserted by code), before anything starts.
 */
import { describe, expect, it } from "vitest";
import { isCoxError } from "../../../operator/src/api/errors.js";
import { runOptions } from "../../../operator/src/cli/run.js";

const options = (...flags: string[]) => runOptions(["--repo", "/srv/repo", ...flags], () => undefined);

/** The CoxError code the options end with, or "ok". */
async function codeOfOptions(...flags: string[]): Promise<string> {
  try {
    await options(...flags);
    return "ok";
  } catch (err) {
    return isCoxError(err) ? err.code : "not a CoxError";
  }
}

describe("--ready-fetch-failures", () => {
  it("is the operator's default (3) when not given, and the number given with --listen", async () => {
    expect((await options("--listen", "127.0.0.1:0")).readyFetchFailures).toBeUndefined();
    expect((await options("--listen", "127.0.0.1:0", "--ready-fetch-failures", "5")).readyFetchFailures).toBe(5);
  });

  it.each([["0"], ["1.5"], ["-2"], ["three"], [""]])("refuses %j", async (value) => {
    expect(await codeOfOptions("--listen", "127.0.0.1:0", "--ready-fetch-failures", value)).toBe("InvalidArgument");
  });

  it("needs --listen", async () => {
    expect(await codeOfOptions("--ready-fetch-failures", "5")).toBe("InvalidArgument");
  });
});
