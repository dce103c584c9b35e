/**
 * Pure parts of the Docker runtime: restart counts carried in container names, the demultiplexing of
 * exec output (frames split anywhere by the transport), a bridge container's DNS settings, what a bridge
 * network's inspect answer says about its Service range, `since` values of engine timestamps, and the log
 * rotation a container gets.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { ContainerLaunch } from "../../../operator/src/runtime/types.js";
import {
  bridgeNetworkOf,
  containerLogConfig,
  createContainerBody,
  ExecOutputDemuxer,
  isValidRuntimeName,
  observedFromInspect,
  observedFromSummary,
  restartName,
  sinceOfTimestamp,
  splitRuntimeName,
} from "../../../operator/src/runtime/docker/mapping.js";

describe("restart counts in container names", () => {
  it.each([
    { name: "/cx_default_web-5d8f-x2k4q_app", runtimeName: "cx_default_web-5d8f-x2k4q_app", restartCount: 0 },
    { name: "/cx_default_web-5d8f-x2k4q_app.1", runtimeName: "cx_default_web-5d8f-x2k4q_app", restartCount: 1 },
    { name: "cx_default_web-5d8f-x2k4q_app.42", runtimeName: "cx_default_web-5d8f-x2k4q_app", restartCount: 42 },
    { name: "/cx_ns_my.pod_app", runtimeName: "cx_ns_my.pod_app", restartCount: 0 },
    { name: "/cx_ns_pod_app.07", runtimeName: "cx_ns_pod_app.07", restartCount: 0 },
    { name: "/cx_ns_pod_app.0", runtimeName: "cx_ns_pod_app.0", restartCount: 0 },
  ])("reads $name as $runtimeName restarted $restartCount time(s)", ({ name, runtimeName, restartCount }) => {
    expect(splitRuntimeName(name)).toEqual({ runtimeName, restartCount });
  });

  it("round-trips every valid runtime name and count", () => {
    const nameArb = fc.stringMatching(/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,40}$/).filter(isValidRuntimeName);
    fc.assert(
      fc.property(nameArb, fc.integer({ min: 0, max: 100_000 }), (runtimeName, restartCount) => {
        expect(splitRuntimeName(`/${restartName(runtimeName, restartCount)}`)).toEqual({ runtimeName, restartCount });
      }),
    );
  });

  it.each([
    { name: "cx_default_web-1_app", valid: true },
    { name: "cx_ns_my.pod_app", valid: true },
    { name: "cx_default_web-1_app.3", valid: false },
    { name: "-leading-dash", valid: false },
    { name: "has space", valid: false },
    { name: "", valid: false },
  ])("a runtime name $name is usable: $valid", ({ name, valid }) => {
    expect(isValidRuntimeName(name)).toBe(valid);
  });

  it("reports the count from list entries and from inspect answers alike", () => {
    const summary = observedFromSummary({ Id: "a", Names: ["/web.3"], State: "exited", Status: "Exited (1) 2 seconds ago", Labels: {} });
    const inspect = observedFromInspect({ Id: "a", Name: "/web.3", State: { Status: "exited", ExitCode: 1 }, Config: { Labels: {} } });
    expect([summary.runtimeName, summary.restartCount, inspect.runtimeName, inspect.restartCount]).toEqual(["web", 3, "web", 3]);
  });
});

describe("start and exit times from inspect answers", () => {
  const started = "2026-01-01T00:00:00.007Z";
  const finished = "2026-01-01T00:00:00.000Z"; // Docker's exit stamp, 7 ms before its start stamp
  it.each([
    { state: "exited", finishedAt: Date.parse(started), why: "an exited container never finishes before it started" },
    { state: "dead", finishedAt: Date.parse(started), why: "neither does a dead one" },
    { state: "running", finishedAt: Date.parse(finished), why: "a running container's finish time is its previous run's and is kept" },
  ])("$why", ({ state, finishedAt }) => {
    const c = observedFromInspect({ Id: "a", Name: "/web", State: { Status: state, ExitCode: 1, StartedAt: started, FinishedAt: finished }, Config: { Labels: {} } });
    expect([c.startedAt, c.finishedAt]).toEqual([Date.parse(started), finishedAt]);
  });

  it("keeps an exit stamped after the start as it is", () => {
    const c = observedFromInspect({ Id: "a", Name: "/web", State: { Status: "exited", ExitCode: 1, StartedAt: "2026-01-01T00:00:00.000Z", FinishedAt: "2026-01-01T00:00:02.500Z" }, Config: { Labels: {} } });
    expect(c.finishedAt! - c.startedAt!).toBe(2_500);
  });
});

/** One frame of Docker's multiplexed stream. */
function frame(stream: 0 | 1 | 2, payload: string | Buffer): Buffer {
  const body = typeof payload === "string" ? Buffer.from(payload) : payload;
  const header = Buffer.alloc(8);
  header[0] = stream;
  header.writeUInt32BE(body.length, 4);
  return Buffer.concat([header, body]);
}

