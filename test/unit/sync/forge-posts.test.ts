/**
 * What a proposal posts on the forge, decided without the forge: the plan status of a head (success, or
 * failure with the first error's file:line:col or the pods that fit nowhere), the rollout status of a
 * merged commit (success when Succeeded, failure when RolledBack and the other failed phases, nothing
 * before the end nor for Superseded), the comment (marker, summary, one line per object) and its target;
 * and planNote, the note's text the comment carries, on hand-made plans.
 */
import { describe, expect, it } from "vitest";
import type { Diagnostic } from "../../../operator/src/manifest/types.js";
import type { ProposalRef } from "../../../operator/src/source/types.js";
import type { CommitRecord } from "../../../operator/src/status/types.js";
import { commentTarget, forgeReporter, planComment, planStatus, rolloutStatus, type StatusVerdict } from "../../../operator/src/sync/forge-posts.js";
import { planNote, type Plan, type PlannedChange } from "../../../operator/src/sync/plan.js";

const A = "a".repeat(40);
const B = "b".repeat(40);
const placed = (n: number, node = "node1", fits = true) => Array.from({ length: n }, (_, i) => ({ pod: `web-r-${i + 1}`, ...(fits ? { node } : {}), fits }));
const plan = (changes: PlannedChange[], extra: Partial<Plan> = {}): Plan => ({ from: A, to: B, changes, diagnostics: [], valid: true, nodes: ["node1", "node2"], ...extra });
const error = (file: string, line: number, field: string): Diagnostic => ({ file, line, col: 3, code: "SchemaViolation", severity: "error", object: "Deployment/default/web", field, message: "must be integer" });
const ref: ProposalRef = { kind: "branch", name: "pr/scale", ref: "refs/heads/pr/scale", oid: B };

describe("planStatus", () => {
  it.each<[string, Plan, StatusVerdict]>([
    [
      "a valid plan whose pods fit",
      plan([{ action: "update", key: "Deployment/default/web", fields: ["spec.replicas"], details: ["replicas 2 → 4"], placements: placed(2) }]),
      { state: "success", description: "valid against aaaaaaa: 0 to create, 1 to update, 0 to delete; 2 new pod(s) fit" },
    ],
    [
      "a plan from nothing, without a fleet",
      plan([{ action: "create", key: "Service/default/web", fields: [] }], { from: undefined, nodes: undefined }),
      { state: "success", description: "valid against nothing: 1 to create, 0 to update, 0 to delete" },
    ],
    [
      "a valid plan with a pod that fits nowhere",
      plan([{ action: "create", key: "Deployment/default/big", fields: [], placements: [...placed(1), ...placed(1, "", false)] }]),
      { state: "failure", description: "1 of 2 new pod(s) fit no node: Deployment/default/big" },
    ],
    [
      "an invalid plan: its first error's place, code and field",
      plan([], { valid: false, diagnostics: [error("web.yaml", 7, "spec.replicas")] }),
      { state: "failure", description: "invalid: web.yaml:7:3 SchemaViolation spec.replicas" },
    ],
    [
      "an invalid plan with more errors counts them",
      plan([], { valid: false, diagnostics: [error("a.yaml", 1, "spec.replicas"), error("b.yaml", 2, "spec.selector"), { ...error("c.yaml", 3, ""), severity: "warning" }] }),
      { state: "failure", description: "invalid: a.yaml:1:3 SchemaViolation spec.replicas (+1 more)" },
    ],
  ])("%s", (_what, p, want) => {
    expect(planStatus(p)).toEqual(want);
  });
});

describe("rolloutStatus", () => {
  const record = (r: Partial<CommitRecord>): CommitRecord => ({
    commit: B,
    branch: "main",
    subject: "Merge",
    phase: "Succeeded",
    message: "2/2 pods ready",
    changes: [],
    errors: [],
    timings: { seen: "2026-12-06T10:00:00Z" },
    ...r,
  });
  it.each<[string, Partial<CommitRecord>, StatusVerdict | undefined]>([
    ["Succeeded", {}, { state: "success", description: "Succeeded: 2/2 pods ready" }],
    [
      "RolledBack, with where to and why",
      { phase: "RolledBack", rollback: { to: A, code: "CrashLoopBackOff", reason: "web-1 restarted 5 times" } },
      { state: "failure", description: "rolled back to aaaaaaa: CrashLoopBackOff web-1 restarted 5 times" },
    ],
    [
      "Failed, with its first error",
      { phase: "Failed", errors: [{ code: "ProgressDeadlineExceeded", message: "no progress for 600s" }] },
      { state: "failure", description: "Failed: ProgressDeadlineExceeded no progress for 600s" },
    ],
    ["Quarantined, with its message", { phase: "Quarantined", message: "failed before" }, { state: "failure", description: "Quarantined: failed before" }],
    ["Progressing: nothing yet", { phase: "Progressing" }, undefined],
    ["Pending: nothing yet", { phase: "Pending" }, undefined],
    ["Superseded: no verdict", { phase: "Superseded" }, undefined],
  ])("%s", (_what, r, want) => {
    expect(rolloutStatus(record(r))).toEqual(want);
  });
});

