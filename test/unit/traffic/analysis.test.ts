import { describe, expect, it } from "vitest";
import { analyzedServices, requestFailed, requestFigures, withRequestLogs } from "../../../operator/src/traffic/analysis.js";
import type { ProxyConfig, RequestRecord } from "../../../operator/src/traffic/types.js";
import { service } from "./builders.js";

/** An HTTP request to 10.0.0.1:31001 at t=1000 that got 200 in 10 ms. */
function rec(over: Partial<RequestRecord> = {}): RequestRecord {
  return { at: 1000, mode: "http", backend: "default.web:80", server: "s1", serverAddress: "10.0.0.1:31001", status: 200, responseMs: 10, totalMs: 10, termination: "--", retries: 0, redispatched: false, ...over };
}

const GROUPS = new Map([
  ["10.0.0.1:31001", "canary"],
  ["10.0.0.2:31002", "stable"],
  ["10.0.0.3:31003", "stable"],
]);
const WINDOW = { from: 1000, to: 2000 };

describe("requestFailed", () => {
  const cases: { name: string; record: RequestRecord; failed: boolean }[] = [
    { name: "a 200 succeeded", record: rec(), failed: false },
    { name: "a 404 succeeded: the server answered as it meant to", record: rec({ status: 404 }), failed: false },
    { name: "a 500 from the server failed", record: rec({ status: 500 }), failed: true },
    { name: "HAProxy's 503 after the server refused the connection failed", record: rec({ status: 503, termination: "SC", retries: 2 }), failed: true },
    { name: "a 200 the server broke off during the body failed", record: rec({ status: 200, termination: "SD" }), failed: true },
    { name: "a request without a status failed", record: rec({ status: undefined, termination: "SH" }), failed: true },
    { name: "a request the client gave up on did not fail", record: rec({ status: 200, termination: "CD" }), failed: false },
    { name: "a request redispatched after a refused connection that was then answered succeeded", record: rec({ retries: 1, redispatched: true }), failed: false },
    { name: "a TCP connection that ended normally succeeded", record: rec({ mode: "tcp", status: undefined, responseMs: undefined }), failed: false },
    { name: "a TCP connection the server refused failed", record: rec({ mode: "tcp", status: undefined, termination: "SC" }), failed: true },
    { name: "a TCP connection the server timed out failed", record: rec({ mode: "tcp", status: undefined, termination: "sD" }), failed: true },
  ];
  for (const c of cases) it(c.name, () => expect(requestFailed(c.record)).toBe(c.failed));
});

describe("requestFigures", () => {
  it("counts each group's requests and failures, and its success rate, over the servers it maps", () => {
    const records = [
      rec(),
      rec({ status: 500 }),
      rec(),
      rec({ serverAddress: "10.0.0.2:31002" }),
      rec({ serverAddress: "10.0.0.3:31003", status: 502, termination: "SH" }),
      rec({ serverAddress: "10.0.0.3:31003" }),
      rec({ serverAddress: "10.0.0.3:31003" }),
    ];
    const figures = requestFigures(records, GROUPS, WINDOW);
    expect([...figures.keys()]).toEqual(["canary", "stable"]);
    expect(figures.get("canary")).toMatchObject({ requests: 3, failed: 1, latencyRequests: 3 });
    expect(figures.get("canary")!.successRate).toBeCloseTo(66.667, 2);
    expect(figures.get("stable")).toMatchObject({ requests: 4, failed: 1, successRate: 75 });
  });

  it("counts only requests that ended in the window, from its start up to but not including its end", () => {
    const records = [rec({ at: 999 }), rec({ at: 1000 }), rec({ at: 1999 }), rec({ at: 2000 })];
    expect(requestFigures(records, GROUPS, WINDOW).get("canary")!.requests).toBe(2);
  });

  it("leaves out requests of servers it does not map and requests no server was chosen for", () => {
    const records = [rec({ serverAddress: "10.0.0.9:31009" }), rec({ server: undefined, serverAddress: undefined, status: 503 }), rec()];
    expect(requestFigures(records, GROUPS, WINDOW).get("canary")!.requests).toBe(1);
  });

  it("gives a group that had no request an entry with no success rate and no latency", () => {
    expect(requestFigures([], GROUPS, WINDOW).get("stable")).toEqual({ requests: 0, failed: 0, latencyRequests: 0 });
  });

  it("takes the nearest-rank 95th percentile of the HTTP requests' active time", () => {
    // 1..100 ms: the 95th of 100 values is the 95th smallest.
    const hundred = Array.from({ length: 100 }, (_, i) => rec({ totalMs: 100 - i }));
    expect(requestFigures(hundred, GROUPS, WINDOW).get("canary")!.latencyP95Ms).toBe(95);
    // 20 values: rank ceil(0.95 × 20) = 19.
    const twenty = Array.from({ length: 20 }, (_, i) => rec({ totalMs: (i + 1) * 10 }));
    expect(requestFigures(twenty, GROUPS, WINDOW).get("canary")!.latencyP95Ms).toBe(190);
    // One value is its own percentile.
    expect(requestFigures([rec({ totalMs: 42 })], GROUPS, WINDOW).get("canary")!.latencyP95Ms).toBe(42);
  });

  it("measures no latency over TCP connections, whose duration is the client's to choose", () => {
    const figures = requestFigures([rec({ mode: "tcp", status: undefined, totalMs: 60_000 })], GROUPS, WINDOW).get("canary")!;
    expect(figures).toEqual({ requests: 1, failed: 0, successRate: 100, latencyRequests: 0 });
  });
});

describe("analyzedServices", () => {
  const web = { namespace: "default", labels: { app: "web", tier: "front" } };
  const cases: { name: string; services: Parameters<typeof analyzedServices>[0]; want: string[] }[] = [
    { name: "names a Service whose selector the analyzed pods' labels satisfy", services: [service("web", { selector: { app: "web" } })], want: ["default/web"] },
    { name: "names one that selects them by several labels", services: [service("front", { selector: { app: "web", tier: "front" } })], want: ["default/front"] },
    { name: "leaves out one with a label the pods lack", services: [service("back", { selector: { app: "web", tier: "back" } })], want: [] },
    { name: "leaves out one in another namespace", services: [service("web", { namespace: "other", selector: { app: "web" } })], want: [] },
    { name: "leaves out one without a selector, which selects nothing", services: [service("manual", { selector: undefined }), service("empty", { selector: {} })], want: [] },
    { name: "leaves out a headless one, which has no listener", services: [service("web", { selector: { app: "web" }, headless: true })], want: [] },
    { name: "sorts what it names", services: [service("z", { selector: { app: "web" } }), service("a", { selector: { tier: "front" } })], want: ["default/a", "default/z"] },
  ];
  for (const c of cases) it(c.name, () => expect(analyzedServices(c.services, [web])).toEqual(c.want));
});

describe("withRequestLogs", () => {
  it("turns the request log on for every listener of the Services named, and off for every other", () => {
    const l = (key: string, requestLog?: boolean) => ({ key, binds: [], mode: "http" as const, servers: [], ...(requestLog ? { requestLog } : {}) });
    const config: ProxyConfig = { node: "n1", listeners: [l("default/web:80"), l("default/web:8443"), l("default/api:80", true), l("default/webber:80")] };
    expect(withRequestLogs(config, new Set(["default/web"])).listeners.map((x) => [x.key, x.requestLog === true])).toEqual([
      ["default/web:80", true],
      ["default/web:8443", true],
      ["default/api:80", false],
      ["default/webber:80", false],
    ]);
  });
});
