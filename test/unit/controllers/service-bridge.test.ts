/**
 * The service controller's bridge discovery, on in-memory fakes (a desired graph built from manifests, a
 * stand-in fleet, FakeProxy, fake forwarders): a bridge node's proxy gets the bridge frontend on its
 * network's gateway at its bridge port, its forwarders follow the Services once the proxy serves it, each
 * Service's status file says per node where it is found by name; a node whose bridge discovery cannot be
 * set up (no Service range, a frontend the proxy refuses, a forwarder that cannot be made) keeps serving
 * the rest and says why. (Real engines: test/e2e/bridge-discovery.test.ts.)
 */
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { CoxError } from "../../../operator/src/api/errors.js";
import type { BridgeForwarders } from "../../../operator/src/runtime/docker/forwarders.js";
import { FakeProxy } from "../../../operator/src/runtime/fake/index.js";
import type { NodeConfig, ObservedPod } from "../../../operator/src/runtime/fleet.js";
import { serviceForwarders, type BridgeNetwork, type ServiceForwarder } from "../../../operator/src/traffic/bridge.js";
import type { ProxyBind } from "../../../operator/src/traffic/types.js";
import { fakeNode, readyPod, serviceHarness } from "../../support/service-harness.js";

const service = (name: string, port: number) => `
apiVersion: v1
kind: Service
metadata: {name: ${name}}
spec:
  selector: {app: web}
  ports:
    - {name: http, port: ${port}, targetPort: http}
`;
const MANIFESTS = [service("web", 80), service("api", 80)].join("---\n");
const NETWORK: BridgeNetwork = { name: "coxswain", subnet: "172.18.0.0/16", gateway: "172.18.0.1", serviceRange: "172.18.128.0/17" };

const PORTS = { from: 30000, to: 30999 };
const webPod = (name: string, node: string): ObservedPod => readyPod({ name, node, labels: { app: "web" }, hostPort: 30500 });

/** Forwarders that remember every sync and fail as told. */
class FakeForwarders implements BridgeForwarders {
  syncs: { keys: string[]; target?: { network: BridgeNetwork; proxy: ProxyBind } }[] = [];
  constructor(
    public net: BridgeNetwork | CoxError = NETWORK,
    public failing = new Map<string, CoxError>(),
  ) {}
  network(): Promise<BridgeNetwork> {
    return this.net instanceof CoxError ? Promise.reject(this.net) : Promise.resolve(this.net);
  }
  sync(forwarders: readonly ServiceForwarder[], target?: { network: BridgeNetwork; proxy: ProxyBind }): Promise<Map<string, CoxError>> {
    this.syncs.push({ keys: forwarders.map((f) => f.key), ...(target ? { target } : {}) });
    return Promise.resolve(new Map([...this.failing].filter(([k]) => forwarders.some((f) => f.key === k))));
  }
}

function harness(opts: { forwarders?: (n: NodeConfig) => FakeForwarders; proxy?: (n: NodeConfig) => FakeProxy } = {}) {
  const forwarders = new Map<string, FakeForwarders>();
  const h = serviceHarness({
    manifests: MANIFESTS,
    nodes: [fakeNode("n1", "10.0.0.1", "host", PORTS), fakeNode("n2", "10.0.0.1", "bridge", PORTS)],
    pods: [webPod("web-a", "n1"), webPod("web-b", "n2")],
    ...(opts.proxy ? { proxy: opts.proxy } : {}),
    options: () => ({
      forwardersFor: (n) => {
        const f = opts.forwarders?.(n) ?? new FakeForwarders();
        forwarders.set(n.name, f);
        return f;
      },
    }),
  });
  const nodeStatus = (svc: string, n: string) =>
    (parse(h.status.get(`services/default/${svc}.yaml`)!) as { nodes: { node: string; bridge?: { address?: string; serving: boolean; error?: string } }[] }).nodes.find((x) => x.node === n);
  return Object.assign(h, { forwarders, nodeStatus });
}

/** The forwarders the pure plan gives for web and api on NETWORK, by key. */
const planned = new Map(
  serviceForwarders(
    [
      {
        namespace: "default",
        name: "api",
        type: "ClusterIP",
        ports: [{ port: 80, targetPort: "http", protocol: "TCP", mode: "http" }],
        sessionAffinity: "None",
        affinityTimeoutSeconds: 10800,
        publishNotReadyAddresses: false,
        headless: false,
      },
      {
        namespace: "default",
        name: "web",
        type: "ClusterIP",
        ports: [{ port: 80, targetPort: "http", protocol: "TCP", mode: "http" }],
        sessionAffinity: "None",
        affinityTimeoutSeconds: 10800,
        publishNotReadyAddresses: false,
        headless: false,
      },
    ],
    NETWORK.serviceRange!,
  ).map((f) => [f.key, f]),
);