/** Splits bytes at the given cut points. */
function cut(bytes: Buffer, points: number[]): Buffer[] {
  const sorted = [...new Set(points.map((p) => p % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let from = 0;
  for (const p of sorted) {
    out.push(bytes.subarray(from, p));
    from = p;
  }
  out.push(bytes.subarray(from));
  return out;
}

describe("ExecOutputDemuxer", () => {
  it("keeps stdout and stderr interleaved in arrival order and drops stdin frames", () => {
    const d = new ExecOutputDemuxer();
    d.push(Buffer.concat([frame(1, "out 1\n"), frame(2, "err 1\n"), frame(0, "ignored"), frame(1, "out 2\n")]));
    expect(d.text()).toBe("out 1\nerr 1\nout 2\n");
  });

  it("gives the same text however the transport splits the frames", () => {
    fc.assert(
      fc.property(fc.array(fc.record({ stream: fc.constantFrom<1 | 2>(1, 2), text: fc.string({ maxLength: 50 }) }), { maxLength: 20 }), fc.array(fc.nat(), { maxLength: 30 }), (frames, points) => {
        const bytes = Buffer.concat(frames.map((f) => frame(f.stream, f.text)));
        const d = new ExecOutputDemuxer();
        for (const chunk of cut(bytes, points)) d.push(chunk);
        expect(d.text()).toBe(frames.map((f) => f.text).join(""));
      }),
    );
  });

  it("keeps a multi-byte character split across frames whole", () => {
    const euro = Buffer.from("€");
    const d = new ExecOutputDemuxer();
    d.push(frame(1, euro.subarray(0, 1)));
    d.push(frame(1, euro.subarray(1)));
    expect(d.text()).toBe("€");
  });

  it("keeps the first `limit` bytes and drops a character cut at the limit", () => {
    const d = new ExecOutputDemuxer(5);
    d.push(frame(1, "abcd€€"));
    d.push(frame(2, "more"));
    expect(d.text()).toBe("abcd");
    const exact = new ExecOutputDemuxer(4);
    exact.push(frame(1, "abcdef"));
    expect(exact.text()).toBe("abcd");
  });
});

describe("a bridge container's DNS", () => {
  const launch = (over: Partial<ContainerLaunch>): ContainerLaunch => ({ runtimeName: "cx_default_web-1_app", image: "app:v1", env: {}, network: "bridge", ports: [], limits: {}, labels: {}, ...over });
  const bridge = { network: "coxswain", publishIp: "" };

  it("takes the launch's search path, with the resolver's own ndots (Docker would write ndots:0)", () => {
    const body = createContainerBody(launch({ dnsSearch: ["shop.svc.cluster.local", "svc.cluster.local", "cluster.local"] }), bridge);
    expect(body.HostConfig.DnsSearch).toEqual(["shop.svc.cluster.local", "svc.cluster.local", "cluster.local"]);
    expect(body.HostConfig.DnsOptions).toEqual(["ndots:1"]);
  });

  it.each([
    { name: "a host-network container", over: { network: "host" as const, dnsSearch: ["default.svc.cluster.local"] } },
    { name: "a launch without a search path", over: {} },
  ])("leaves the engine's settings to $name", ({ over }) => {
    const body = createContainerBody(launch(over), bridge);
    expect(body.HostConfig.DnsSearch).toBeUndefined();
    expect(body.HostConfig.DnsOptions).toBeUndefined();
  });

  it("gives the pod's own names as aliases on the bridge network", () => {
    const body = createContainerBody(launch({ aliases: ["web-0.web", "web-0.web.default.svc.cluster.local"] }), bridge);
    expect(body.NetworkingConfig).toEqual({ EndpointsConfig: { coxswain: { Aliases: ["web-0.web", "web-0.web.default.svc.cluster.local"] } } });
  });

  it.each([
    { name: "a host-network container", over: { network: "host" as const, aliases: ["web-0.web"] } },
    { name: "a launch without names", over: {} },
  ])("gives no aliases to $name", ({ over }) => {
    expect(createContainerBody(launch(over), bridge).NetworkingConfig).toBeUndefined();
  });
});

describe("bridgeNetworkOf", () => {
  const made = { Id: "abc", Name: "coxswain", Labels: { "io.coxswain.service-range": "172.18.128.0/17" }, IPAM: { Config: [{ Subnet: "172.18.0.0/16", IPRange: "172.18.0.0/17", Gateway: "172.18.0.1" }] } };
  const cases = [
    { name: "a network coxswain made", info: made, want: { name: "coxswain", subnet: "172.18.0.0/16", gateway: "172.18.0.1", serviceRange: "172.18.128.0/17" } },
    {
      name: "an IPv6 entry before the IPv4 one, and no gateway named",
      info: { ...made, IPAM: { Config: [{ Subnet: "fd00::/64" }, { Subnet: "172.18.0.0/16", IPRange: "172.18.0.0/17" }] } },
      want: { name: "coxswain", subnet: "172.18.0.0/16", gateway: "172.18.0.1", serviceRange: "172.18.128.0/17" },
    },
    {
      name: "a network made by hand (no label)",
      info: { Id: "abc", Name: "coxswain", Labels: {}, IPAM: { Config: [{ Subnet: "172.19.0.0/16", Gateway: "172.19.0.1" }] } },
      want: { name: "coxswain", subnet: "172.19.0.0/16", gateway: "172.19.0.1", problem: expect.stringMatching(/no io\.coxswain\.service-range label/) },
    },
    { name: "a network without an IPv4 subnet", info: { Id: "abc", Name: "v6", IPAM: { Config: [{ Subnet: "fd00::/64" }] } }, want: { name: "v6", subnet: "", gateway: "", problem: "it has no IPv4 subnet" } },
  ];
  it.each(cases)("reads $name", ({ info, want }) => {
    expect(bridgeNetworkOf(info)).toEqual(want);
  });
});

describe("sinceOfTimestamp", () => {
  it.each([
    { name: "a log line's timestamp with nanoseconds, exactly", at: "2024-05-01T10:00:00.123456789Z", plus: 0, since: "1714557600.123456789" },
    { name: "just after a log line", at: "2024-05-01T10:00:00.123456789Z", plus: 1, since: "1714557600.123456790" },
    { name: "just after a line at the last nanosecond of a second", at: "2024-05-01T10:00:00.999999999Z", plus: 1, since: "1714557601.000000000" },
    { name: "fewer fraction digits", at: "2024-05-01T10:00:00.5Z", plus: 0, since: "1714557600.500000000" },
    { name: "no fraction", at: "2024-05-01T10:00:00Z", plus: 0, since: "1714557600.000000000" },
    { name: "an offset", at: "2024-05-01T12:00:00.000000001+02:00", plus: 0, since: "1714557600.000000001" },
  ])("$name", ({ at, plus, since }) => {
    expect(sinceOfTimestamp(at, plus)).toBe(since);
  });

  it("gives nothing for what is not an RFC 3339 time", () => {
    for (const text of ["", "yesterday", "2024-05-01 10:00:00Z", "2024-05-01T10:00:00"]) expect(sinceOfTimestamp(text), text).toBeUndefined();
  });
});

describe("containerLogConfig", () => {
  const launch: ContainerLaunch = { runtimeName: "cx_default_web-1_app", image: "app:v1", env: {}, network: "host", ports: [], limits: {}, labels: {} };
  const bridge = { network: "coxswain", publishIp: "" };

  it.each([
    { driver: "json-file", config: { Type: "json-file", Config: { "max-file": "5", "max-size": "10m" } } },
    { driver: "local", config: undefined },
    { driver: "journald", config: undefined },
    { driver: undefined, config: undefined },
  ])("gives a $driver engine's containers $config", ({ driver, config }) => {
    expect(containerLogConfig(driver)).toEqual(config);
    const body = createContainerBody(launch, bridge, undefined, new Map(), containerLogConfig(driver));
    expect(body.HostConfig.LogConfig).toEqual(config);
  });
});
