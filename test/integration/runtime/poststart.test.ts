/**
 * postStart hooks run by the fleet's kubelet on real runtimes (the process runtime and a real Docker
 * engine): the hook runs after the container started, the pod is not ready until it finished (though
 * nothing else holds it back: a readiness probe that always passes), and a hook that fails gets the
 * container stopped and restarted with the crash-loop back-off, its restart count growing, never ready.
 */
import { existsSync } from "node:fs";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DockerRuntime } from "../../../operator/src/runtime/docker/index.js";
import { Fleet, type NodeConfig, type ObservedPod } from "../../../operator/src/runtime/fleet.js";
import type { HookLabel } from "../../../operator/src/runtime/hooks.js";
import type { ProbeLabel, ProbesLabel } from "../../../operator/src/runtime/kubelet.js";
import { LABELS } from "../../../operator/src/runtime/labels.js";
import { ProcessRuntime } from "../../../operator/src/runtime/process/index.js";
import type { ContainerLaunch } from "../../../operator/src/runtime/types.js";
import { tempDir } from "../../support/git-repo.js";
import { requireDocker, startFleet, type TestFleet } from "../../support/docker-fleet.js";
import { buildTestImages, TEST_IMAGES } from "../../support/images.js";
import { waitFor } from "../../support/wait.js";

const OWNER = "cx-test-poststart";
/** How long the slow hook takes before it writes its marker. */
const HOOK_SECONDS = 3;

/** A readiness probe that passes at once: only the hook can hold the pod back. */
const alwaysReady: ProbeLabel = { type: "exec", command: ["true"], initialDelaySeconds: 0, periodSeconds: 1, timeoutSeconds: 5, successThreshold: 1, failureThreshold: 1 };

function launch(pod: string, base: Pick<ContainerLaunch, "image" | "command" | "env" | "ports">, hook: HookLabel): ContainerLaunch {
  const probes: ProbesLabel = { grace: 2 };
  return {
    runtimeName: `cx_default_${pod}_app`,
    ...base,
    network: "host",
    limits: {},
    labels: {
      [LABELS.owner]: OWNER,
      [LABELS.kind]: "Deployment",
      [LABELS.namespace]: "default",
      [LABELS.workload]: "hooked",
      [LABELS.pod]: pod,
      [LABELS.container]: "app",
      [LABELS.revision]: "r1",
      [LABELS.readiness]: JSON.stringify(alwaysReady),
      [LABELS.probes]: JSON.stringify(probes),
      [LABELS.postStart]: JSON.stringify(hook),
    },
  };
}

/** What a runtime under test needs to provide. */
interface Subject {
  fleet: Fleet;
  /** The container's program: long running, exits on SIGTERM. */
  base: (pod: string) => Pick<ContainerLaunch, "image" | "command" | "env" | "ports">;
  /** A shell command that waits HOOK_SECONDS, then leaves a marker for `pod`; and whether the marker is there. */
  slowHook: (pod: string) => string;
  hookDone: (pod: string, containerId: string) => Promise<boolean>;
}

async function createPod(s: Subject, pod: string, hook: HookLabel): Promise<void> {
  s.fleet.reserve({ pod, node: "node-1", owner: "Deployment/default/hooked", requests: { cpuMillis: 0, memoryBytes: 0 }, requestsForScoring: { cpuMillis: 0, memoryBytes: 0 }, portCount: 0 });
  await s.fleet.createPod(pod, "node-1", [launch(pod, s.base(pod), hook)]);
}

const podOf = (s: Subject, pod: string): ObservedPod | undefined => s.fleet.pods().find((p) => p.name === pod);

