/**
 * The service controller with Rollouts, on in-memory fakes (a desired graph built from manifests, a
 * stand-in fleet, FakeProxy, a real TrafficBoard): a canary's split reaches every node's proxy as server
 * weights, its canaryService serves the canary's pods only, a blue/green Rollout's activeService and
 * previewService serve one revision each, the status file says what each Service serves, and the board
 * hears that every proxy runs a decision only once each live node's does. (Real traffic through a real
 * HAProxy: test/integration/operator/rollout-traffic.test.ts.)
 */
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { CoxError } from "../../../operator/src/api/errors.js";
import { TrafficBoard, recordedTraffic } from "../../../operator/src/controllers/traffic-board.js";
import { FakeProxy } from "../../../operator/src/runtime/fake/index.js";
import type { RolloutTrafficState } from "../../../operator/src/traffic/types.js";
import type { ProxyChange } from "../../../operator/src/runtime/proxy/types.js";
import { proxySection, readyPod, serviceHarness } from "../../support/service-harness.js";

const WEB = "Rollout/default/web";

const CANARY = `
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: "web:1", ports: [{name: http, containerPort: 8080}]}]}
  strategy:
    canary:
      canaryService: web-canary
      steps: [{setWeight: 10}, {pause: {}}]
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec: {selector: {app: web}, ports: [{name: http, port: 80, targetPort: http}]}
---
apiVersion: v1
kind: Service
metadata: {name: web-canary}
spec: {selector: {app: web}, ports: [{name: http, port: 80, targetPort: http}]}
`;

const BLUE_GREEN = `
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: "web:1", ports: [{name: http, containerPort: 8080}]}]}
  strategy:
    blueGreen: {activeService: web, previewService: web-preview}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec: {selector: {app: web}, ports: [{name: http, port: 80, targetPort: http}]}
---
apiVersion: v1
kind: Service
metadata: {name: web-preview}
spec: {selector: {app: web}, ports: [{name: http, port: 80, targetPort: http}]}
`;

/** A ready pod of the Rollout web at `revision` on node n1, answering on `hostPort`. */
const rolloutPod = (name: string, revision: string, hostPort: number) => readyPod({ name, node: "n1", labels: { app: "web" }, hostPort, owner: WEB, revision });

/** A proxy that refuses every configuration. */
class BrokenProxy extends FakeProxy {
  override async apply(_change: ProxyChange): Promise<void> {
    throw new CoxError("ProxyUnreachable", "this proxy is broken");
  }
}

function harness(manifests: string, opts: { broken?: string[]; recorded?: RolloutTrafficState } = {}) {
  const appliedEvents: string[] = [];
  let board!: TrafficBoard;
  const h = serviceHarness({
    manifests,
    pods: [rolloutPod("web-s1-a", "s1", 30500), rolloutPod("web-s1-b", "s1", 30501), rolloutPod("web-c1-a", "c1", 30502)],
    proxy: (n) => (opts.broken?.includes(n.name) ? new BrokenProxy() : new FakeProxy()),
    options: (enqueue) => {
      board = new TrafficBoard({
        onWanted: () => enqueue("Service/*"),
        onApplied: (rollout) => appliedEvents.push(rollout),
        ...(opts.recorded ? { recorded: () => opts.recorded } : {}),
      });
      return { traffic: board };
    },
  });
  return Object.assign(h, { board, appliedEvents });
}

/** The `server` lines of listener `name` in the last configuration `proxy` was given. */
const servers = (proxy: FakeProxy, name: string): string[] => proxySection(proxy, `listen ${name}`).filter((l) => l.startsWith("server s"));

const canaryAt = (weight: number): RolloutTrafficState => ({ strategy: "canary", stable: "s1", canary: "c1", weight });

