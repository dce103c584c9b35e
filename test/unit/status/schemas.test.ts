/**
 * Status records read back from Git are checked against their schemas (status/schemas.ts). Every malformed
 * case is one file under test/fixtures/status/invalid/<case>/<its path on the status branch> (discovered
 * automatically): not YAML, not a mapping, a YAML alias bomb, a missing field, a wrong type, a time that is
 * not one. Each is StatusRecordInvalid naming the file, a problem of the tree's load that keeps the file
 * verbatim and reads no record from it, and absent for its kind's reader. What coxswain renders of every
 * kind reads back.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { isCoxError } from "../../../operator/src/api/errors.js";
import { readAutoscalerRecord, readAutoscalerStatus, renderAutoscalerRecord, type AutoscalerRecord } from "../../../operator/src/status/autoscalers.js";
import { readClaimRecord, renderClaimRecord, type ClaimRecord } from "../../../operator/src/status/claims.js";
import { readCronJobRecord, renderCronJobRecord, type CronJobRecord } from "../../../operator/src/status/cronjobs.js";
import { readBudgetRecord, renderBudgetRecord, type BudgetRecord } from "../../../operator/src/status/disruption-budgets.js";
import { renderIngressRecord, type IngressRecord } from "../../../operator/src/status/ingresses.js";
import { readJobRecord, renderJobRecord, type JobRecord } from "../../../operator/src/status/jobs.js";
import { parseStatusRecord, statusFileKind } from "../../../operator/src/status/schemas.js";
import { readServiceRecord, renderServiceRecord, type ServiceRecord } from "../../../operator/src/status/services.js";
import { parseStatusTree } from "../../../operator/src/status/store.js";

const INVALID = fileURLToPath(new URL("../../fixtures/status/invalid/", import.meta.url));

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? filesUnder(p) : [p];
  });
}

const CASES = readdirSync(INVALID)
  .sort()
  .map((name) => {
    const files = filesUnder(join(INVALID, name));
    if (files.length !== 1) throw new Error(`fixture case ${name} must hold exactly one file (has ${files.length})`);
    return { name, path: relative(join(INVALID, name), files[0]!).split("\\").join("/"), content: readFileSync(files[0]!, "utf8") };
  });

/** What each kind's reader makes of a text: undefined or empty when it reads nothing. */
const READERS: Record<string, (text: string) => unknown> = {
  job: readJobRecord,
  cronjob: readCronJobRecord,
  service: readServiceRecord,
  claim: (t) => (Object.keys(readClaimRecord(t)).length === 0 ? undefined : readClaimRecord(t)),
  autoscaler: (t) => readAutoscalerStatus(t) ?? (Object.keys(readAutoscalerRecord(t)).length === 0 ? undefined : readAutoscalerRecord(t)),
  "disruption budget": readBudgetRecord,
};

describe("malformed status records", () => {
  it("finds the fixture cases, of every kind of record", () => {
    expect(CASES.length).toBeGreaterThanOrEqual(15);
    expect(new Set(CASES.map((c) => statusFileKind(c.path)))).toEqual(new Set(["summary", "commit", "workload", "job", "cronjob", "service", "claim", "autoscaler", "disruption budget", "ingress"]));
  });

  it.each(CASES)("$name: StatusRecordInvalid naming the file", ({ path, content }) => {
    const kind = statusFileKind(path)!;
    let err: unknown;
    try {
      parseStatusRecord(kind, content, path);
    } catch (e) {
      err = e;
    }
    expect(isCoxError(err, "StatusRecordInvalid")).toBe(true);
    expect((err as { details: { path: string } }).details.path).toBe(path);
    expect((err as Error).message).toContain(path);
  });

  it.each(CASES)("$name: the load reports it, keeps it verbatim and reads no record from it", ({ path, content }) => {
    const { state, problems } = parseStatusTree([{ path, content }]);
    expect(problems.map((p) => p.path)).toEqual([path]);
    expect(state.extra).toEqual([{ path, content }]);
    expect(state.summary).toBeUndefined();
    expect(state.commits).toEqual([]);
    expect(state.workloads).toEqual([]);
  });

  it.each(CASES.filter((c) => READERS[statusFileKind(c.path)!]))("$name: its kind's reader reads nothing", ({ path, content }) => {
    expect(READERS[statusFileKind(path)!]!(content)).toBeUndefined();
  });
});

