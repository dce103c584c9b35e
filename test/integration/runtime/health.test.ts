/**
 * The health state machine (runtime/health.ts) driven by real probes against real containers: a small
 * driver here plays the part the fleet plays in the operator — list, observe, run the due probes, apply
 * the results, carry out stop/restart — on a Docker engine (busybox test images) and on the process
 * runtime. It shows liveness-driven restarts, the back-off after them, startup gating and readiness that
 * never restarts, with short probe periods.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DockerRuntime } from "../../../operator/src/runtime/docker/index.js";
import { applyHealthEvent, healthStatus, newHealthState, observeContainer, type HealthSpec, type HealthState, type HealthStatus, type ProbeKind } from "../../../operator/src/runtime/health.js";
import { LABELS } from "../../../operator/src/runtime/labels.js";
import { runProbe, type ProbeTarget } from "../../../operator/src/runtime/probe.js";
import { ProcessRuntime } from "../../../operator/src/runtime/process/index.js";
import type { ContainerLaunch, NodeRuntime } from "../../../operator/src/runtime/types.js";
import { requireDocker, startFleet, type TestFleet } from "../../support/docker-fleet.js";
import { buildTestImages, TEST_IMAGES } from "../../support/images.js";

const OWNER = "cx-test-health";

interface DriveResult {
  state: HealthState;
  status: HealthStatus;
  /** Every reason seen, in order, without repeats. */
  reasons: string[];
  actions: string[];
}

/**
 * Drives one container until `until` holds (or the deadline passes): observe it, act, probe what is due.
 * This is the loop the operator runs per container, minus scheduling niceties.
 */
