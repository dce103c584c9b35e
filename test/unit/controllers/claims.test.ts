import { describe, expect, it } from "vitest";
import { planClaims, type ClaimsInput } from "../../../operator/src/controllers/claim/plan.js";
import { claimOfPath, claimPath, readClaimRecord, renderClaimRecord } from "../../../operator/src/status/claims.js";

const nodes = [
  { name: "a", ready: true, dockerEndpoint: "tcp://127.0.0.1:2375" },
  { name: "b", ready: false, dockerEndpoint: "unix:///run/b.sock" },
];

function input(o: Partial<ClaimsInput>): ClaimsInput {
  return { desired: [], volumes: [], boundNode: () => undefined, nodes, deleteDataOf: () => false, ...o };
}

describe("claims planned", () => {
  it("is Pending until its first pod is placed, then Bound to that node (before its volume exists too)", () => {
    const desired = [{ claim: "shop/db", storage: "1Gi", deleteDataOnRemoval: false }];
    expect(planClaims(input({ desired })).records.map((r) => [r.phase, r.node])).toEqual([["Pending", undefined]]);
    const bound = planClaims(input({ desired, boundNode: () => "a" }));
    expect(bound.records.map((r) => [r.phase, r.node, r.nodeState, r.volume])).toEqual([["Bound", "a", "Ready", undefined]]);
    const made = planClaims(input({ desired, boundNode: () => "a", volumes: [{ claim: "shop/db", node: "a", volume: "cxclaim_op_shop_db" }] }));
    expect(made.records[0]!.volume).toBe("cxclaim_op_shop_db");
    expect(made.remove).toEqual([]);
  });

  it("says when the bound node is NotReady or gone: the pods wait, the data is not moved", () => {
    const desired = [{ claim: "shop/db", storage: "1Gi", deleteDataOnRemoval: false }];
    expect(planClaims(input({ desired, boundNode: () => "b" })).records[0]!.nodeState).toBe("NotReady");
    expect(planClaims(input({ desired, boundNode: () => "gone" })).records[0]!.nodeState).toBe("NotInFleet");
  });

  it("keeps the data of a claim removed from Git (Released, retained, with the command that removes it by hand)", () => {
    const plan = planClaims(input({ volumes: [{ claim: "shop/db", node: "a", volume: "cxclaim_op_shop_db" }] }));
    expect(plan.remove).toEqual([]);
    expect(plan.records).toMatchObject([{ claim: "shop/db", phase: "Released", node: "a", removeByHand: "docker -H tcp://127.0.0.1:2375 volume rm cxclaim_op_shop_db" }]);
  });

  it('removes the data of a released claim that carried coxswain.io/delete-data-on-removal: "true", on every node that has it', () => {
    const volumes = [
      { claim: "shop/db", node: "a", volume: "v" },
      { claim: "shop/db", node: "b", volume: "v" },
      { claim: "shop/keep", node: "a", volume: "k" },
    ];
    const plan = planClaims(input({ volumes, deleteDataOf: (c) => c === "shop/db" }));
    expect(plan.remove).toEqual([
      { claim: "shop/db", node: "a" },
      { claim: "shop/db", node: "b" },
    ]);
    expect(plan.records.map((r) => [r.claim, r.phase, r.removeByHand !== undefined])).toEqual([
      ["shop/db", "Released", false],
      ["shop/keep", "Released", true],
    ]);
  });

  it("never removes the data of a claim in Git, whatever its annotation", () => {
    const desired = [{ claim: "shop/db", storage: "1Gi", deleteDataOnRemoval: true }];
    const plan = planClaims(input({ desired, boundNode: () => "a", volumes: [{ claim: "shop/db", node: "a", volume: "v" }], deleteDataOf: () => true }));
    expect(plan.remove).toEqual([]);
  });

  it("writes a status file per claim that reads back its node and annotation", () => {
    const [record] = planClaims(input({ desired: [{ claim: "shop/db", storage: "1Gi", deleteDataOnRemoval: true }], boundNode: () => "a" })).records;
    expect(claimPath("shop/db")).toBe("claims/shop/db.yaml");
    expect(claimOfPath("claims/shop/db.yaml")).toBe("shop/db");
    expect(claimOfPath("services/shop/db.yaml")).toBeUndefined();
    expect(readClaimRecord(renderClaimRecord(record!))).toEqual({ node: "a", deleteDataOnRemoval: true });
    expect(readClaimRecord("{not yaml")).toEqual({});
  });
});
