/**
 * compileSchemasInBackground (manifest/schema.ts): what the operator runs once it has started, so that the
 * first commit of a kind does not wait for that kind's schema compile. A file of its own: the compiled
 * validators are kept per process (per test file here), and this one must start with none.
 */
import { describe, expect, it } from "vitest";
import { KINDS } from "../../../operator/src/api/objects.js";
import { compileSchemasInBackground, loadManifests } from "../../../operator/src/manifest/index.js";

describe("schemas compiled in the background", () => {
  it("compiles nothing once aborted, then every kind not compiled yet, and nothing the second time", async () => {
    expect(await compileSchemasInBackground(AbortSignal.abort())).toBe(0);
    // A kind compiled on first use (a commit read meanwhile) is not compiled again.
    const read = loadManifests([{ path: "cm.yaml", content: "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata: {}\n" }]);
    expect(read.diagnostics).toEqual([]);
    expect(await compileSchemasInBackground(new AbortController().signal)).toBe(Object.keys(KINDS).length - 1);
    expect(await compileSchemasInBackground(new AbortController().signal)).toBe(0);
  });
});
