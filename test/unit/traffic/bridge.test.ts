import { describe, expect, it } from "vitest";
import { bridgeDnsSearch, bridgeNetworkPlan, bridgeProxyPort, forwarderConfig, proxyBridge, serviceForwarders, serviceRangeOf } from "../../../operator/src/traffic/bridge.js";
import { bridgeDiscoveryFor } from "../../../operator/src/traffic/discovery.js";
import { codeOf } from "../../support/errors.js";
import { port, service } from "./builders.js";

describe("bridgeNetworkPlan", () => {
  const cases = [
    { subnet: "172.18.0.0/16", want: { ipRange: "172.18.0.0/17", gateway: "172.18.0.1", serviceRange: "172.18.128.0/17" } },
    { subnet: "192.168.16.0/20", want: { ipRange: "192.168.16.0/21", gateway: "192.168.16.1", serviceRange: "192.168.24.0/21" } },
    { subnet: "10.1.2.0/24", want: { ipRange: "10.1.2.0/25", gateway: "10.1.2.1", serviceRange: "10.1.2.128/25" } },
    { subnet: "10.1.2.8/29", want: { ipRange: "10.1.2.8/30", gateway: "10.1.2.9", serviceRange: "10.1.2.12/30" } },
  ];
  it.each(cases)("lays out $subnet: pods in the lower half, Services in the upper", ({ subnet, want }) => {
    expect(bridgeNetworkPlan(subnet)).toEqual({ subnet, ...want });
  });

  it.each(["172.18.0.0/30", "172.18.0.0/7", "172.18.0.1/16", "fd00::/64", "nonsense"])("refuses %s", (subnet) => {
    expect(codeOf(() => bridgeNetworkPlan(subnet))).toBe("InvalidArgument");
  });
});

describe("serviceRangeOf", () => {
  const ipam = { subnet: "172.18.0.0/16", ipRange: "172.18.0.0/17", gateway: "172.18.0.1" };
  const cases: { name: string; ipam: { subnet: string; ipRange?: string; gateway?: string }; label?: string; want: "ok" | RegExp }[] = [
    { name: "takes the range coxswain made", ipam, label: "172.18.128.0/17", want: "ok" },
    { name: "takes a smaller range outside the IP range", ipam, label: "172.18.200.0/24", want: "ok" },
    { name: "has none without the label", ipam, want: /no io\.coxswain\.service-range label/ },
    { name: "has none for a label that is not a CIDR", ipam, label: "172.18.128.0", want: /not an IPv4 CIDR/ },
    { name: "has none for a range outside the subnet", ipam, label: "172.19.128.0/17", want: /not inside its subnet/ },
    { name: "has none without an IP range (Docker would use the whole subnet)", ipam: { subnet: "172.18.0.0/16" }, label: "172.18.128.0/17", want: /no IP range/ },
    { name: "has none for a range overlapping the IP range", ipam: { ...ipam, ipRange: "172.18.0.0/16" }, label: "172.18.128.0/17", want: /overlaps its IP range/ },
    { name: "has none for a range holding the gateway", ipam: { ...ipam, ipRange: "172.18.128.0/17", gateway: "172.18.0.1" }, label: "172.18.0.0/17", want: /holds its gateway/ },
  ];
  it.each(cases)("$name", ({ ipam: i, label, want }) => {
    const got = serviceRangeOf(i, label);
    if (want === "ok") expect(got).toEqual({ serviceRange: label });
    else expect("problem" in got ? got.problem : "").toMatch(want);
  });
});

describe("bridgeProxyPort and bridgeDnsSearch", () => {
  it.each([
    { network: "bridge" as const, portRange: { from: 20000, to: 20999 }, want: 20999 },
    { network: "host" as const, portRange: { from: 20000, to: 20999 }, want: undefined },
  ])("a $network node takes $want", ({ want, ...node }) => {
    expect(bridgeProxyPort(node)).toBe(want);
  });

  it("gives a pod Kubernetes' search path of its namespace", () => {
    expect(bridgeDnsSearch("shop")).toEqual(["shop.svc.cluster.local", "svc.cluster.local", "cluster.local"]);
  });
});

