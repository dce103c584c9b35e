/**
 * DrainWaits: what holds each owner's drain, per node, as the summary's node lines show it — replaced per
 * owner, sorted by owner, cleared when nothing holds it, and a change reported only when a line changed.
 */
import { describe, expect, it } from "vitest";
import { DrainWaits } from "../../../operator/src/controllers/disruption/drain-waits.js";

describe("DrainWaits", () => {
  it("keeps one line per owner and node, sorted by owner, and reports changes only", () => {
    let changes = 0;
    const w = new DrainWaits(() => changes++);
    w.set("Deployment/default/web", new Map([["a", "drain of node a waits: PodDisruptionBudget default/web allows 0 disruptions (2 healthy, 2 desired)"]]));
    w.set("Deployment/default/api", new Map([["a", "drain of node a waits: PodDisruptionBudget default/api allows 0 disruptions (1 healthy, 1 desired)"]]));
    expect(changes).toBe(2);
    expect(w.forNode("a")).toEqual([
      "drain of node a waits: PodDisruptionBudget default/api allows 0 disruptions (1 healthy, 1 desired)",
      "drain of node a waits: PodDisruptionBudget default/web allows 0 disruptions (2 healthy, 2 desired)",
    ]);
    w.set("Deployment/default/web", new Map([["a", "drain of node a waits: PodDisruptionBudget default/web allows 0 disruptions (2 healthy, 2 desired)"]]));
    expect(changes).toBe(2);
    w.set("Deployment/default/web", new Map());
    w.set("Deployment/default/api", new Map());
    expect(changes).toBe(4);
    expect(w.forNode("a")).toEqual([]);
    expect(w.forNode("b")).toEqual([]);
  });
});
