/**
 * Every configuration renderHaproxy writes is one the real HAProxy accepts (`haproxy -c`), with no warning:
 * a warning is a line HAProxy reads differently from what we meant.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { serviceEndpoints } from "../../../operator/src/traffic/endpoints.js";
import { renderHaproxy } from "../../../operator/src/traffic/haproxy.js";
import { proxyConfig } from "../../../operator/src/traffic/proxy.js";
import type { ProxyConfig, ProxyListener, ProxyServer } from "../../../operator/src/traffic/types.js";
import { pod, podPort, port, service } from "../../unit/traffic/builders.js";
import { requireHaproxy } from "./haproxy-binary.js";

const haproxy = requireHaproxy("haproxy configuration check");

function servers(n: number, over: Partial<ProxyServer> = {}): ProxyServer[] {
  return Array.from({ length: n }, (_, i) => ({ id: `web-${i}:31000`, address: `10.0.${i >> 8}.${i & 255}`, port: 31000 + (i % 1000), weight: 1, state: "ready" as const, ...over }));
}

function listener(key: string, over: Partial<ProxyListener> = {}): ProxyListener {
  return { key, binds: [{ address: "127.77.0.10", port: 80 }], mode: "tcp", servers: servers(2), ...over };
}

/** The proxy configuration the pure pipeline gives for a few Services and pods (endpoints → proxyConfig). */
function pipeline(): ProxyConfig {
  const services = [
    service("web", { ports: [port({ name: "http", mode: "http" }), port({ name: "admin", port: 9000, targetPort: 9000 })] }),
    service("db", { type: "NodePort", sessionAffinity: "ClientIP", selector: { app: "db" }, ports: [port({ port: 5432, targetPort: 5432, nodePort: 30432 })] }),
    service("dns", { headless: true }),
  ];
  const pods = [
    pod("web-a", { ports: [podPort(), podPort({ containerPort: 9000, hostPort: 31900 })] }),
    pod("web-b", { node: "n2", address: "10.0.0.2", terminating: true }),
    pod("db-0", { labels: { app: "db" }, ports: [podPort({ containerPort: 5432, hostPort: 31432 })] }),
  ];
  const node = {
    name: "n1",
    address: "10.0.0.1",
    serviceNetworkAddresses: new Map([
      ["default/web", "127.77.0.10"],
      ["default/db", "127.77.0.11"],
    ]),
  };
  return proxyConfig(
    node,
    services,
    services.map((s) => serviceEndpoints(s, pods)),
  );
}

const cases: { name: string; config: ProxyConfig; statsSocket?: string }[] = [
  { name: "a configuration with no listeners", config: { node: "n1", listeners: [] } },
  { name: "a ClusterIP HTTP listener", config: { node: "n1", listeners: [listener("default/web:80", { mode: "http" })] } },
  { name: "a TCP listener", config: { node: "n1", listeners: [listener("default/db:5432")] } },
  {
    name: "a NodePort listener on the Service address and the node address",
    config: {
      node: "n1",
      listeners: [
        listener("default/web:80", {
          binds: [
            { address: "10.0.0.1", port: 30080 },
            { address: "127.77.0.10", port: 80 },
          ],
        }),
      ],
    },
  },
  { name: "a ClientIP affinity listener", config: { node: "n1", listeners: [listener("default/web:80", { mode: "http", affinity: { timeoutSeconds: 10800 } })] } },
  { name: "a listener with 300 servers in 1,024 slots", config: { node: "n1", listeners: [listener("default/web:80", { servers: servers(300) })] } },
  { name: "a listener with no servers", config: { node: "n1", listeners: [listener("default/web:80", { servers: [] })] } },
  {
    name: "servers draining, in maintenance, and at the extreme weights",
    config: {
      node: "n1",
      listeners: [
        listener("default/web:80", {
          servers: [...servers(1, { state: "drain" }), { ...servers(2)[1]!, state: "maint" }, { ...servers(3)[2]!, weight: 0 }, { ...servers(4)[3]!, weight: 256 }],
        }),
      ],
    },
  },
  {
    name: "names with odd characters",
    config: {
      node: "node with spaces\nand a line break",
      listeners: [listener("Odd NS/wéb+1:80"), listener("a/b_c:80", { binds: [{ address: "127.77.0.11", port: 80 }] }), listener("a_b/c:80", { binds: [{ address: "127.77.0.12", port: 80 }] })],
    },
  },
  { name: "a stats socket path with spaces and a dollar sign", config: { node: "n1", listeners: [listener("default/web:80")] }, statsSocket: "/run/cox swain/$HOME/admin.sock" },
  { name: "what the pure pipeline gives for HTTP, TCP, NodePort, affinity and headless Services", config: pipeline() },
  {
    name: "a bridge frontend handing PROXY-protocol connections to an HTTP and a TCP listener",
    config: {
      node: "n1",
      listeners: [listener("default/web:80", { mode: "http" }), listener("default/db:5432", { binds: [{ address: "127.77.0.11", port: 5432 }], affinity: { timeoutSeconds: 60 } })],
      bridge: {
        bind: { address: "172.18.0.1", port: 20999 },
        routes: [
          { address: "172.18.130.7", port: 80, backend: "default/web:80" },
          { address: "172.18.200.3", port: 5432, backend: "default/db:5432" },
        ],
      },
    },
  },
];

describe.skipIf(haproxy === undefined)("renderHaproxy output checked by the real haproxy -c", () => {
  const dir = mkdtempSync(join(tmpdir(), "cx-haproxy-config-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.each(cases.map((c, i) => ({ ...c, i })))("accepts $name without warnings", ({ config, statsSocket, i }) => {
    const file = join(dir, `case-${i}.cfg`);
    writeFileSync(file, renderHaproxy(config, { statsSocket: statsSocket ?? join(dir, "admin.sock") }).text);
    const run = spawnSync(haproxy!, ["-c", "-f", file], { encoding: "utf8" });
    const output = `${run.stdout}${run.stderr}`;
    expect(run.status, output).toBe(0);
    expect(output).not.toMatch(/\[(WARNING|ALERT)\]/);
  });
});
