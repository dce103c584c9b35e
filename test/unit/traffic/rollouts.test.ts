/**
 * Which Services carry a Rollout's traffic and how: the role of each Service (Argo's Service fields, and
 * the Services that select the Rollout's pods), and the route a role becomes with the revisions and the
 * weight decided now.
 */
import { describe, expect, it } from "vitest";
import { rolloutServiceRoles, serviceRoutes, type ServiceRoleOf } from "../../../operator/src/traffic/rollouts.js";
import type { RolloutServices, RolloutTrafficState, ServiceSpec } from "../../../operator/src/traffic/types.js";
import { service } from "./builders.js";

const canary = (over: Partial<RolloutServices> = {}): RolloutServices => ({ namespace: "default", name: "web", labels: { app: "web", tier: "front" }, strategy: "canary", ...over });
const blueGreen = (over: Partial<RolloutServices> = {}): RolloutServices => ({ namespace: "default", name: "web", labels: { app: "web" }, strategy: "blueGreen", ...over });
const selecting = (name: string, selector: Record<string, string> = { app: "web" }, over: Partial<ServiceSpec> = {}): ServiceSpec => service(name, { selector, ...over });

/** Roles as "service=role@rollout" strings. */
function roles(rollouts: RolloutServices[], services: ServiceSpec[]): string[] {
  return [...rolloutServiceRoles(rollouts, services)].map(([s, r]) => `${s}=${r.role}@${r.rollout}`);
}

describe("rolloutServiceRoles", () => {
  const cases: { name: string; rollouts: RolloutServices[]; services: ServiceSpec[]; want: string[] }[] = [
    {
      name: "makes a Service that selects a canary Rollout's pods carry the split",
      rollouts: [canary()],
      services: [selecting("web"), selecting("front", { tier: "front" }), selecting("other", { app: "other" })],
      want: ["default/front=split@Rollout/default/web", "default/web=split@Rollout/default/web"],
    },
    {
      name: "gives canaryService the canary and stableService the stable revision without trafficRouting",
      rollouts: [canary({ canaryService: "web-canary", stableService: "web-stable" })],
      services: [selecting("web"), selecting("web-canary"), selecting("web-stable")],
      want: ["default/web=split@Rollout/default/web", "default/web-canary=canary@Rollout/default/web", "default/web-stable=stable@Rollout/default/web"],
    },
    {
      name: "makes stableService carry the split with trafficRouting",
      rollouts: [canary({ canaryService: "web-canary", stableService: "web-stable", trafficRouting: true })],
      services: [selecting("web-canary"), selecting("web-stable")],
      want: ["default/web-canary=canary@Rollout/default/web", "default/web-stable=split@Rollout/default/web"],
    },
    {
      name: "makes every Service that selects a blue/green Rollout's pods an active one, and previewService the preview",
      rollouts: [blueGreen({ activeService: "web-active", previewService: "web-preview" })],
      services: [selecting("web"), selecting("web-active"), selecting("web-preview")],
      want: ["default/web=active@Rollout/default/web", "default/web-active=active@Rollout/default/web", "default/web-preview=preview@Rollout/default/web"],
    },
    {
      name: "shapes no headless Service, no Service of another namespace and none with an empty selector",
      rollouts: [canary({ canaryService: "headless" })],
      services: [selecting("headless", { app: "web" }, { headless: true }), selecting("web", { app: "web" }, { namespace: "shop" }), service("none", { selector: {} })],
      want: [],
    },
    {
      name: "lets the Rollout that names a Service shape it before one whose pods it merely selects",
      rollouts: [canary({ name: "a" }), blueGreen({ name: "b", activeService: "web" })],
      services: [selecting("web")],
      want: ["default/web=active@Rollout/default/b"],
    },
    {
      name: "gives a Service that selects two Rollouts' pods to the first by key",
      rollouts: [blueGreen({ name: "b" }), canary({ name: "a" })],
      services: [selecting("web")],
      want: ["default/web=split@Rollout/default/a"],
    },
  ];
  it.each(cases)("$name", ({ rollouts, services, want }) => {
    expect(roles(rollouts, services)).toEqual(want);
  });

  it("does not depend on the order of its inputs", () => {
    const rollouts = [canary({ name: "a", canaryService: "x" }), blueGreen({ name: "b", previewService: "y" })];
    const services = [selecting("x"), selecting("y"), selecting("z")];
    expect(roles([...rollouts].reverse(), [...services].reverse())).toEqual(roles(rollouts, services));
  });
});

describe("serviceRoutes", () => {
  const R = "Rollout/default/web";
  const of = (role: ServiceRoleOf["role"]): Map<string, ServiceRoleOf> => new Map([["default/s", { rollout: R, role }]]);
  const canaryState: RolloutTrafficState = { strategy: "canary", stable: "s1", canary: "c1", weight: 20 };
  const cases: { name: string; role: ServiceRoleOf["role"]; state?: RolloutTrafficState; want: unknown }[] = [
    { name: "turns a split into the stable and canary revisions at the weight decided", role: "split", state: canaryState, want: { rollout: R, role: "split", stable: "s1", canary: "c1", weight: 20 } },
    { name: "points canaryService at the canary revision", role: "canary", state: canaryState, want: { rollout: R, role: "canary", revision: "c1" } },
    { name: "points stableService at the stable revision", role: "stable", state: canaryState, want: { rollout: R, role: "stable", revision: "s1" } },
    { name: "points activeService at the active revision", role: "active", state: { strategy: "blueGreen", active: "a1", preview: "p1" }, want: { rollout: R, role: "active", revision: "a1" } },
    { name: "points previewService at the preview revision", role: "preview", state: { strategy: "blueGreen", active: "a1", preview: "p1" }, want: { rollout: R, role: "preview", revision: "p1" } },
    { name: "points previewService at the active revision when there is no preview", role: "preview", state: { strategy: "blueGreen", active: "a1" }, want: { rollout: R, role: "preview", revision: "a1" } },
    { name: "shapes nothing for a Rollout not decided yet", role: "split", want: undefined },
    { name: "shapes nothing with the state of the other strategy", role: "active", state: canaryState, want: undefined },
  ];
  it.each(cases)("$name", ({ role, state, want }) => {
    const states = new Map<string, RolloutTrafficState>(state ? [[R, state]] : []);
    expect(serviceRoutes(of(role), states).get("default/s")).toEqual(want);
  });
});
