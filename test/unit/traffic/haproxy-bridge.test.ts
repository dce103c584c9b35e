/** The node proxy's bridge frontend (traffic/bridge.ts) as renderHaproxy writes it, and what a change of it takes. */
import { describe, expect, it } from "vitest";
import { checkProxyConfig, proxyEdits, renderHaproxy } from "../../../operator/src/traffic/haproxy.js";
import type { ProxyBridge, ProxyConfig, ProxyListener } from "../../../operator/src/traffic/types.js";
import { codeOf } from "../../support/errors.js";

const opts = { statsSocket: "/run/coxswain/haproxy.sock" };

function listener(key: string, address: string, mode: "tcp" | "http" = "tcp"): ProxyListener {
  return { key, binds: [{ address, port: 80 }], mode, servers: [{ id: "p1:31000", address: "10.0.0.1", port: 31000, weight: 1, state: "ready" }] };
}

const bridge: ProxyBridge = {
  bind: { address: "172.18.0.1", port: 20999 },
  routes: [
    { address: "172.18.130.7", port: 80, backend: "default/web:80" },
    { address: "172.18.200.3", port: 80, backend: "default/api:80" },
  ],
};

function config(b: ProxyBridge | null = bridge): ProxyConfig {
  return { node: "n1", listeners: [listener("default/api:80", "127.77.0.11"), listener("default/web:80", "127.77.0.10", "http")], ...(b ? { bridge: b } : {}) };
}

describe("the bridge frontend", () => {
  it("takes the PROXY protocol on the gateway and hands each connection to the listener of its destination", () => {
    const text = renderHaproxy(config(), opts).text;
    const block = text.split("\n\n").find((b) => b.startsWith("frontend bridge\n"));
    expect(block?.trimEnd().split("\n")).toEqual([
      "frontend bridge",
      "    mode tcp",
      "    bind 172.18.0.1:20999 accept-proxy",
      "    use_backend default.web:80 if { dst 172.18.130.7 } { dst_port 80 }",
      "    use_backend default.api:80 if { dst 172.18.200.3 } { dst_port 80 }",
    ]);
  });

  const changes: { name: string; next: ProxyConfig; reload: boolean }[] = [
    { name: "the same frontend", next: config(), reload: false },
    { name: "a route more", next: config({ ...bridge, routes: [...bridge.routes, { address: "172.18.200.3", port: 8080, backend: "default/api:80" }] }), reload: true },
    { name: "another bridge port", next: config({ ...bridge, bind: { address: "172.18.0.1", port: 20998 } }), reload: true },
    { name: "no frontend", next: config(null), reload: true },
  ];
  it.each(changes)("after $name a reload is needed: $reload", ({ next, reload }) => {
    const applied = renderHaproxy(config(), opts).state;
    const edits = proxyEdits(applied, next, opts);
    expect(edits.reload).toBe(reload);
    if (!edits.reload) expect(edits.state.bridge).toBe(applied.bridge);
  });

  const bad: { name: string; bridge: ProxyBridge }[] = [
    { name: "a route to no listener", bridge: { ...bridge, routes: [{ address: "172.18.130.7", port: 80, backend: "default/gone:80" }] } },
    { name: "a destination routed twice", bridge: { ...bridge, routes: [bridge.routes[0]!, { ...bridge.routes[0]!, backend: "default/api:80" }] } },
    { name: "a bind on a listener's address and port", bridge: { ...bridge, bind: { address: "127.77.0.10", port: 80 } } },
    { name: "a route address that is not IPv4", bridge: { ...bridge, routes: [{ address: "web", port: 80, backend: "default/web:80" }] } },
    { name: "a bind port out of range", bridge: { ...bridge, bind: { address: "172.18.0.1", port: 70000 } } },
  ];
  it.each(bad)("refuses $name", ({ bridge: b }) => {
    expect(codeOf(() => checkProxyConfig(config(b), opts))).toBe("InvalidArgument");
  });
});