const JOB: JobRecord = {
  namespace: "default",
  name: "nightly",
  revision: "r1",
  commit: "c".repeat(40),
  phase: "Failed",
  reason: "BackoffLimitExceeded",
  message: "2 failed",
  completions: 3,
  parallelism: 1,
  succeeded: 1,
  failed: 2,
  active: 0,
  completedIndexes: "0",
  startTime: "2026-01-01T00:00:00.000Z",
  completionTime: "2026-01-01T00:01:00.000Z",
  podsRemovedAt: "2026-01-01T00:02:00.000Z",
  failures: [{ pod: "nightly-1-x", index: 1, container: "main", exitCode: 3, finishedAt: "2026-01-01T00:00:30.000Z", log: "boom" }],
  evicted: [{ pod: "nightly-2-y", index: 2, node: "a", at: "2026-01-01T00:00:40.000Z" }],
};
const CRONJOB: CronJobRecord = {
  namespace: "default",
  name: "report",
  schedule: "*/5 * * * *",
  timeZone: "Europe/Paris",
  suspend: false,
  createdAt: "2026-01-01T00:00:00.000Z",
  lastScheduleTime: "2026-01-01T00:05:00.000Z",
  lastSuccessfulTime: "2026-01-01T00:05:30.000Z",
  nextRunAt: "2026-01-01T00:10:00.000Z",
  skipped: { reason: "ConcurrencyForbidden", message: "a run is still active" },
  runs: [{ name: "report-29446085", scheduledAt: "2026-01-01T00:05:00.000Z", phase: "Complete", finishedAt: "2026-01-01T00:05:30.000Z" }],
  removing: ["report-29446080"],
};
const SERVICE: ServiceRecord = {
  namespace: "default",
  name: "web",
  type: "NodePort",
  ports: [{ name: "http", port: 80, targetPort: "http", nodePort: 30080, ready: [{ pod: "web-1", node: "a", address: "127.0.0.1:40001" }], notReady: [], terminating: [] }],
  nodes: [{ node: "a", address: "127.77.0.1", serving: true, bridge: { address: "172.18.0.9", serving: false, error: "no forwarder" } }],
  rollout: { name: "web", role: "split", stable: "r1", canary: "r2", weight: 20 },
};
const CLAIM: ClaimRecord = { claim: "default/data-db-0", phase: "Bound", node: "a", nodeState: "Ready", volume: "cx-claim", storage: "1Gi", deleteDataOnRemoval: false, message: "bound" };
const AUTOSCALER: AutoscalerRecord = {
  autoscaler: "HorizontalPodAutoscaler/default/web",
  target: "Deployment/default/web",
  minReplicas: 1,
  maxReplicas: 5,
  currentReplicas: 2,
  desiredReplicas: 3,
  gitReplicas: 2,
  currentMetrics: [{ resource: "cpu", target: "Utilization 50%", averageUtilization: 75, averageValue: "150m" }],
  lastScaleTime: "2026-01-01T00:00:00.000Z",
  lastScaleReason: "cpu resource utilization (percentage of request) above target",
  conditions: [{ type: "AbleToScale", status: "True", reason: "SucceededRescale", message: "", lastTransitionTime: "2026-01-01T00:00:00.000Z" }],
  message: "scaled to 3",
};
const BUDGET: BudgetRecord = {
  budget: "default/web",
  minAvailable: "50%",
  unhealthyPodEvictionPolicy: "AlwaysAllow",
  status: { currentHealthy: 2, desiredHealthy: 1, disruptionsAllowed: 1, expectedPods: 2, conditions: [{ type: "DisruptionAllowed", status: "True", reason: "SufficientPods", message: "" }] },
  pods: ["web-1", "web-2"],
};
const INGRESS: IngressRecord = {
  namespace: "default",
  name: "web",
  served: true,
  defaultBackend: { service: "web", port: 80, listener: "default/web:80" },
  paths: [{ host: "shop.example", path: "/", pathType: "Prefix", service: "web", port: "http", problem: "no such port" }],
  tls: [{ hosts: ["shop.example"], secretName: "shop-tls" }],
  nodes: [{ node: "a", http: "127.0.0.1:8080", serving: true, note: "default class" }],
};

describe("what coxswain writes reads back", () => {
  it.each<[string, string, string]>([
    ["job", "jobs/default/nightly.yaml", renderJobRecord(JOB)],
    ["cronjob", "cronjobs/default/report.yaml", renderCronJobRecord(CRONJOB)],
    ["service", "services/default/web.yaml", renderServiceRecord(SERVICE)],
    ["claim", "claims/default/data-db-0.yaml", renderClaimRecord(CLAIM)],
    ["autoscaler", "autoscalers/default/web.yaml", renderAutoscalerRecord(AUTOSCALER)],
    ["disruption budget", "disruptionbudgets/default/web.yaml", renderBudgetRecord(BUDGET)],
    ["ingress", "ingresses/default/web.yaml", renderIngressRecord(INGRESS)],
  ])("a %s record", (kind, path, text) => {
    expect(statusFileKind(path)).toBe(kind);
    expect(() => parseStatusRecord(statusFileKind(path)!, text, path)).not.toThrow();
    expect(parseStatusTree([{ path, content: text }]).problems).toEqual([]);
  });

  it("and each reader gives back what was written", () => {
    expect(readJobRecord(renderJobRecord(JOB))).toEqual(JOB);
    expect(readCronJobRecord(renderCronJobRecord(CRONJOB))).toEqual(CRONJOB);
    expect(readServiceRecord(renderServiceRecord(SERVICE))).toEqual(SERVICE);
    expect(readClaimRecord(renderClaimRecord(CLAIM))).toEqual({ node: "a", deleteDataOnRemoval: false });
    expect(readAutoscalerStatus(renderAutoscalerRecord(AUTOSCALER))).toEqual(AUTOSCALER);
    expect(readBudgetRecord(renderBudgetRecord(BUDGET))).toEqual(BUDGET);
  });
});
