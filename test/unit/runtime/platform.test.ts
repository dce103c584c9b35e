/**
 * Nodes carry kubernetes.io/os and kubernetes.io/arch from their engine, in Go's names as the kubelet sets
 * them, so that `nodeSelector: {kubernetes.io/os: linux}` from public manifests schedules (and arm64 does
 * not land on amd64).
 */
import { describe, expect, it } from "vitest";
import { FakeRuntime } from "../../../operator/src/runtime/fake/index.js";
import { Fleet, type NodeConfig } from "../../../operator/src/runtime/fleet.js";
import { withPlatformLabels } from "../../../operator/src/runtime/platform.js";
import { schedule } from "../../../operator/src/scheduler/index.js";

describe("a node's platform labels", () => {
  it.each([
    ["linux/amd64", "linux", "amd64"],
    ["linux/x86_64", "linux", "amd64"],
    ["linux/aarch64", "linux", "arm64"],
    ["linux/arm64", "linux", "arm64"],
    ["linux/armv7l", "linux", "arm"],
    ["linux/i686", "linux", "386"],
    ["Linux/PPC64LE", "linux", "ppc64le"],
    ["windows/amd64", "windows", "amd64"],
    ["linux/sparc64", "linux", "sparc64"],
  ])("%s gives kubernetes.io/os %s and kubernetes.io/arch %s", (platform, os, arch) => {
    expect(withPlatformLabels({ a: "b" }, platform)).toEqual({ a: "b", "kubernetes.io/os": os, "kubernetes.io/arch": arch });
  });

  it("leave out what the engine did not report", () => {
    expect(withPlatformLabels({}, "unknown/unknown")).toEqual({});
    expect(withPlatformLabels({}, "linux/unknown")).toEqual({ "kubernetes.io/os": "linux" });
  });

  it("win over the Node's own labels of the same name, as the kubelet's do, and keep its others", () => {
    expect(withPlatformLabels({ "kubernetes.io/arch": "arm64", zone: "a" }, "linux/x86_64")).toEqual({ "kubernetes.io/arch": "amd64", "kubernetes.io/os": "linux", zone: "a" });
  });

  it("are the same object for the same labels and platform (the scheduler caches by object)", () => {
    const labels = { "kubernetes.io/hostname": "n1" };
    expect(withPlatformLabels(labels, "linux/amd64")).toBe(withPlatformLabels(labels, "linux/amd64"));
    expect(withPlatformLabels(labels, "linux/arm64")["kubernetes.io/arch"]).toBe("arm64");
  });
});

describe("the fleet's nodes", () => {
  it("carry their engine's os and arch, so a pod with nodeSelector kubernetes.io/os: linux is placed", async () => {
    const fleet = new Fleet({ runtimeFactory: (n) => new FakeRuntime({ name: n.name, cpuMillis: 2000, memoryBytes: 2 ** 30 }), pollMs: 60_000 });
    try {
      const node: NodeConfig = {
        name: "n1",
        endpoint: "unix:///fake/n1.sock",
        network: "host",
        address: "127.0.0.1",
        portRange: { from: 30000, to: 30009 },
        unschedulable: false,
        labels: { "kubernetes.io/hostname": "n1" },
      };
      await fleet.setNodes([node]);
      const [snap] = fleet.schedulerSnapshot();
      expect(snap!.labels).toEqual({ "kubernetes.io/hostname": "n1", "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64" }); // the fake engine is linux/amd64
      const pod = (id: string, nodeSelector: Record<string, string>) => ({
        id,
        owner: "Deployment/default/web",
        requests: { cpuMillis: 0, memoryBytes: 0 },
        requestsForScoring: { cpuMillis: 100, memoryBytes: 0 },
        ports: 0,
        nodeSelector,
      });
      const result = schedule(fleet.schedulerSnapshot(), [pod("linux", { "kubernetes.io/os": "linux" }), pod("arm", { "kubernetes.io/arch": "arm64" })], { preemption: false });
      expect(result.placements.map((p) => [p.id, p.node])).toEqual([["linux", "n1"]]);
      expect(result.unschedulable.map((u) => u.id)).toEqual(["arm"]);
    } finally {
      await fleet.close();
    }
  });
});
