/**
 * Canary analysis through the whole operator: a real Git repository, the process runtime (real processes)
 * and a real HAProxy (Debian's) as the node proxy, whose request log is what the analysis measures. A
 * Rollout with a Service rolls out v1; then a canary of v2 takes a quarter of the pods (and of the
 * requests of a steady load through the Service) and is analysed:
 * - a v2 that answers 500 fails its analysis: the commit is rolled back (AnalysisFailed), and the
 *   figures are in the status branch (the commit's record and the workload's) and in the log;
 * - a healthy v2 passes its analysis and becomes the stable revision.
 */
import { rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { RecordedAnalysis } from "../../../operator/src/status/types.js";
import type { RunningOperator } from "../../../operator/src/sync/operator.js";
import { makeRepo, tempDir, type TestRepo } from "../../support/git-repo.js";
import { startLoad, type Load } from "../../support/http-load.js";
import { requireHaproxyAndRoot, startProcessOperator, statusFile, stopProcessOperator } from "../../support/in-process-operator.js";
import { serviceYaml } from "../../support/manifests.js";
import { waitFor } from "../../support/wait.js";

const enabled = requireHaproxyAndRoot("canary-analysis");

/**
 * A small HTTP server on 127.0.0.1:$PORT: /healthz answers 200 (so that its readiness does not depend on
 * what it is tested for); every other request, after 5 ms, "<version> <pod>" with status 500 for
 * $FAIL_PERCENT of every 100 requests, 200 otherwise.
 */
const APP = `
const http = require("node:http");
const fail = Number(process.env.FAIL_PERCENT || 0);
let n = 0;
const server = http.createServer((req, res) => {
  if (req.url === "/healthz") return res.end("ok");
  setTimeout(() => {
    res.statusCode = n++ % 100 < fail ? 500 : 200;
    res.end(process.env.VERSION + " " + process.env.COXSWAIN_POD + "\\n");
  }, 5);
});
server.keepAliveTimeout = 60000;
server.listen(Number(process.env.PORT), "127.0.0.1");
process.on("SIGTERM", () => process.exit(0));
`;

describe.skipIf(!enabled)("canary analysis through a real HAProxy's request log (process runtime)", () => {
  let repo: TestRepo;
  let stateDir: string;
  let appFile: string;
  let op: RunningOperator | undefined;
  let load: Load | undefined;
  const lines: string[] = [];

  beforeAll(async () => {
    appFile = join(await tempDir("coxswain-analysis-app-"), "app.cjs");
    await writeFile(appFile, APP);
  });

  afterAll(async () => {
    await rm(join(appFile, ".."), { recursive: true, force: true });
  });

  afterEach(async () => {
    await load?.stop();
    load = undefined;
    await stopProcessOperator(op, stateDir);
    op = undefined;
    await repo.cleanup();
    lines.length = 0;
  });

  /** The Rollout: 4 replicas of `version`, 25% of them the canary, then an analysis of 2 windows of 2 s. */
  function rollout(version: string, failPercent: number): string {
    return [
      "apiVersion: argoproj.io/v1alpha1",
      "kind: Rollout",
      "metadata:",
      "  name: checkout",
      "spec:",
      "  replicas: 4",
      "  selector:",
      "    matchLabels: {app: checkout}",
      "  strategy:",
      "    canary:",
      "      steps:",
      "        - setWeight: 25",
      "        - analysis: {interval: 2s, count: 2, minRequests: 10, successRate: {min: 95}, latencyP95: {maxRatio: 5}}",
      "  template:",
      "    metadata:",
      "      labels: {app: checkout}",
      "    spec:",
      "      terminationGracePeriodSeconds: 5",
      "      containers:",
      "        - name: app",
      "          image: app",
      `          command: ${JSON.stringify([process.execPath, appFile])}`,
      "          env:",
      `            - {name: VERSION, value: ${version}}`,
      `            - {name: FAIL_PERCENT, value: "${failPercent}"}`,
      "          ports:",
      "            - {name: http, containerPort: 8080}",
      "          readinessProbe:",
      "            httpGet: {path: /healthz, port: http}",
      "            periodSeconds: 1",
      "            failureThreshold: 1",
      "",
    ].join("\n");
  }

  const commitRecord = (oid: string) => statusFile<Record<string, any>>(op!, repo, `commits/${oid.slice(0, 2)}/${oid}.yaml`);
  const workload = () => statusFile<Record<string, any>>(op!, repo, "workloads/default/rollout-checkout.yaml");

  /** v1 rolled out, with a steady load through its Service; the Service's address. */
  async function v1WithLoad(): Promise<string> {
    stateDir = await tempDir("coxswain-analysis-");
    repo = await makeRepo();
    await repo.write("checkout.yaml", rollout("v1", 0));
    await repo.write("svc.yaml", serviceYaml({ name: "checkout", ports: [{ name: "http", port: 8080, targetPort: "http" }] }));
    const v1 = await repo.commit("v1");
    op = await startProcessOperator(repo, stateDir, { from: 62900, to: 62999 }, lines);
    await waitFor("v1 Succeeded", async () => (await commitRecord(v1))?.phase === "Succeeded", 120_000, 200);
    const svc = (await statusFile<{ nodes: { address: string }[] }>(op, repo, "services/default/checkout.yaml"))!;
    const address = svc.nodes[0]!.address;
    // Two clients: a few hundred requests a second, a quarter of them to the canary once it runs.
    load = startLoad(8080, 2, address);
    await waitFor("traffic through the Service", () => (load!.counts.size > 0 ? true : undefined), 60_000);
    return address;
  }

  it("rolls back a canary whose new revision answers 500s, by its analysis, with the figures in Git and in the log", async () => {
    await v1WithLoad();
    await repo.write("checkout.yaml", rollout("v2", 100));
    const v2 = await repo.commit("v2 answers 500");
    const rec = await waitFor(
      "v2 RolledBack",
      async () => {
        const r = await commitRecord(v2);
        return r?.phase === "RolledBack" ? r : undefined;
      },
      180_000,
      200,
    );
    expect(rec.errors).toEqual([{ code: "AnalysisFailed", message: expect.stringMatching(/success rate 0% \(\d+ of \d+ failed\) is below 95%/) }]);
    expect(rec.rollback).toMatchObject({ code: "AnalysisFailed" });

    const analysis = (await workload())!.canary.analysis as RecordedAnalysis;
    expect(analysis).toMatchObject({ step: 1, phase: "Failed" });
    expect(analysis.windows).toHaveLength(1);
    const [w] = analysis.windows;
    expect(w).toMatchObject({ phase: "Failed", canary: { successRate: 0 }, stable: { successRate: 100, failed: 0 } });
    expect(w!.canary.requests).toBeGreaterThanOrEqual(10);
    expect(w!.canary.failed).toBe(w!.canary.requests);
    expect(w!.stable.requests).toBeGreaterThan(w!.canary.requests);
    expect(lines.some((l) => /step 2: analysis window 1: success rate 0% .*\(new revision: \d+ requests, 0% succeeded/.test(l))).toBe(true);
    expect(lines.some((l) => /AnalysisFailed/.test(l) || /analysis failed: 1 window\(s\) failed/.test(l))).toBe(true);

    // Back on v1 alone, and its clients see only v1 again.
    await waitFor(
      "v1 alone again",
      async () => {
        const stable = (await workload())?.stable?.revision as string | undefined;
        const pods = op!.fleet.pods().filter((p) => p.owner === "Rollout/default/checkout");
        return pods.length === 4 && pods.every((p) => p.ready && p.revision === stable);
      },
      120_000,
    );
    const v2Failures = load!.failures.length;
    const v1Before = load!.counts.get([...load!.counts.keys()].find((k) => k.startsWith("v1 "))!) ?? 0;
    await waitFor("more answers from v1", () => [...load!.counts].filter(([k]) => k.startsWith("v1 ")).reduce((a, [, n]) => a + n, 0) > v1Before + 100);
    expect(load!.failures.length - v2Failures).toBeLessThanOrEqual(2); // the last of v2's answers in flight
    console.log(`analysis failed v2: window ${w!.from}–${w!.to}: new revision ${w!.canary.requests} requests, ${w!.canary.failed} failed; stable ${w!.stable.requests} requests, p95 ${w!.stable.latencyP95Ms} ms`);
  });

  it("lets a healthy canary pass its analysis and become the stable revision", async () => {
    await v1WithLoad();
    await repo.write("checkout.yaml", rollout("v2", 0));
    const v2 = await repo.commit("v2 healthy");
    await waitFor("v2 Succeeded", async () => (await commitRecord(v2))?.phase === "Succeeded", 180_000, 200);
    const w = (await workload())!;
    expect(w.stable.commit).toBe(v2);
    const analysis = w.canary.analysis as RecordedAnalysis;
    expect(analysis).toMatchObject({ step: 1, phase: "Successful" });
    expect(analysis.windows).toHaveLength(2);
    for (const win of analysis.windows) {
      expect(win.phase).toBe("Successful");
      expect(win.canary.requests).toBeGreaterThanOrEqual(10);
      expect(win.canary.successRate).toBe(100);
      expect(win.stable.successRate).toBe(100);
    }
    expect(lines.some((l) => /analysis passed: 2 window\(s\) of 2s/.test(l))).toBe(true);
    expect(load!.failures).toEqual([]);
    console.log(`analysis passed v2: ${analysis.windows.map((x) => `new ${x.canary.requests} req p95 ${x.canary.latencyP95Ms} ms / stable ${x.stable.requests} req p95 ${x.stable.latencyP95Ms} ms`).join("; ")}`);
  });
});