/** The two scenarios, the same on every runtime. */
function scenarios(subject: () => Subject): void {
  it("runs the hook after the start; the pod is ready only once the hook finished", async () => {
    const s = subject();
    const pod = "hooked-r1-slow";
    const startedAt = Date.now();
    await createPod(s, pod, { type: "exec", command: ["sh", "-c", s.slowHook(pod)] });
    const created = podOf(s, pod)!;
    expect(created.containers[0]!.state).toBe("running"); // started before its hook ran
    expect(created.ready).toBe(false);
    expect(await s.hookDone(pod, created.containers[0]!.id)).toBe(false);

    const ready = await waitFor("the pod ready", () => (podOf(s, pod)?.ready ? podOf(s, pod) : undefined), 60_000);
    const readyAfterMs = Date.now() - startedAt;
    expect(await s.hookDone(pod, ready.containers[0]!.id)).toBe(true);
    expect(readyAfterMs).toBeGreaterThanOrEqual(HOOK_SECONDS * 1000); // an always-passing probe alone takes well under a second
    expect(ready.restartCount).toBe(0);
  }, 90_000);

  it("a failing hook stops the container, which is restarted with the back-off and never ready", async () => {
    const s = subject();
    const pod = "hooked-r1-fail";
    await createPod(s, pod, { type: "exec", command: ["sh", "-c", "exit 3"] });
    let everReady = false;
    let sawBackOff = false;
    let firstRestartSeenAt: number | undefined;
    // The first restart is immediate, the second one waits 10 s (the kubelet's back-off).
    const restarted = await waitFor(
      "two restarts",
      () => {
        const p = podOf(s, pod);
        everReady ||= p?.ready === true;
        sawBackOff ||= p?.crashLooping === true;
        if (p && p.restartCount >= 1) firstRestartSeenAt ??= Date.now();
        return p && p.restartCount >= 2 ? p : undefined;
      },
      60_000,
    );
    const between = Date.now() - firstRestartSeenAt!;
    expect(everReady).toBe(false);
    expect(sawBackOff).toBe(true);
    expect(restarted.ready).toBe(false);
    expect(restarted.reason).not.toBe("Running");
    // 10 s after the first restart; the first one may have been seen up to a listing late.
    expect(between).toBeGreaterThanOrEqual(8_000);
  }, 90_000);
}

describe("postStart on the process runtime", () => {
  let fleet: Fleet;
  let stateDir: string;
  let markers: string;

  beforeAll(async () => {
    stateDir = await tempDir("coxswain-poststart-");
    markers = await tempDir("coxswain-poststart-markers-");
    fleet = new Fleet({
      runtimeFactory: () => new ProcessRuntime({ stateDir, owner: OWNER }),
      pollMs: 500,
    });
    const config: NodeConfig = { name: "node-1", endpoint: "process://local", network: "host", address: "127.0.0.1", portRange: { from: 63600, to: 63610 }, unschedulable: false, labels: {} };
    await fleet.setNodes([config]);
    fleet.start();
  });

  afterAll(async () => {
    await fleet?.close();
    const rt = new ProcessRuntime({ stateDir, owner: OWNER });
    for (const c of await rt.list()) await rt.remove(c.id);
    await rt.close();
    await rm(stateDir, { recursive: true, force: true });
    await rm(markers, { recursive: true, force: true });
  });

  scenarios(() => ({
    fleet,
    base: () => ({ image: "none", command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 0.2; done"], env: {}, ports: [] }),
    slowHook: (pod) => `sleep ${HOOK_SECONDS}; touch ${join(markers, pod)}`,
    hookDone: async (pod) => existsSync(join(markers, pod)),
  }));
});

const docker = requireDocker("postStart on docker");

describe.skipIf(!docker)("postStart on a real Docker engine", () => {
  let engines: TestFleet;
  let fleet: Fleet;
  let port = 0;

  beforeAll(async () => {
    engines = await startFleet({ nodes: 1, name: "poststart" });
    const n = engines.nodes[0]!;
    await buildTestImages(n.socketPath);
    const [from, to] = n.portRange.split("-").map(Number) as [number, number];
    port = from;
    fleet = new Fleet({ runtimeFactory: (c) => new DockerRuntime({ endpoint: c.endpoint, owner: OWNER, nodeName: c.name }), pollMs: 500 });
    await fleet.setNodes([{ name: "node-1", endpoint: n.endpoint, network: "host", address: "127.0.0.1", portRange: { from, to }, unschedulable: false, labels: {} }]);
    fleet.start();
  }, 180_000);

  afterAll(async () => {
    await fleet?.close();
    await engines?.stop();
  });

  scenarios(() => ({
    fleet,
    // The test app (busybox httpd), which exits on SIGTERM; each pod on a port of its own.
    base: () => {
      port++;
      return { image: TEST_IMAGES.v1, env: { PORT: String(port) }, ports: [] };
    },
    slowHook: () => `sleep ${HOOK_SECONDS}; touch /tmp/post-start-done`,
    hookDone: async (_pod, id) => (await fleet.runtimeOf("node-1")!.exec(id, ["test", "-f", "/tmp/post-start-done"], 5_000)).exitCode === 0,
  }));
});
