/**
 * The service controller's part in canary analysis, on in-memory fakes (a desired graph built from
 * manifests, a stand-in fleet, FakeProxy with its fake request log): the listeners of the Services that
 * select a Rollout with an analysis step log their requests, others do not, and the records of every
 * node's proxy reach subscribeRequests' listeners. (Real requests through a real HAProxy:
 * test/integration/traffic/request-log.test.ts and test/integration/operator/canary-analysis.test.ts.)
 */
import { describe, expect, it } from "vitest";
import { CoxError } from "../../../operator/src/api/errors.js";
import { FakeProxy } from "../../../operator/src/runtime/fake/index.js";
import type { RequestRecord } from "../../../operator/src/traffic/types.js";
import { proxySection, readyPod, serviceHarness } from "../../support/service-harness.js";

/** A Rollout with or without an analysis step, its Service, and a Deployment with a Service of its own. */
function manifests(analysis: boolean): string {
  return `
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web, tier: front}}
    spec:
      containers:
        - {name: web, image: "web:1", ports: [{name: http, containerPort: 8080}]}
  strategy:
    canary:
      steps:
        - setWeight: 25
${analysis ? "        - analysis: {interval: 10s}" : "        - pause: {}"}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports:
    - {name: http, port: 80, targetPort: http}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: api}
spec:
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec:
      containers:
        - {name: api, image: "api:1", ports: [{name: http, containerPort: 8080}]}
---
apiVersion: v1
kind: Service
metadata: {name: api}
spec:
  selector: {app: api}
  ports:
    - {name: http, port: 81, targetPort: http}
`;
}

function harness(analysis = true, proxy?: () => FakeProxy) {
  const h = serviceHarness({
    manifests: manifests(analysis),
    pods: [readyPod({ name: "web-a", node: "n1", labels: { app: "web" }, hostPort: 30500 }), readyPod({ name: "api-a", node: "n2", labels: { app: "api" }, hostPort: 30501 })],
    ...(proxy ? { proxy } : {}),
  });
  return Object.assign(h, { setAnalysis: (on: boolean) => h.setManifests(manifests(on)) });
}

/** The `listen` section of `name` in the last text `proxy` was given, without indentation. */
const listen = (proxy: FakeProxy, name: string): string[] => proxySection(proxy, `listen ${name}`);

const record = (serverAddress: string): RequestRecord => ({
  at: 1,
  mode: "http",
  backend: "default.web:80",
  server: "s1",
  serverAddress,
  status: 200,
  responseMs: 1,
  totalMs: 1,
  termination: "--",
  retries: 0,
  redispatched: false,
});

describe("the service controller and canary analysis", () => {
  it("makes the listeners of a Service that selects a Rollout with an analysis step log their requests, on every node, and no other", async () => {
    const h = harness();
    await h.run();
    for (const name of ["n1", "n2"]) {
      const p = h.proxies.get(name)!;
      expect(listen(p, "default.web:80")).toContain(`log ${p.requestLog.target.address} format raw daemon`);
      expect(listen(p, "default.api:81").some((l) => l.startsWith("log"))).toBe(false);
    }
  });

  it("logs nothing while no Rollout has an analysis step, and turns the log on and off with the step (a reload each time)", async () => {
    const h = harness(false);
    await h.run();
    const p = h.proxies.get("n1")!;
    expect(p.reloads.at(-1)).not.toMatch(/\blog\b/);
    h.setAnalysis(true);
    await h.run();
    expect(listen(p, "default.web:80").some((l) => l.startsWith("log-format"))).toBe(true);
    h.setAnalysis(false);
    await h.run();
    expect(p.reloads).toHaveLength(3);
    expect(p.reloads.at(-1)).not.toMatch(/\blog\b/);
  });

  it("hands the records of every node's proxy to its subscribers until they unsubscribe", async () => {
    const h = harness();
    await h.run();
    const got: string[] = [];
    const stop = h.controller.subscribeRequests((records) => got.push(...records.map((r) => r.serverAddress!)));
    h.proxies.get("n1")!.requestLog.emit([record("10.0.0.1:30500")]);
    h.proxies.get("n2")!.requestLog.emit([record("10.0.0.2:30501"), record("10.0.0.1:30500")]);
    stop();
    h.proxies.get("n1")!.requestLog.emit([record("10.0.0.1:30500")]);
    expect(got).toEqual(["10.0.0.1:30500", "10.0.0.2:30501", "10.0.0.1:30500"]);
  });

  it("serves the Services without a request log on a node whose log cannot start, and says why once", async () => {
    const broken = (): FakeProxy => {
      const p = new FakeProxy();
      p.requestLog.failure = new CoxError("ProxyUnreachable", "cannot open the node proxy's request log socket");
      return p;
    };
    const h = harness(true, broken);
    await h.run();
    await h.run();
    const p = h.proxies.get("n1")!;
    expect(listen(p, "default.web:80")).toContain("server s1 10.0.0.1:30500 weight 1");
    expect(p.reloads.at(-1)).not.toMatch(/\blog\b/);
    expect(h.logs.filter((l) => l.startsWith("proxy of n1: its request log cannot be collected"))).toHaveLength(1);
  });
});