describe("the service controller on bridge nodes", () => {
  it("gives a bridge node's proxy the bridge frontend, then its forwarders, and says where each Service is found by name", async () => {
    const h = harness();
    await h.run();
    const text = h.proxies.get("n2")!.reloads.at(-1)!;
    expect(text).toContain("frontend bridge\n    mode tcp\n    bind 172.18.0.1:30999 accept-proxy\n");
    expect(text).toContain(`use_backend default.web:80 if { dst ${planned.get("default/web")!.address} } { dst_port 80 }`);
    expect(h.proxies.get("n1")!.reloads.at(-1)).not.toContain("frontend bridge");
    expect(h.forwarders.get("n2")!.syncs).toEqual([{ keys: ["default/api", "default/web"], target: { network: NETWORK, proxy: { address: "172.18.0.1", port: 30999 } } }]);
    // A host node only loses forwarders a former bridge mode left, once.
    expect(h.forwarders.get("n1")!.syncs).toEqual([{ keys: [] }]);
    expect(h.nodeStatus("web", "n2")).toMatchObject({ serving: true, bridge: { address: planned.get("default/web")!.address, serving: true } });
    expect(h.nodeStatus("web", "n1")!.bridge).toBeUndefined();
    expect(h.logs).toContain(`Service default/web is found by name on node n2's bridge network coxswain at ${planned.get("default/web")!.address} (web.default, web.default.svc, web.default.svc.cluster.local)`);
    // The same Services again: neither node's engine is asked again so soon.
    await h.run();
    expect(h.forwarders.get("n2")!.syncs).toHaveLength(1);
    expect(h.forwarders.get("n1")!.syncs).toHaveLength(1);
    // A Service removed: its forwarder goes.
    h.setManifests(service("web", 80));
    await h.run();
    expect(h.forwarders.get("n2")!.syncs.at(-1)!.keys).toEqual(["default/web"]);
    expect(h.proxies.get("n2")!.reloads.at(-1)).not.toContain("default.api");
  });

  it("keeps serving a node whose bridge network has no Service range, and says why in the status files and the log", async () => {
    const h = harness({ forwarders: (n) => new FakeForwarders(n.name === "n2" ? ({ ...NETWORK, serviceRange: undefined, problem: "it has no io.coxswain.service-range label" } as BridgeNetwork) : NETWORK) });
    await h.run();
    expect(h.proxies.get("n2")!.reloads.at(-1)).toContain("listen default.web:80");
    expect(h.proxies.get("n2")!.reloads.at(-1)).not.toContain("frontend bridge");
    expect(h.forwarders.get("n2")!.syncs).toEqual([]);
    expect(h.nodeStatus("web", "n2")).toMatchObject({ serving: true, bridge: { serving: false, error: expect.stringMatching(/^BridgeNetworkUnusable: /) } });
    expect(h.logs.filter((l) => l.startsWith("bridge discovery on node n2: BridgeNetworkUnusable: "))).toHaveLength(1);
    expect(h.results.get("Proxy/n2")).toEqual({ requeueAfterMs: 30_000 });
  });

  it("serves a node's Services without the bridge frontend when its proxy refuses it (its port is in use), and says why", async () => {
    const busy = (): FakeProxy => {
      const p = new FakeProxy();
      const apply = p.apply.bind(p);
      p.apply = (change) =>
        change.reload && change.text.includes("frontend bridge") ? Promise.reject(new CoxError("ProxyBindFailed", "the node proxy cannot listen on 172.18.0.1:30999 (Address already in use)")) : apply(change);
      return p;
    };
    const h = harness({ proxy: (n) => (n.name === "n2" ? busy() : new FakeProxy()) });
    await h.run();
    expect(h.proxies.get("n2")!.reloads.at(-1)).toContain("listen default.web:80");
    expect(h.nodeStatus("api", "n2")).toMatchObject({ serving: true, bridge: { serving: false, error: expect.stringMatching(/^ProxyBindFailed: /) } });
    expect(h.logs).toContain("bridge discovery on node n2: ProxyBindFailed: the node proxy cannot listen on 172.18.0.1:30999 (Address already in use)");
    expect(h.results.get("Proxy/n2")).toEqual({ requeueAfterMs: 5_000 });
  });

  it("reports the Service whose forwarder cannot be made and serves the others by name", async () => {
    const failing = new Map([["default/api", new CoxError("RuntimeCallFailed", "the address is taken")]]);
    const h = harness({ forwarders: () => new FakeForwarders(NETWORK, failing) });
    await h.run();
    expect(h.nodeStatus("api", "n2")!.bridge).toMatchObject({ serving: false, error: "RuntimeCallFailed: the address is taken" });
    expect(h.nodeStatus("web", "n2")!.bridge).toMatchObject({ serving: true });
    expect(h.logs).toContain("Service default/api cannot be found by name on node n2: RuntimeCallFailed: the address is taken");
    // Tried again on the next reconcile, not only after a while.
    await h.run();
    expect(h.forwarders.get("n2")!.syncs).toHaveLength(2);
  });
});
