/**
 * /metrics, /readyz and /healthz of a running operator (in-process, fake runtime, real Git repositories,
 * real HTTP): the text scraped is read with a strict exposition-format reader (test/support/prometheus-text.ts);
 * reconciles, commit phases, the scheduler and webhooks move the counters they should; every metric follows
 * Prometheus' naming conventions; a remote that stops answering counts failed fetches. /readyz answers 503
 * with the reason for each of its conditions — a failing Git source, a failing status write, no node Ready —
 * and 200 again when it clears, while /healthz answers 200 throughout.
 */
import { rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { sign } from "../../../operator/src/server/index.js";
import { deploymentYaml } from "../../support/manifests.js";
import { parseExposition, sampleValue, type MetricFamily } from "../../support/prometheus-text.js";
import { waitFor } from "../../support/wait.js";
import { operator, Scope, type TestOperator } from "../proposals/harness.js";

const SECRET = "whsec-metrics-0123456789abcdef";
/** Requests per second the tests' operators take from one client: the waits below poll faster than the default 10. */
const RATE = 1_000;
const scope = new Scope();
afterEach(() => scope.cleanup());

const web = (image: string) => deploymentYaml({ name: "web", replicas: 2, image });

/** GET /metrics over HTTP, parsed; the content type is Prometheus' text format 0.0.4. */
async function scrape(t: TestOperator): Promise<Map<string, MetricFamily>> {
  const res = await fetch(`${t.op.server!.url}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
  return parseExposition(await res.text());
}

/** A sample's value, 0 when the series does not exist yet (a counter never incremented). */
async function value(t: TestOperator, name: string, labels: Record<string, string> = {}): Promise<number> {
  return sampleValue(await scrape(t), name, labels) ?? 0;
}

async function get(t: TestOperator, path: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${t.op.server!.url}${path}`);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** Label names a metric may carry: ours (few values each) and those of prom-client's default metrics. */
const ALLOWED_LABELS = new Set(["controller", "phase", "outcome", "node", "result", "provider", "le", "kind", "space", "type", "version", "major", "minor", "patch"]);

/**
 * prom-client's default metrics that break the `_total` rule: counts of live handles, requests and
 * resources, which are gauges (Node's own names for them). Ours never do.
 */
const PROM_CLIENT_TOTAL_GAUGES = new Set(["nodejs_active_handles_total", "nodejs_active_requests_total", "nodejs_active_resources_total"]);

describe("/metrics", () => {
  it("counts reconciles, commit phases, placements and webhooks of a commit applied, and reads gauges of the state", async () => {
    const work = await scope.work();
    const { gitdir } = await scope.bare(work);
    await work.write("web.yaml", web("app:v1"));
    await work.commit("v1");
    await work.push("origin", "main");
    // A fresh operator counts from zero: its registry is its own, not shared with the other tests' operators.
    const t = await operator(scope, { repo: gitdir, listen: "127.0.0.1:0", webhookRate: RATE, webhookSecret: SECRET });
    const v1 = await work.revParse("main");
    await waitFor("v1 Succeeded", () => t.op.store.getCommit(v1)?.phase === "Succeeded", 30_000, 50);
    expect(await value(t, "coxswain_commit_phase_transitions_total", { phase: "Succeeded" })).toBe(1);

    await work.write("web.yaml", web("app:v2"));
    const v2 = await work.commit("v2");
    await work.push("origin", "main");
    const body = JSON.stringify({ ref: "refs/heads/main", after: v2 });
    const hook = await fetch(`${t.op.server!.url}/api/v1/webhooks/generic`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-coxswain-signature-256": `sha256=${sign(SECRET, body)}` },
      body,
    });
    expect(hook.status).toBe(200);
    await waitFor("v2 Succeeded", () => t.op.store.getCommit(v2)?.phase === "Succeeded", 30_000, 50);
    const m = await waitFor("two Succeeded transitions", async () => {
      const f = await scrape(t);
      return sampleValue(f, "coxswain_commit_phase_transitions_total", { phase: "Succeeded" }) === 2 ? f : undefined;
    });
    // v1 and v2 each went Progressing → Succeeded: two rollouts that succeeded.
    expect(sampleValue(m, "coxswain_commit_phase_transitions_total", { phase: "Progressing" })).toBe(2);
    expect(sampleValue(m, "coxswain_rollouts_total", { outcome: "Succeeded" })).toBe(2);
    expect(sampleValue(m, "coxswain_reconcile_duration_seconds_count", { controller: "Deployment" })).toBeGreaterThan(0);
    expect(sampleValue(m, "coxswain_reconcile_duration_seconds_count", { controller: "@source" })).toBeGreaterThan(0);
    expect(sampleValue(m, "coxswain_reconcile_duration_seconds_count", { controller: "Node" })).toBeGreaterThan(0);
    expect(sampleValue(m, "coxswain_workqueue_queue_duration_seconds_count")).toBeGreaterThan(0);
    expect(sampleValue(m, "coxswain_workqueue_depth")).toBeGreaterThanOrEqual(0);
    // Two pods of v1, two of v2 (a rolling update places each new pod once).
    expect(sampleValue(m, "coxswain_scheduler_attempts_total", { result: "scheduled" })).toBeGreaterThanOrEqual(4);
    expect(sampleValue(m, "coxswain_scheduler_pass_duration_seconds_count")).toBeGreaterThan(0);
    expect(sampleValue(m, "coxswain_webhook_requests_total", { provider: "generic", result: "triggered" })).toBe(1);
    expect(sampleValue(m, "coxswain_node_ready", { node: "local" })).toBe(1);
    await waitFor("two Running pods", async () => (await value(t, "coxswain_pods", { phase: "Running" })) === 2);
    // Nothing failed, nothing was rolled back; the repository is on disk, so nothing was fetched.
    expect(sampleValue(m, "coxswain_reconcile_errors_total", { controller: "Deployment" })).toBeUndefined();
    expect(sampleValue(m, "coxswain_rollbacks_total")).toBe(0);
    expect(sampleValue(m, "coxswain_reverts_total")).toBe(0);
    expect(sampleValue(m, "coxswain_git_fetch_failures_total")).toBe(0);
    // The default process metrics are there too.
    expect(m.get("process_cpu_seconds_total")?.type).toBe("counter");
    expect(m.get("nodejs_heap_size_used_bytes")?.type).toBe("gauge");
  });

  it("names every metric by Prometheus' conventions", async () => {
    const work = await scope.work();
    const { gitdir } = await scope.bare(work);
    await work.write("web.yaml", web("app:v1"));
    const v1 = await work.commit("v1");
    await work.push("origin", "main");
    const t = await operator(scope, { repo: gitdir, listen: "127.0.0.1:0", webhookRate: RATE });
    await waitFor("v1 Succeeded", () => t.op.store.getCommit(v1)?.phase === "Succeeded", 30_000, 50);
    const families = [...(await scrape(t)).values()];
    const ours = families.filter((f) => f.name.startsWith("coxswain_"));
    expect(ours.map((f) => f.name).sort()).toEqual([
      "coxswain_commit_phase_transitions_total",
      "coxswain_engine_call_duration_seconds",
      "coxswain_engine_call_errors_total",
      "coxswain_forge_posts_total",
      "coxswain_git_fetch_duration_seconds",
      "coxswain_git_fetch_failures_total",
      "coxswain_node_ready",
      "coxswain_pods",
      "coxswain_reconcile_duration_seconds",
      "coxswain_reconcile_errors_total",
      "coxswain_reverts_total",
      "coxswain_rollbacks_total",
      "coxswain_rollouts_total",
      "coxswain_scheduler_attempts_total",
      "coxswain_scheduler_pass_duration_seconds",
      "coxswain_webhook_requests_total",
      "coxswain_workqueue_depth",
      "coxswain_workqueue_queue_duration_seconds",
    ]);
    for (const f of families) {
      const where = `${f.name} (${f.type})`;
      // Every family is typed and explained; names are snake_case.
      expect(f.type, where).not.toBe("untyped");
      expect(f.help?.trim(), where).toBeTruthy();
      expect(f.name, where).toMatch(/^[a-z][a-z0-9_]*$/);
      // `_total` on counters and only there; histograms are durations in seconds; no unit but base units.
      if (!PROM_CLIENT_TOTAL_GAUGES.has(f.name)) expect(f.name.endsWith("_total"), where).toBe(f.type === "counter");
      else expect(f.type, where).toBe("gauge");
      if (f.type === "histogram" && f.name.startsWith("coxswain_")) expect(f.name, where).toMatch(/_seconds$/);
      expect(f.name, where).not.toMatch(/_(milliseconds|ms|minutes|hours|kilobytes|megabytes)(_|$)/);
      for (const s of f.samples) for (const label of Object.keys(s.labels)) expect(ALLOWED_LABELS.has(label), `${where} label ${label}`).toBe(true);
    }
  });

  it("counts failed fetches while the remote is down; /readyz fails after three in a row and /healthz stays 200", async () => {
    const work = await scope.work();
    const { url, server } = await scope.served(work);
    await work.write("web.yaml", web("app:v1"));
    const v1 = await work.commit("v1");
    await work.push("origin", "main");
    const t = await operator(scope, { repo: url, listen: "127.0.0.1:0", webhookRate: RATE, pollMs: 100, fetchBackoff: { initialMs: 100, maxMs: 200 }, gitTimeoutMs: 2_000 });
    await waitFor("v1 Succeeded", () => t.op.store.getCommit(v1)?.phase === "Succeeded", 30_000, 50);
    await waitFor("a fetch counted", async () => (await value(t, "coxswain_git_fetch_duration_seconds_count")) > 0);
    expect(await get(t, "/readyz")).toMatchObject({ status: 200, body: { ready: true, checks: { git: { ok: true }, nodes: { ok: true }, status: { ok: true } } } });
    expect(await value(t, "coxswain_git_fetch_failures_total")).toBe(0);

    await server.close();
    await waitFor("failed fetches counted", async () => (await value(t, "coxswain_git_fetch_failures_total")) >= 3);
    const notReady = await waitFor("/readyz 503", async () => {
      const r = await get(t, "/readyz");
      return r.status === 503 ? r : undefined;
    });
    expect(notReady.body).toMatchObject({ ready: false, checks: { git: { ok: false, code: "GitFetchFailed" }, nodes: { ok: true } } });
    expect(String((notReady.body.checks as { git: { reason: string } }).git.reason)).toContain(url);
    const health = await get(t, "/healthz");
    expect(health).toMatchObject({ status: 200, body: { ok: true } });
  });
});

describe("/readyz", () => {
  it("fails while a status write fails, with its code, and is ready again once writes succeed; /healthz stays 200", async () => {
    const work = await scope.work();
    await work.write("web.yaml", web("app:v1"));
    const v1 = await work.commit("v1");
    const t = await operator(scope, { repo: work.dir, listen: "127.0.0.1:0", webhookRate: RATE, statusDebounceMs: 30 });
    await waitFor("v1 Succeeded", () => t.op.store.getCommit(v1)?.phase === "Succeeded", 30_000, 50);
    await t.op.flushStatus();
    expect((await get(t, "/readyz")).status).toBe(200);
    // Another process holds the status branch's lock: every write of it fails.
    const lock = join(work.gitdir, "refs/heads/coxswain/status.lock");
    await writeFile(lock, "");
    await work.write("web.yaml", web("app:v2"));
    const v2 = await work.commit("v2");
    const notReady = await waitFor("/readyz 503", async () => {
      const r = await get(t, "/readyz");
      return r.status === 503 ? r : undefined;
    });
    expect(notReady.body).toMatchObject({ ready: false, checks: { status: { ok: false, code: "StatusWriteFailed" }, git: { ok: true }, nodes: { ok: true } } });
    expect((await get(t, "/healthz")).status).toBe(200);
    await rm(lock);
    await waitFor("v2 Succeeded", () => t.op.store.getCommit(v2)?.phase === "Succeeded", 30_000, 50);
    await waitFor("/readyz 200 again", async () => (await get(t, "/readyz")).status === 200);
  });

  it("fails while no node is Ready, and is ready again when one answers; /healthz stays 200", async () => {
    const work = await scope.work();
    await work.write("web.yaml", web("app:v1"));
    const v1 = await work.commit("v1");
    const t = await operator(scope, { repo: work.dir, listen: "127.0.0.1:0", webhookRate: RATE, nodeGraceMs: 300, evictionTimeoutMs: 600_000 });
    await waitFor("v1 Succeeded", () => t.op.store.getCommit(v1)?.phase === "Succeeded", 30_000, 50);
    expect((await get(t, "/readyz")).status).toBe(200);
    t.runtimes.get("local")!.setDown(true);
    const notReady = await waitFor("/readyz 503", async () => {
      const r = await get(t, "/readyz");
      return r.status === 503 ? r : undefined;
    });
    expect(notReady.body).toMatchObject({ ready: false, checks: { nodes: { ok: false, reason: "no node is Ready (local NotReady)" }, git: { ok: true }, status: { ok: true } } });
    expect(await value(t, "coxswain_node_ready", { node: "local" })).toBe(0);
    expect((await get(t, "/healthz")).status).toBe(200);
    t.runtimes.get("local")!.setDown(false);
    await waitFor("/readyz 200 again", async () => (await get(t, "/readyz")).status === 200);
    expect(await value(t, "coxswain_node_ready", { node: "local" })).toBe(1);
  });
});
