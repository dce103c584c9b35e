/**
 * restartPolicy OnFailure and Never on the fake runtime: the kubelet restarts an exited container only as the
 * pod's policy allows, the pod ends Succeeded or Failed, an ended pod holds no resources, the policy survives
 * an operator restart (it is a label), and Deployments' pods (no label: Always) are restarted as before.
 */
import { describe, expect, it } from "vitest";
import { FakeRuntime } from "../../../operator/src/runtime/fake/index.js";
import { Fleet, type NodeConfig } from "../../../operator/src/runtime/fleet.js";
import { LABELS } from "../../../operator/src/runtime/labels.js";
import { logTail } from "../../../operator/src/runtime/log-tail.js";
import type { ContainerLaunch } from "../../../operator/src/runtime/types.js";
import { waitFor } from "../../support/wait.js";

const GiB = 2 ** 30;
const n1: NodeConfig = { name: "n1", endpoint: "unix:///fake/n1.sock", network: "host", address: "127.0.0.1", portRange: { from: 30000, to: 30003 }, unschedulable: false, labels: {} };

function launch(pod: string, container: string, policy: "Always" | "OnFailure" | "Never"): ContainerLaunch {
  return {
    runtimeName: `cx_default_${pod}_${container}`,
    image: "app:v1",
    env: {},
    network: "host",
    ports: [],
    limits: {},
    labels: {
      [LABELS.owner]: "coxswain",
      [LABELS.kind]: "Job",
      [LABELS.namespace]: "default",
      [LABELS.workload]: "migrate",
      [LABELS.pod]: pod,
      [LABELS.container]: container,
      [LABELS.revision]: "r1",
      [LABELS.requests]: JSON.stringify({ cpuMillis: 500, memoryBytes: GiB }),
      ...(policy === "Always" ? {} : { [LABELS.restartPolicy]: policy }),
    },
  };
}

async function setup(now: () => number) {
  const rt = new FakeRuntime({ name: "n1", cpuMillis: 2000, memoryBytes: 4 * GiB, now });
  const fleet = new Fleet({ runtimeFactory: () => rt, pollMs: 60_000, now });
  await fleet.setNodes([n1]);
  fleet.start();
  return { rt, fleet };
}

describe("restartPolicy", () => {
  it("Never: a container that exits is not started again; the pod is Failed on a non-zero exit, Succeeded when all exit 0, and holds no resources", async () => {
    let now = 1_000_000;
    const { rt, fleet } = await setup(() => now);
    await fleet.createPod("a", "n1", [launch("a", "main", "Never"), launch("a", "side", "Never")]);
    await fleet.createPod("b", "n1", [launch("b", "main", "Never")]);
    const pod = (name: string) => fleet.pods().find((p) => p.name === name)!;
    expect(fleet.schedulerSnapshot()[0]!.requested.cpuMillis).toBe(1500);
    now += 1_000;
    rt.crash(pod("a").containers[0]!.id, 3, "connecting\nmigration 7 failed\n");
    await fleet.refresh("n1");
    expect(pod("a").phase).toBe("Running"); // side still runs
    rt.crash(pod("a").containers[1]!.id, 0);
    rt.crash(pod("b").containers[0]!.id, 0);
    await fleet.refresh("n1");
    await waitFor("both ended", () => pod("a").phase === "Failed" && pod("b").phase === "Succeeded", 5_000);
    now += 60_000; // long past any back-off
    await fleet.refresh("n1");
    expect(pod("a").containers.map((c) => [c.state, c.exitCode, c.restartCount])).toEqual([
      ["exited", 3, 0],
      ["exited", 0, 0],
    ]);
    expect(rt.calls.start).toBe(0);
    expect(fleet.schedulerSnapshot()[0]!.requested.cpuMillis).toBe(0);
    expect(await rt.logs(pod("a").containers[0]!.id, { lines: 1, bytes: 100 })).toBe("migration 7 failed");
    await fleet.close();

    // A new operator reads the same phases from the labels and still starts nothing.
    const again = new Fleet({ runtimeFactory: () => rt, pollMs: 60_000, now: () => now });
    await again.setNodes([n1]);
    again.start();
    expect(again.pods().map((p) => [p.name, p.phase])).toEqual([
      ["a", "Failed"],
      ["b", "Succeeded"],
    ]);
    now += 60_000;
    await again.refresh("n1");
    expect(rt.calls.start).toBe(0);
    await again.close();
  });

  it("OnFailure: a non-zero exit is restarted in place with the back-off, an exit 0 ends the pod Succeeded", async () => {
    let now = 1_000_000;
    const { rt, fleet } = await setup(() => now);
    await fleet.createPod("a", "n1", [launch("a", "main", "OnFailure")]);
    const c = () => fleet.pods()[0]!.containers[0]!;
    now += 1_000;
    rt.crash(c().id, 1);
    await waitFor("restarted", () => c().restartCount === 1 && c().state === "running", 5_000);
    expect(fleet.pods()[0]!.phase).toBe("Running");
    now += 1_000;
    rt.crash(c().id, 1);
    await fleet.refresh("n1");
    await waitFor("back-off", () => fleet.pods()[0]!.reason === "CrashLoopBackOff", 5_000);
    now += 10_000;
    await waitFor("restarted after 10 s", () => c().restartCount === 2 && c().state === "running", 5_000);
    now += 1_000;
    rt.crash(c().id, 0);
    await fleet.refresh("n1");
    await waitFor("succeeded", () => fleet.pods()[0]!.phase === "Succeeded", 5_000);
    now += 60_000;
    await fleet.refresh("n1");
    expect(c().restartCount).toBe(2);
    expect(c().state).toBe("exited");
    await fleet.close();
  });

  it("Always (no label): an exited container is restarted and its pod stays Running", async () => {
    let now = 1_000_000;
    const { rt, fleet } = await setup(() => now);
    await fleet.createPod("a", "n1", [launch("a", "main", "Always")]);
    const c = () => fleet.pods()[0]!.containers[0]!;
    now += 1_000;
    rt.crash(c().id, 0);
    await waitFor("restarted", () => c().restartCount === 1 && c().state === "running", 5_000);
    expect(fleet.pods()[0]!.phase).toBe("Running");
    await fleet.close();
  });

  it("logTail keeps the last lines within the byte bound and never half a character", () => {
    const data = Buffer.from("one\ntwo\nthree\n\n", "utf8");
    expect(logTail(data, { lines: 2, bytes: 100 })).toBe("two\nthree");
    expect(logTail(data, { lines: 10, bytes: 100 })).toBe("one\ntwo\nthree");
    expect(logTail(data, { lines: 10, bytes: 4 })).toBe("hree");
    expect(logTail(Buffer.from("xé", "utf8"), { lines: 1, bytes: 1 })).toBe("");
    expect(logTail(Buffer.alloc(0), { lines: 1, bytes: 10 })).toBe("");
  });
});
