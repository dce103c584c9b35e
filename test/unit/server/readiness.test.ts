/**
 * /readyz's decision: each condition fails on its own, with its reason and code, and N − 1 failed fetches
 * in a row are still ready (a single timeout must not take the operator out of a load balancer).
 */
import { describe, expect, it } from "vitest";
import { readiness, type ReadinessInput } from "../../../operator/src/server/readiness.js";

const fine: ReadinessInput = {
  location: "https://git.example/deploy.git",
  fetch: { failures: 0 },
  fetchFailureLimit: 3,
  readFaults: [],
  nodes: [
    { name: "a", condition: "Ready" },
    { name: "b", condition: "NotReady" },
  ],
};

describe("readiness", () => {
  it("is ready when Git answers, status writes succeed and one node of several is Ready", () => {
    expect(readiness(fine)).toEqual({ ready: true, checks: { git: { ok: true }, nodes: { ok: true }, status: { ok: true } } });
  });

  it("stays ready below the limit of failed fetches and fails at it, with the last error's code", () => {
    const lastError = { code: "GitFetchFailed", message: "connection refused" };
    expect(readiness({ ...fine, fetch: { failures: 2, lastError } }).ready).toBe(true);
    const r = readiness({ ...fine, fetch: { failures: 3, lastError } });
    expect(r.ready).toBe(false);
    expect(r.checks.git).toMatchObject({ ok: false, code: "GitFetchFailed" });
    expect(r.checks.git.reason).toContain("3");
  });

  it("fails when the deploy branch cannot be read", () => {
    const r = readiness({ ...fine, readFaults: [{ where: "read", code: "BranchNotFound", message: "no branch main" }] });
    expect([r.ready, r.checks.git.ok, r.checks.git.code]).toEqual([false, false, "BranchNotFound"]);
  });

  it("fails while status writes fail", () => {
    const r = readiness({ ...fine, statusFault: { code: "GitPushRejected", message: "rejected", since: "2026-01-01T00:00:00.000Z" } });
    expect([r.ready, r.checks.status.ok, r.checks.status.code, r.checks.git.ok, r.checks.nodes.ok]).toEqual([false, false, "GitPushRejected", true, true]);
  });

  it("fails when no node is Ready, naming each node's condition, and when there is none", () => {
    const r = readiness({
      ...fine,
      nodes: [
        { name: "b", condition: "NotReady" },
        { name: "a", condition: "Unknown" },
      ],
    });
    expect([r.ready, r.checks.nodes.ok, r.checks.nodes.reason]).toEqual([false, false, "no node is Ready (a Unknown, b NotReady)"]);
    expect(readiness({ ...fine, nodes: [] }).checks.nodes).toEqual({ ok: false, reason: "no node is known" });
  });
});