describe("serviceForwarders", () => {
  const range = "172.18.128.0/17";

  it("gives each Service that is not headless a forwarder with its qualified names and ports, sorted by key", () => {
    const services = [service("web", { ports: [port({ name: "http", port: 80 }), port({ name: "admin", port: 9000 })] }), service("api"), service("web", { namespace: "shop" }), service("dns", { headless: true })];
    const got = serviceForwarders(services, range).map(({ address: _a, ...f }) => f);
    expect(got).toEqual([
      { key: "default/api", namespace: "default", name: "api", aliases: ["api.default", "api.default.svc", "api.default.svc.cluster.local"], ports: [80] },
      { key: "default/web", namespace: "default", name: "web", aliases: ["web.default", "web.default.svc", "web.default.svc.cluster.local"], ports: [80, 9000] },
      { key: "shop/web", namespace: "shop", name: "web", aliases: ["web.shop", "web.shop.svc", "web.shop.svc.cluster.local"], ports: [80] },
    ]);
  });

  it("places every forwarder in the range, no two alike, the same for the Services in any order", () => {
    const services = Array.from({ length: 50 }, (_, i) => service(`s${i}`));
    const a = serviceForwarders(services, range);
    const b = serviceForwarders([...services].reverse(), range);
    expect(b).toEqual(a);
    expect(new Set(a.map((f) => f.address)).size).toBe(50);
    for (const f of a) expect(f.address).toMatch(/^172\.18\.(1(2[89]|[3-9]\d)|2[0-5]\d)\.\d+$/);
  });

  it("is InvalidArgument when the range has fewer addresses than Services", () => {
    expect(codeOf(() => serviceForwarders([service("a"), service("b"), service("c")], "10.0.0.0/30"))).toBe("InvalidArgument");
  });
});

describe("forwarderConfig and proxyBridge", () => {
  const forwarders = serviceForwarders([service("web", { ports: [port({ name: "http", port: 80 }), port({ name: "admin", port: 9000 })] }), service("api")], "172.18.128.0/17");
  const web = forwarders.find((f) => f.key === "default/web")!;
  const api = forwarders.find((f) => f.key === "default/api")!;

  it("makes one TCP listener per Service port, sending with the PROXY protocol to the node proxy's bridge frontend", () => {
    expect(forwarderConfig(web, { address: "172.18.0.1", port: 20999 })).toBe(
      [
        "# coxswain's forwarder of Service default/web on a bridge network, rendered by operator/src/traffic/bridge.ts.",
        "defaults",
        "    mode tcp",
        "    timeout connect 5s",
        "    timeout client 1h",
        "    timeout server 1h",
        "",
        "listen port-80",
        "    bind :80",
        "    server node-proxy 172.18.0.1:20999 send-proxy-v2",
        "",
        "listen port-9000",
        "    bind :9000",
        "    server node-proxy 172.18.0.1:20999 send-proxy-v2",
        "",
      ].join("\n"),
    );
  });

  it("routes every forwarder address and port to its Service listener, sorted by address as numbers, then port", () => {
    const bridge = proxyBridge(forwarders, { address: "172.18.0.1", port: 20999 });
    expect(bridge.bind).toEqual({ address: "172.18.0.1", port: 20999 });
    const want = [
      { address: api.address, port: 80, backend: "default/api:80" },
      { address: web.address, port: 80, backend: "default/web:80" },
      { address: web.address, port: 9000, backend: "default/web:9000" },
    ].sort((a, b) => Number(a.address.split(".")[2]) * 256 + Number(a.address.split(".")[3]) - (Number(b.address.split(".")[2]) * 256 + Number(b.address.split(".")[3])) || a.port - b.port);
    expect(bridge.routes).toEqual(want);
  });
});

describe("bridgeDiscoveryFor", () => {
  const services = [service("web", { ports: [port({ name: "http", port: 80 })] }), service("db", { namespace: "shop" })];

  it("gives a pod its namespace's variables with the forwarders' addresses, no host entries, and the search path", () => {
    const web = serviceForwarders(services, "172.18.128.0/17").find((f) => f.key === "default/web")!;
    const d = bridgeDiscoveryFor(services, "172.18.128.0/17", "default");
    expect(d.hosts).toEqual([]);
    expect(d.dnsSearch).toEqual(["default.svc.cluster.local", "svc.cluster.local", "cluster.local"]);
    expect(d.env.WEB_SERVICE_HOST).toBe(web.address);
    expect(d.env.WEB_SERVICE_PORT_HTTP).toBe("80");
    expect(Object.keys(d.env).some((k) => k.startsWith("DB_"))).toBe(false);
  });

  it.each([
    { name: "no Service range", range: undefined },
    { name: "a range too small for the Services", range: "10.0.0.0/30" },
  ])("gives only the search path with $name", ({ range }) => {
    expect(bridgeDiscoveryFor([...services, service("x"), service("y")], range, "shop")).toEqual({ env: {}, hosts: [], dnsSearch: ["shop.svc.cluster.local", "svc.cluster.local", "cluster.local"] });
  });
});
