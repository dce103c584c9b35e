import { describe, expect, it } from "vitest";
import { podDnsNames, type NamedPod } from "../../../operator/src/traffic/pod-names.js";
import type { ServiceSpec } from "../../../operator/src/traffic/types.js";
import { service } from "./builders.js";

describe("podDnsNames", () => {
  const pod: NamedPod = { name: "web-1", namespace: "default", labels: { app: "web", tier: "db" }, subdomain: "web" };
  const headless = (over: Partial<ServiceSpec> = {}) => service("web", { headless: true, ports: [], ...over });
  const all = ["web-1.web", "web-1.web.default", "web-1.web.default.svc", "web-1.web.default.svc.cluster.local"];
  const cases: { name: string; pod?: Partial<NamedPod>; services: ServiceSpec[]; want: string[] }[] = [
    { name: "gives the short and the namespace-qualified names, sorted, when the headless Service selects the pod", services: [headless(), service("api")], want: all },
    {
      name: "names a pod of another namespace under its own",
      pod: { name: "db-2", namespace: "shop", subdomain: "db" },
      services: [service("db", { namespace: "shop", headless: true, selector: { tier: "db" } })],
      want: ["db-2.db", "db-2.db.shop", "db-2.db.shop.svc", "db-2.db.shop.svc.cluster.local"],
    },
    { name: "gives none without the Service", services: [service("api")], want: [] },
    { name: "gives none when the Service is not headless (its forwarder has the Service's names)", services: [service("web")], want: [] },
    { name: "gives none when the Service does not select the pod", services: [headless({ selector: { app: "other" } })], want: [] },
    { name: "gives none when the Service has no selector", services: [headless({ selector: undefined })], want: [] },
    { name: "gives none for a Service of that name in another namespace", services: [headless({ namespace: "shop" })], want: [] },
    { name: "gives none for a pod of another namespace than the Service's", pod: { namespace: "shop" }, services: [headless()], want: [] },
    {
      name: "leaves a Service's forwarder its name (Service web-1 of namespace web has web-1.web)",
      services: [headless(), service("web-1", { namespace: "web" })],
      want: all.filter((n) => n !== "web-1.web"),
    },
  ];
  it.each(cases)("$name", ({ pod: over, services, want }) => {
    expect(podDnsNames({ ...pod, ...over }, services)).toEqual(want);
  });
});
