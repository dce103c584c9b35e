import { describe, expect, it } from "vitest";
import { buildGraph, type DesiredGraph } from "../../../operator/src/graph/index.js";
import { gate, type GateWorkloadState } from "../../../operator/src/sync/gate.js";
import { dependsOn, deployment, manifest } from "../graph/fabricate.js";

/** A graph of Deployments in "default"; deps maps name → names it depends on. */
function graph(names: Record<string, string[]>, image = "app:v1"): DesiredGraph {
  const objs = Object.entries(names).map(([n, deps]) => manifest(deployment(n, "default", { image, ...(deps.length ? { annotations: dependsOn(deps.join(",")) } : {}) })));
  const built = buildGraph(objs);
  expect(built.diagnostics).toEqual([]);
  return built.graph;
}

const k = (n: string) => `Deployment/default/${n}`;
const states = (s: Record<string, Partial<GateWorkloadState>>) => new Map(Object.entries(s).map(([n, v]) => [k(n), { done: false, failed: false, ...v }]));

describe("coordinated rollout gate", () => {
  const from = graph({ db: [], api: ["db"], web: ["api"] }, "app:v1");
  const to = graph({ db: [], api: ["db"], web: ["api"] }, "app:v2");
  const changed = [k("api"), k("db"), k("web")];

  it("releases only the workloads whose changed dependencies are done, in dependency order", () => {
    expect(gate({ from, to, changed, direction: "forward", states: states({}) })).toMatchObject({ released: [k("db")], held: [k("api"), k("web")], done: false });
    expect(gate({ from, to, changed, direction: "forward", states: states({ db: { done: true } }) }).released).toEqual([k("api"), k("db")]);
    expect(gate({ from, to, changed, direction: "forward", states: states({ db: { done: true }, api: { done: true }, web: { done: true } }) })).toMatchObject({ held: [], done: true });
  });

  it("a rollback walks the same graph in reverse: dependents go back first", () => {
    expect(gate({ from: to, to: from, changed, direction: "reverse", states: states({}) }).released).toEqual([k("web")]);
    expect(gate({ from: to, to: from, changed, direction: "reverse", states: states({ web: { done: true } }) }).released).toEqual([k("api"), k("web")]);
  });

  it("reports the first released workload that failed; a held one cannot fail", () => {
    expect(gate({ from, to, changed, direction: "forward", states: states({ db: { failed: true }, web: { failed: true } }) }).failed).toBe(k("db"));
  });

  it("workloads that are not changed never wait and are never waited for", () => {
    const d = gate({ from, to, changed: [k("web")], direction: "forward", states: states({}) });
    expect(d.released).toEqual([k("web")]);
  });

  it("deleted workloads go after the workloads that depended on them", () => {
    const before = graph({ db: [], api: ["db"] });
    const after = graph({ other: [] });
    const d = gate({ from: before, to: after, changed: [k("api"), k("db"), k("other")], direction: "forward", states: states({}) });
    expect(d.released).toEqual([k("api"), k("other")]);
    expect(d.held).toEqual([k("db")]);
  });
});
