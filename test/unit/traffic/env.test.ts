import { describe, expect, it } from "vitest";
import { serviceEnv } from "../../../operator/src/traffic/env.js";
import type { ServiceSpec } from "../../../operator/src/traffic/types.js";
import { port, service } from "./builders.js";

describe("serviceEnv", () => {
  const cases: { name: string; services: { spec: ServiceSpec; address: string }[]; namespace?: string; want: Record<string, string> }[] = [
    {
      name: "gives a one-port Service the kubelet's variables (Kubernetes' redis-primary example)",
      services: [{ spec: service("redis-primary", { ports: [port({ port: 6379, targetPort: 6379 })] }), address: "10.0.0.11" }],
      want: {
        REDIS_PRIMARY_PORT: "tcp://10.0.0.11:6379",
        REDIS_PRIMARY_PORT_6379_TCP: "tcp://10.0.0.11:6379",
        REDIS_PRIMARY_PORT_6379_TCP_ADDR: "10.0.0.11",
        REDIS_PRIMARY_PORT_6379_TCP_PORT: "6379",
        REDIS_PRIMARY_PORT_6379_TCP_PROTO: "tcp",
        REDIS_PRIMARY_SERVICE_HOST: "10.0.0.11",
        REDIS_PRIMARY_SERVICE_PORT: "6379",
      },
    },
    {
      name: "names each named port, and gives the first port the unnumbered variables",
      services: [{ spec: service("web", { ports: [port({ name: "http", port: 80 }), port({ name: "http-admin", port: 9000 })] }), address: "127.77.0.10" }],
      want: {
        WEB_PORT: "tcp://127.77.0.10:80",
        WEB_PORT_80_TCP: "tcp://127.77.0.10:80",
        WEB_PORT_80_TCP_ADDR: "127.77.0.10",
        WEB_PORT_80_TCP_PORT: "80",
        WEB_PORT_80_TCP_PROTO: "tcp",
        WEB_PORT_9000_TCP: "tcp://127.77.0.10:9000",
        WEB_PORT_9000_TCP_ADDR: "127.77.0.10",
        WEB_PORT_9000_TCP_PORT: "9000",
        WEB_PORT_9000_TCP_PROTO: "tcp",
        WEB_SERVICE_HOST: "127.77.0.10",
        WEB_SERVICE_PORT: "80",
        WEB_SERVICE_PORT_HTTP: "80",
        WEB_SERVICE_PORT_HTTP_ADMIN: "9000",
      },
    },
    {
      name: "gives nothing for Services of other namespaces",
      services: [{ spec: service("web", { namespace: "shop" }), address: "127.77.0.10" }],
      want: {},
    },
    {
      name: "gives nothing for a headless Service",
      services: [{ spec: service("web", { headless: true }), address: "127.77.0.10" }],
      want: {},
    },
    { name: "gives nothing for no Services", services: [], want: {} },
  ];
  it.each(cases)("$name", ({ services, namespace, want }) => {
    expect(serviceEnv(services, namespace ?? "default")).toEqual(want);
  });

  it("sorts the variables of several Services by name", () => {
    const env = serviceEnv(
      [
        { spec: service("zeta"), address: "127.77.0.2" },
        { spec: service("alpha"), address: "127.77.0.1" },
      ],
      "default",
    );
    expect(Object.keys(env)).toEqual(Object.keys(env).sort());
    expect(env.ALPHA_SERVICE_HOST).toBe("127.77.0.1");
    expect(env.ZETA_SERVICE_HOST).toBe("127.77.0.2");
  });
});
