/**
 * The fleet and its kubelet on a real Docker engine, for what only a real engine shows: a container whose
 * program exits at once. Docker takes StartedAt from the daemon's clock after the start call returned and
 * FinishedAt from containerd's exit time, so such a container is often reported with FinishedAt a few
 * milliseconds *before* StartedAt (about one start in five here, more under load). Its exit must still
 * count: the pod is never ready while its container is listed exited, it is restarted in place, and it
 * ends in CrashLoopBackOff. And since no run of it lasts a second, it is never ready at all (a run without
 * probes is ready only once a listing a second after the first still sees it running).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DockerRuntime } from "../../../operator/src/runtime/docker/index.js";
import { Fleet, type NodeConfig, type ObservedPod } from "../../../operator/src/runtime/fleet.js";
import { LABELS } from "../../../operator/src/runtime/labels.js";
import type { ContainerLaunch } from "../../../operator/src/runtime/types.js";
import { requireDocker, startFleet, type TestFleet } from "../../support/docker-fleet.js";
import { buildTestImages, TEST_IMAGES } from "../../support/images.js";
import { waitFor } from "../../support/wait.js";

const OWNER = "cx-test-fleet-docker";
const enabled = requireDocker("fleet on docker");

/**
 * Pods created at once. Each is started twice before its back-off and about one start in five is listed
 * with its end before its start, so a stuck pod shows up in nearly every run when exits are mishandled.
 */
const PODS = 8;

function crashLaunch(pod: string): ContainerLaunch {
  return {
    runtimeName: `cx_default_${pod}_app`,
    image: TEST_IMAGES.exits,
    env: {},
    network: "host",
    ports: [],
    limits: {},
    labels: {
      [LABELS.owner]: OWNER,
      [LABELS.kind]: "Deployment",
      [LABELS.namespace]: "default",
      [LABELS.workload]: "crash",
      [LABELS.pod]: pod,
      [LABELS.container]: "app",
      [LABELS.revision]: "r1",
    },
  };
}

/** Pods the fleet reports ready although the engine's listing has a container of theirs not running. */
function readyButNotRunning(pods: readonly ObservedPod[]): string[] {
  return pods.filter((p) => p.ready && p.containers.some((c) => c.state !== "running")).map((p) => `${p.name} (${p.containers.map((c) => c.state).join(",")})`);
}

describe.skipIf(!enabled)("the fleet on a real Docker engine", () => {
  let engines: TestFleet;
  let fleet: Fleet;
  const violations: string[] = [];
  const everReady = new Set<string>();
  const check = (pods: readonly ObservedPod[]) => {
    violations.push(...readyButNotRunning(pods));
    for (const p of pods) if (p.ready) everReady.add(`${p.name} (restarts ${p.restartCount})`);
  };

  beforeAll(async () => {
    engines = await startFleet({ nodes: 1, name: "fleet-docker" });
    await buildTestImages(engines.nodes[0]!.socketPath);
  }, 120_000);

  afterAll(async () => {
    await fleet?.close();
    await engines?.stop();
  });

  it("a container that exits at once is never ready (not even while listed running), is restarted in place and ends in CrashLoopBackOff", async () => {
    const n = engines.nodes[0]!;
    const [from, to] = n.portRange.split("-").map(Number) as [number, number];
    const config: NodeConfig = { name: "node-1", endpoint: n.endpoint, network: "host", address: "127.0.0.1", portRange: { from, to }, unschedulable: false, labels: {} };
    fleet = new Fleet({
      runtimeFactory: (c) => new DockerRuntime({ endpoint: c.endpoint, owner: OWNER, nodeName: c.name }),
      // Every change is checked the moment the fleet reports it.
      onChange: () => check(fleet.pods()),
    });
    await fleet.setNodes([config]);
    fleet.start();
    const names = Array.from({ length: PODS }, (_, i) => `crash-r1-${i}`);
    for (const pod of names) {
      fleet.reserve({ pod, node: "node-1", owner: "Deployment/default/crash", requests: { cpuMillis: 0, memoryBytes: 0 }, requestsForScoring: { cpuMillis: 0, memoryBytes: 0 }, portCount: 0 });
    }
    await Promise.all(names.map((pod) => fleet.createPod(pod, "node-1", [crashLaunch(pod)])));

    // The first exit is restarted at once; the second one waits 10 s: every pod shows CrashLoopBackOff.
    const looping = await waitFor(
      `all ${PODS} pods in CrashLoopBackOff`,
      () => {
        const pods = fleet.pods();
        check(pods);
        return pods.length === PODS && pods.every((p) => p.crashLooping) ? pods : undefined;
      },
      30_000,
    ).catch((err: Error) => {
      const seen = fleet
        .pods()
        .map((p) => `${p.name}: ready=${p.ready} restarts=${p.restartCount} reason=${p.reason ?? "-"} ${p.containers.map((c) => `${c.state} started=${c.startedAt} finished=${c.finishedAt}`).join(" ")}`);
      throw new Error(`${err.message}\n${seen.join("\n")}`);
    });
    expect(looping.map((p) => p.restartCount >= 1 && !p.ready && p.reason === "CrashLoopBackOff")).toEqual(names.map(() => true));
    expect(violations).toEqual([]);
    expect([...everReady]).toEqual([]);
  }, 60_000);
});
