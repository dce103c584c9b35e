import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { CoxError, ERROR_CODES, toCoxError } from "../../../operator/src/api/errors.js";

/** Rows of the table in operator/docs/errors.md: code → retry. */
function documentedCodes(): Map<string, string> {
  const doc = readFileSync(new URL("../../../operator/docs/errors.md", import.meta.url), "utf8");
  const rows = new Map<string, string>();
  for (const line of doc.split("\n")) {
    const m = /^\| ([A-Za-z]+) \| (stalled|waiting|transient) \|/.exec(line);
    if (m) rows.set(m[1]!, m[2]!);
  }
  return rows;
}

describe("error codes", () => {
  it("every code in the registry is documented with the same retry decision, and nothing else is", () => {
    const documented = documentedCodes();
    const registry = new Map(Object.entries(ERROR_CODES));
    expect([...documented.keys()].sort()).toEqual([...registry.keys()].sort());
    for (const [code, retry] of registry) expect(documented.get(code), code).toBe(retry);
  });

  it("a CoxError takes its retry decision from its code", () => {
    expect(new CoxError("YamlSyntax", "x").retry).toBe("stalled");
    expect(new CoxError("Unschedulable", "x", { requeueAfterMs: 5 }).retry).toBe("waiting");
    expect(new CoxError("GitTimeout", "x").retry).toBe("transient");
  });

  it("wraps foreign errors with the fallback code and keeps CoxErrors as they are", () => {
    const foreign = toCoxError(new Error("boom"), "NodeUnreachable");
    expect(foreign.code).toBe("NodeUnreachable");
    const own = new CoxError("PathNotFound", "x");
    expect(toCoxError(own, "NodeUnreachable")).toBe(own);
  });
});
