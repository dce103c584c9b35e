/**
 * Engine-call metrics against a real Docker engine (one dockerd of the test fleet): the runtimes the
 * operator makes for real nodes (realRuntimeFactory) report every Engine API call to the metrics, per
 * node; calls to an engine that stopped count as errors of that node. Read back from the exposition text.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { NodeRuntime } from "../../../operator/src/runtime/types.js";
import { OperatorMetrics } from "../../../operator/src/server/index.js";
import { realRuntimeFactory } from "../../../operator/src/sync/operator.js";
import { requireDocker, startFleet, type TestFleet } from "../../support/docker-fleet.js";
import { parseExposition, sampleValue } from "../../support/prometheus-text.js";

const enabled = requireDocker("docker engine metrics");

describe.runIf(enabled)("engine call metrics", () => {
  let fleet: TestFleet;
  let stateDir: string;
  let runtime: NodeRuntime | undefined;
  beforeAll(async () => {
    fleet = await startFleet({ nodes: 1, name: "metrics" });
    stateDir = await mkdtemp(join(tmpdir(), "coxswain-metrics-"));
  });
  afterAll(async () => {
    await runtime?.close();
    await fleet?.stop();
    if (stateDir) await rm(stateDir, { recursive: true, force: true });
  });

  it("counts each node's calls and their failures", async () => {
    const metrics = new OperatorMetrics({ nodes: () => [], podPhases: () => [], queueDepth: () => 0 });
    const node = fleet.nodes[0]!;
    const [from, to] = node.portRange.split("-").map(Number);
    runtime = realRuntimeFactory(stateDir, "cx-test-metrics", (name, ms, failed) => metrics.engineCall(name, ms, failed))({
      name: node.name,
      endpoint: node.endpoint,
      network: "host",
      address: "127.0.0.1",
      portRange: { from: from!, to: to! },
      unschedulable: false,
      labels: {},
    });
    await runtime.list();
    const read = async () => parseExposition((await metrics.exposition()).text);
    const ok = await read();
    // At least the list; the version negotiation before it is a call too.
    const calls = sampleValue(ok, "coxswain_engine_call_duration_seconds_count", { node: node.name })!;
    expect(calls).toBeGreaterThanOrEqual(1);
    expect(sampleValue(ok, "coxswain_engine_call_errors_total", { node: node.name })).toBeUndefined();

    await fleet.stopNode(0);
    await expect(runtime.list()).rejects.toThrow();
    const down = await read();
    expect(sampleValue(down, "coxswain_engine_call_errors_total", { node: node.name })).toBe(1);
    expect(sampleValue(down, "coxswain_engine_call_duration_seconds_count", { node: node.name })).toBe(calls + 1);
  });
});