async function drive(
  rt: NodeRuntime,
  id: string,
  spec: HealthSpec,
  targets: Partial<Record<ProbeKind, ProbeTarget>>,
  until: (status: HealthStatus, state: HealthState) => boolean,
  timeoutMs: number,
  initial: HealthState = newHealthState(spec),
): Promise<DriveResult> {
  let state = initial;
  const reasons: string[] = [];
  const actions: string[] = [];
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const listedAt = Date.now();
    const container = (await rt.list()).find((c) => c.id === id);
    if (!container) throw new Error(`container ${id} disappeared`);
    state = observeContainer(state, container, listedAt);
    const status = healthStatus(state, Date.now());
    if (reasons[reasons.length - 1] !== status.reason) reasons.push(status.reason);
    if (until(status, state)) return { state, status, reasons, actions };
    if (Date.now() > deadline) throw new Error(`gave up after ${timeoutMs} ms; reasons seen: ${reasons.join(" → ")}; last: ${JSON.stringify(status)}`);
    if (status.action === "stop") {
      actions.push("stop");
      await rt.stop(id, 1);
    } else if (status.action === "restart") {
      actions.push("restart");
      await rt.start(id);
    } else {
      for (const kind of status.due) {
        const outcome = await runProbe(targets[kind]!, state.spec[kind]!.timeoutSeconds * 1000);
        state = applyHealthEvent(state, { type: "probe", probe: kind, at: Date.now(), ok: outcome.ok, message: outcome.message });
      }
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

const enabled = requireDocker("health on docker");

describe.skipIf(!enabled)("container health on a Docker engine", () => {
  let fleet: TestFleet;
  let rt: DockerRuntime;
  let seq = 0;

  function launch(image: string, env: Record<string, string> = {}): ContainerLaunch & { port: number } {
    const n = ++seq;
    const port = Number(fleet.nodes[0]!.portRange.split("-")[0]) + n;
    return {
      port,
      runtimeName: `cx_test_health-${n}_app`,
      image,
      env: { PORT: String(port), ...env },
      network: "host",
      ports: [{ containerPort: port, hostPort: port, protocol: "TCP" }],
      limits: {},
      labels: { [LABELS.owner]: OWNER, [LABELS.pod]: `health-${n}` },
    };
  }

  beforeAll(async () => {
    fleet = await startFleet({ nodes: 1, name: "health" });
    await buildTestImages(fleet.nodes[0]!.socketPath);
    rt = new DockerRuntime({ endpoint: fleet.nodes[0]!.endpoint, owner: OWNER, nodeName: "node-1" });
  });

  afterAll(async () => {
    await rt?.close();
    await fleet?.stop();
  });

  it("restarts a container whose exec liveness probe fails, then holds the next restart in CrashLoopBackOff; a rebuilt state agrees", async () => {
    // /www/healthz lives 1.5 s after each start; liveness `cat /www/healthz` every second, 2 failures → stop.
    const l = launch(TEST_IMAGES.probes, { HEALTHZ_FOR: "1.5" });
    const c = await rt.run(l);
    const spec: HealthSpec = { liveness: { periodSeconds: 1, failureThreshold: 2, timeoutSeconds: 2 } };
    const targets = { liveness: { type: "exec" as const, command: ["cat", "/www/healthz"], runtime: rt, containerId: c.id } };
    const result = await drive(rt, c.id, spec, targets, (s) => s.reason === "CrashLoopBackOff", 30_000);
    expect(result.actions).toEqual(["stop", "restart", "stop"]);
    // Without a readiness probe each run is "Starting" until a listing a second later still sees it running.
    expect(result.reasons).toEqual(["Starting", "Running", "Unhealthy", "Completed", "Starting", "Running", "Unhealthy", "CrashLoopBackOff"]);
    expect(result.status.restartCount).toBe(1);
    expect(result.status.message).toMatch(/^back-off 10s restarting failed container: Liveness probe failed 2 time\(s\) in a row: exec \["cat","\/www\/healthz"\] exited with exit code 1/);
    const lastStart = result.state.startedAt!;
    expect(result.status.waitUntil).toBe(lastStart + 10_000);
    // After an operator restart: a new runtime instance and a fresh state see the same back-off.
    const other = new DockerRuntime({ endpoint: fleet.nodes[0]!.endpoint, owner: OWNER });
    const container = (await other.list()).find((x) => x.id === c.id)!;
    expect(container.restartCount).toBe(1);
    const rebuilt = healthStatus(observeContainer(newHealthState(spec), container), Date.now());
    expect(rebuilt).toMatchObject({ action: "wait", reason: "CrashLoopBackOff", waitUntil: lastStart + 10_000, restartCount: 1 });
    await other.close();
    await rt.remove(c.id);
  });

  it("holds readiness behind an httpGet startup probe until /healthz appears, without restarting", async () => {
    const l = launch(TEST_IMAGES.probes, { HEALTHZ_AFTER: "2" });
    const c = await rt.run(l);
    const http = { type: "http" as const, host: "127.0.0.1", port: l.port, path: "/healthz" };
    const spec: HealthSpec = { startup: { periodSeconds: 1, failureThreshold: 10 }, readiness: { periodSeconds: 1 } };
    const started = Date.now();
    const result = await drive(rt, c.id, spec, { startup: http, readiness: http }, (s) => s.ready, 20_000);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_900);
    expect(result.reasons).toEqual(["Starting", "NotReady", "Running"]);
    expect(result.actions).toEqual([]);
    expect(result.status.restartCount).toBe(0);
    await rt.remove(c.id);
  });

  it("restarts a container whose startup probe never passes within failureThreshold × period", async () => {
    const l = launch(TEST_IMAGES.neverReady);
    const c = await rt.run(l);
    const http = { type: "http" as const, host: "127.0.0.1", port: l.port, path: "/healthz" };
    const spec: HealthSpec = { startup: { periodSeconds: 1, failureThreshold: 2 } };
    const result = await drive(rt, c.id, spec, { startup: http }, (s) => s.restartCount === 1 && s.reason === "Starting", 20_000);
    expect(result.actions).toEqual(["stop", "restart"]);
    expect(result.reasons.slice(0, 3)).toEqual(["Starting", "Unhealthy", "Completed"]);
    await rt.remove(c.id);
  });

  it("keeps a container whose readiness probe fails running and not ready, never restarting it", async () => {
    const l = launch(TEST_IMAGES.neverReady);
    const c = await rt.run(l);
    const http = { type: "http" as const, host: "127.0.0.1", port: l.port, path: "/healthz" };
    const spec: HealthSpec = { readiness: { periodSeconds: 1, failureThreshold: 1 } };
    let probesRun = 0;
    const result = await drive(rt, c.id, spec, { readiness: http }, (_s, state) => (probesRun = state.probes.readiness?.failures ?? 0) >= 3, 20_000);
    expect(probesRun).toBe(3);
    expect(result.status).toMatchObject({ ready: false, reason: "NotReady", action: "none", restartCount: 0 });
    expect(result.status.message).toContain("HTTP 404");
    expect(result.actions).toEqual([]);
    await rt.remove(c.id);
  });
});

describe("container health on the process runtime", () => {
  let stateDir = "";
  let rt: ProcessRuntime;

  beforeAll(async () => {
    stateDir = await mkdtemp(join(tmpdir(), "cx-health-"));
    rt = new ProcessRuntime({ stateDir, owner: OWNER });
  });

  afterAll(async () => {
    for (const c of (await rt?.list()) ?? []) await rt.remove(c.id);
    await rt?.close();
    await rm(stateDir, { recursive: true, force: true });
  });

  it("restarts a process whose exec liveness probe fails; the restart count survives in the record", async () => {
    const c = await rt.run({
      runtimeName: "liveness",
      image: "none",
      command: ["sh", "-c", "touch healthz; sleep 2; rm healthz; exec sleep 600"],
      env: {},
      network: "host",
      ports: [],
      limits: {},
      labels: { [LABELS.owner]: OWNER, [LABELS.pod]: "liveness" },
    });
    // The first probe comes 1 s after each start, when healthz surely exists; it is gone 2 s after the start.
    const spec: HealthSpec = { liveness: { initialDelaySeconds: 1, periodSeconds: 1, failureThreshold: 1 } };
    const targets = { liveness: { type: "exec" as const, command: ["test", "-f", "healthz"], runtime: rt, containerId: c.id } };
    const result = await drive(rt, c.id, spec, targets, (s) => s.restartCount === 1 && s.reason === "Running", 20_000);
    expect(result.actions).toEqual(["stop", "restart"]);
    expect(result.reasons).toEqual(["Starting", "Running", "Unhealthy", "Error", "Starting", "Running"]);
    const again = new ProcessRuntime({ stateDir, owner: OWNER });
    expect((await again.list()).find((x) => x.id === c.id)?.restartCount).toBe(1);
    await again.close();
    await rt.remove(c.id);
  });
});
