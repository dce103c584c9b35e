/**
 * The placer gives a pod with a subdomain (a StatefulSet's serviceName) its own names on bridge nodes only,
 * when the headless Service of that name selects it (traffic/pod-names.ts decides; this checks the wiring
 * to the launches), on fake runtimes.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { Service } from "../../../operator/src/api/objects.js";
import { PodPlacer } from "../../../operator/src/controllers/workload/placer.js";
import { planTemplate } from "../../../operator/src/controllers/workload/template.js";
import { buildGraph } from "../../../operator/src/graph/index.js";
import { FakeRuntime } from "../../../operator/src/runtime/fake/index.js";
import { Fleet, type NodeConfig } from "../../../operator/src/runtime/fleet.js";
import type { ContainerLaunch } from "../../../operator/src/runtime/types.js";
import { deployment, manifest, service } from "../graph/fabricate.js";

const GiB = 2 ** 30;
const node = (name: string, network: "host" | "bridge"): NodeConfig => ({
  name,
  endpoint: `unix:///fake/${name}.sock`,
  network,
  address: "127.0.0.1",
  portRange: { from: 30000, to: 30009 },
  unschedulable: false,
  labels: {},
});
const headless = (selector: Record<string, string>): Service => {
  const s = service("web", "default", { selector, ports: [{ name: "http", port: 8080 }] });
  return { ...s, spec: { ...s.spec, clusterIP: "None" } };
};

describe("a pod's own names through the placer", () => {
  let fleet: Fleet | undefined;
  afterEach(async () => fleet?.close());

  const names = ["web-0.web", "web-0.web.default", "web-0.web.default.svc", "web-0.web.default.svc.cluster.local"];
  const cases: { name: string; network: "host" | "bridge"; subdomain?: string; services: Service[]; want: string[] | undefined }[] = [
    { name: "a bridge pod whose headless Service selects it gets them", network: "bridge", subdomain: "web", services: [headless({ app: "web" })], want: names },
    { name: "a host-network pod gets none (no address of its own)", network: "host", subdomain: "web", services: [headless({ app: "web" })], want: undefined },
    { name: "a pod without a subdomain gets none", network: "bridge", services: [headless({ app: "web" })], want: undefined },
    { name: "a pod its Service does not select gets none", network: "bridge", subdomain: "web", services: [headless({ app: "other" })], want: undefined },
  ];
  it.each(cases)("$name", async ({ network, subdomain, services, want }) => {
    const launched: ContainerLaunch[] = [];
    fleet = new Fleet({
      runtimeFactory: (n) => {
        const rt = new FakeRuntime({ name: n.name, cpuMillis: 2000, memoryBytes: 4 * GiB });
        const run = rt.run.bind(rt);
        rt.run = (l: ContainerLaunch) => {
          launched.push(l);
          return run(l);
        };
        return rt;
      },
      pollMs: 60_000,
    });
    await fleet.setNodes([node("n1", network)]);
    const { graph } = buildGraph(services.map((s) => manifest(s)));
    const placer = new PodPlacer({ fleet, desired: { graph: () => graph }, instance: "coxswain", seed: 1 });
    const plan = planTemplate(deployment("web", "default", { ports: [{ name: "http", containerPort: 8080 }] }), () => undefined);
    const out = await placer.place({ owner: "StatefulSet/default/web", namespace: "default", commit: "c1", pods: [{ name: "web-0", plan, ...(subdomain ? { subdomain } : {}) }], secret: () => undefined });
    expect(out.errors).toEqual([]);
    expect(launched.map((l) => l.aliases)).toEqual([want]);
  });
});