describe("the comment", () => {
  const p = plan([
    { action: "create", key: "Service/default/web", fields: [] },
    { action: "update", key: "Deployment/default/web", fields: ["spec.replicas"], details: ["replicas 2 → 4"], placements: [...placed(1, "node1"), ...placed(1, "node2")] },
    { action: "delete", key: "ConfigMap/default/old", fields: [] },
  ]);

  it("carries the marker, the summary with the head, one line per object, and where the plan file is", () => {
    const lines = planComment(p, "pr-scale", ref, "plans/pr-scale.yaml", "coxswain/status").split("\n");
    expect(lines[0]).toBe("<!-- coxswain-plan pr-scale -->");
    expect(lines[1]).toBe("**coxswain plan: valid against aaaaaaa — 1 to create, 1 to update, 1 to delete; 2 new pod(s): 2 fit (plans/pr-scale.yaml)** — head `bbbbbbb`");
    expect(lines.slice(3, 8)).toEqual(["```text", "create Service/default/web", "update Deployment/default/web: replicas 2 → 4; 2 new pod(s) → node1, node2", "delete ConfigMap/default/old", "```"]);
    expect(lines.at(-1)).toMatch(/^The whole plan: `plans\/pr-scale\.yaml` on the `coxswain\/status` branch\./);
  });

  it.each<[string, ProposalRef, unknown]>([
    ["a branch: its request is asked of the forge", ref, { branch: "pr/scale" }],
    ["a pull request head: its number", { kind: "pull", name: "pull/12", number: 12, ref: "refs/pull/12/head", oid: B }, { request: 12 }],
  ])("goes to %s", (_what, r, want) => {
    expect(commentTarget(r)).toEqual(want);
  });

  it("the reporter asks for pending, then the verdict and the comment, and a rollout status only at the end", () => {
    const posted: string[] = [];
    const reporter = forgeReporter({ status: (s) => posted.push(`status ${s.context} ${s.state} ${s.sha.slice(0, 3)}`), comment: (t, marker) => posted.push(`comment ${JSON.stringify(t)} ${marker}`) }, "coxswain/status");
    reporter.planning("pr-scale", ref);
    reporter.planned("pr-scale", ref, p, "plans/pr-scale.yaml");
    const rec = { commit: A, branch: "main", subject: "m", message: "", changes: [], errors: [], timings: { seen: "" } };
    reporter.rolledOut("pr-scale", { ...rec, phase: "Superseded" });
    reporter.rolledOut("pr-scale", { ...rec, phase: "RolledBack" });
    expect(posted).toEqual(["status coxswain/plan pending bbb", "status coxswain/plan success bbb", 'comment {"branch":"pr/scale"} <!-- coxswain-plan pr-scale -->', "status coxswain/rollout failure aaa"]);
  });
});

describe("planNote", () => {
  const cm = (i: number): PlannedChange => ({ action: "update", key: `ConfigMap/default/cm${String(i).padStart(2, "0")}`, fields: ["data.A"], details: ["data.A 1 → 2"] });
  it.each<[string, Plan, (lines: string[]) => void]>([
    [
      "names each object and what changes, in the plan's order, with where new pods go",
      plan([
        { action: "create", key: "Service/default/web", fields: [] },
        { action: "update", key: "Deployment/default/web", fields: ["spec.replicas"], details: ["replicas 2 → 4"], placements: [...placed(2, "node1"), ...placed(1, "node2"), ...placed(1, "", false)] },
        { action: "delete", key: "ConfigMap/default/old", fields: [] },
      ]),
      (lines) => expect(lines.slice(1)).toEqual(["create Service/default/web", "update Deployment/default/web: replicas 2 → 4; 4 new pod(s) → node1 (2), node2; 1 do not fit", "delete ConfigMap/default/old"]),
    ],
    [
      "shows a template's image and env details",
      plan([{ action: "update", key: "Deployment/default/web", fields: ["spec.template"], details: ["web image app:1 → app:2", "web env DEBUG added"] }]),
      (lines) => expect(lines[1]).toBe("update Deployment/default/web: web image app:1 → app:2; web env DEBUG added"),
    ],
    [
      "lists twenty objects and counts the rest, pointing to the plan file",
      plan(Array.from({ length: 25 }, (_, i) => cm(i))),
      (lines) => {
        expect(lines).toHaveLength(22);
        expect(lines[20]).toBe("update ConfigMap/default/cm19: data.A 1 → 2");
        expect(lines[21]).toBe("… and 5 more (plans/x.yaml)");
      },
    ],
    ["keeps twenty objects whole", plan(Array.from({ length: 20 }, (_, i) => cm(i))), (lines) => expect(lines).toHaveLength(21)],
    [
      "cuts a line at 200 characters",
      plan([{ action: "update", key: "ConfigMap/default/big", fields: [], details: Array.from({ length: 30 }, (_, i) => `data.KEY_${i} changed`) }]),
      (lines) => {
        expect(lines[1]!.length).toBe(200);
        expect(lines[1]!.endsWith("…")).toBe(true);
      },
    ],
    [
      "lists an invalid plan's errors with file:line:col, code, object and field",
      plan([], { valid: false, diagnostics: [error("web.yaml", 7, "spec.replicas")] }),
      (lines) => {
        expect(lines[0]).toBe("coxswain plan: invalid — 1 error(s), first web.yaml:7:3 SchemaViolation (plans/x.yaml)");
        expect(lines[1]).toBe("web.yaml:7:3 SchemaViolation Deployment/default/web spec.replicas: must be integer");
      },
    ],
  ])("%s", (_what, p, check) => {
    check(planNote(p, "plans/x.yaml").split("\n"));
  });
});