describe("the service controller with Rollouts", () => {
  it("weights a canary's split on every node, and serves only the canary's pod on its canaryService", async () => {
    const h = harness(CANARY);
    h.board.want(WEB, canaryAt(10));
    await h.run();
    for (const name of ["n1", "n2"]) {
      const proxy = h.proxies.get(name)!;
      // One canary pod beside two stable ones at 10 %: 56 against 252 + 252.
      expect(servers(proxy, "default.web:80")).toEqual(["server s1 10.0.0.1:30502 weight 56", "server s2 10.0.0.1:30500 weight 252", "server s3 10.0.0.1:30501 weight 252"]);
      expect(servers(proxy, "default.web-canary:80")).toEqual(["server s1 10.0.0.1:30502 weight 1"]);
    }
    expect(parse(h.status.get("services/default/web.yaml")!).rollout).toEqual({ name: "web", role: "split", stable: "s1", canary: "c1", weight: 10 });
    expect(parse(h.status.get("services/default/web-canary.yaml")!).rollout).toEqual({ name: "web", role: "canary", revision: "c1" });
  });

  it("changes a weight by runtime edits alone", async () => {
    const h = harness(CANARY);
    h.board.want(WEB, canaryAt(10));
    await h.run();
    h.board.want(WEB, canaryAt(50));
    await h.run();
    const proxy = h.proxies.get("n1")!;
    expect(proxy.reloads).toHaveLength(1);
    expect(proxy.commands).toEqual(["set server default.web:80/s1 weight 256", "set server default.web:80/s2 weight 128", "set server default.web:80/s3 weight 128"]);
  });

  it("tells the board a decision is applied only once every node's proxy runs it", async () => {
    const h = harness(CANARY);
    h.board.want(WEB, canaryAt(10));
    await h.run(["n1"]);
    expect(h.board.applied(WEB)).toBeUndefined();
    await h.run();
    expect(h.board.applied(WEB)).toEqual(canaryAt(10));
    expect(h.appliedEvents).toEqual([WEB]);
    h.board.want(WEB, canaryAt(50));
    await h.run(["n1"]);
    expect(h.board.applied(WEB)).toBeUndefined();
  });

  it("does not wait for a node whose proxy fails: it serves nothing", async () => {
    const h = harness(CANARY, { broken: ["n2"] });
    h.board.want(WEB, canaryAt(10));
    await h.run();
    expect(h.board.applied(WEB)).toEqual(canaryAt(10));
  });

  it("serves the active revision on activeService and the preview on previewService", async () => {
    const h = harness(BLUE_GREEN);
    h.board.want(WEB, { strategy: "blueGreen", active: "s1", preview: "c1" });
    await h.run();
    const proxy = h.proxies.get("n1")!;
    expect(servers(proxy, "default.web:80")).toEqual(["server s1 10.0.0.1:30500 weight 1", "server s2 10.0.0.1:30501 weight 1"]);
    expect(servers(proxy, "default.web-preview:80")).toEqual(["server s1 10.0.0.1:30502 weight 1"]);
    expect(parse(h.status.get("services/default/web-preview.yaml")!).rollout).toEqual({ name: "web", role: "preview", revision: "c1" });
  });

  it("keeps the traffic last recorded for a Rollout not decided since start", async () => {
    const h = harness(CANARY, { recorded: canaryAt(10) });
    await h.run();
    expect(servers(h.proxies.get("n1")!, "default.web:80")).toEqual(["server s1 10.0.0.1:30502 weight 56", "server s2 10.0.0.1:30500 weight 252", "server s3 10.0.0.1:30501 weight 252"]);
  });

  it("sends by pods to every pod while no traffic is known for the Rollout, and says the role in the status file", async () => {
    const h = harness(CANARY);
    await h.run();
    expect(servers(h.proxies.get("n1")!, "default.web:80")).toEqual(["server s1 10.0.0.1:30502 weight 1", "server s2 10.0.0.1:30500 weight 1", "server s3 10.0.0.1:30501 weight 1"]);
    expect(parse(h.status.get("services/default/web.yaml")!).rollout).toEqual({ name: "web", role: "split" });
  });
});

describe("TrafficBoard", () => {
  it("calls back only when what was wanted or applied changed", () => {
    const wanted: string[] = [];
    const applied: string[] = [];
    const board = new TrafficBoard({ onWanted: (r) => wanted.push(r), onApplied: (r) => applied.push(r), recorded: () => canaryAt(10) });
    board.want(WEB, canaryAt(10)); // what was recorded: nothing new
    board.want(WEB, canaryAt(20));
    board.want(WEB, canaryAt(20));
    board.want(WEB, undefined);
    board.setApplied(WEB, canaryAt(20));
    board.setApplied(WEB, canaryAt(20));
    expect(wanted).toEqual([WEB, WEB]);
    expect(applied).toEqual([WEB]);
    expect(board.wanted([WEB, "Rollout/default/other"])).toEqual(new Map([["Rollout/default/other", canaryAt(10)]]));
  });

  it("reads a Rollout's traffic back from its status record", () => {
    const base = { applied: true, services: [] };
    expect(recordedTraffic({ traffic: { strategy: "canary", stable: "s1", canary: "c1", weight: 10, ...base } } as never)).toEqual(canaryAt(10));
    expect(recordedTraffic({ traffic: { strategy: "blueGreen", active: "a1", ...base } } as never)).toEqual({ strategy: "blueGreen", active: "a1" });
    expect(recordedTraffic({ traffic: { strategy: "canary", stable: "s1", ...base } } as never)).toBeUndefined();
    expect(recordedTraffic(undefined)).toBeUndefined();
  });
});
