/**
 * A Node removed from Git (rollout/node-removal.ts): it leaves at once when it does not answer, stays
 * leaving while a pod a drain moves is on it, and leaves once none is — whatever DaemonSet pods, ended pods
 * and bare Pods are still there.
 */
import { describe, expect, it } from "vitest";
import { removedNodeStep, type RemovedNode, type RemovedNodePod } from "../../../operator/src/rollout/node-removal.js";

const answering: RemovedNode = { name: "a", leaving: false, answers: true, notReady: false };
const pod = (name: string, owner: string, phase: RemovedNodePod["phase"] = "Running"): RemovedNodePod => ({ name, owner, phase });

describe("removedNodeStep", () => {
  it("keeps a node that answers while pods a drain moves are on it, naming them sorted", () => {
    const step = removedNodeStep(answering, [pod("web-2", "Deployment/default/web"), pod("db-0", "StatefulSet/default/db"), pod("web-1", "Deployment/default/web")]);
    expect(step).toEqual({ leave: false, holding: ["db-0", "web-1", "web-2"] });
  });

  it("lets it go once only pods a drain leaves remain: a DaemonSet's, a bare Pod's, ended ones", () => {
    const pods = [pod("agent-x", "DaemonSet/default/agent"), pod("solo", "Pod/default/solo"), pod("migrate-1", "Job/default/migrate", "Succeeded"), pod("batch-1", "Job/default/batch", "Failed")];
    const step = removedNodeStep({ ...answering, leaving: true }, pods);
    expect(step.leave).toBe(true);
  });

  it("lets an empty node go at once", () => {
    expect(removedNodeStep(answering, []).leave).toBe(true);
  });

  it("a stopping pod still holds it: its grace period runs on the node", () => {
    expect(removedNodeStep({ ...answering, leaving: true }, [pod("web-1", "Deployment/default/web", "Terminating")])).toEqual({ leave: false, holding: ["web-1"] });
  });

  it("a node that does not answer when it is removed leaves at once, pods or not", () => {
    const step = removedNodeStep({ ...answering, answers: false }, [pod("web-1", "Deployment/default/web")]);
    expect(step).toMatchObject({ leave: true });
    expect(step.leave && step.reason).toMatch(/does not answer/);
  });

  it("a leaving node is not let go for one missed listing, but is once NotReady", () => {
    const pods = [pod("web-1", "Deployment/default/web")];
    expect(removedNodeStep({ ...answering, leaving: true, answers: false }, pods).leave).toBe(false);
    const step = removedNodeStep({ ...answering, leaving: true, answers: false, notReady: true }, pods);
    expect(step.leave && step.reason).toMatch(/NotReady/);
  });
});

describe("what holds a leaving node", () => {
  const holds = (p: RemovedNodePod) => !removedNodeStep({ ...answering, leaving: true }, [p]).leave;
  it("every kind a drain moves while its pod has not ended; not a DaemonSet's, a bare Pod's or an ended pod", () => {
    for (const kind of ["Deployment", "Rollout", "ReplicaSet", "ReplicationController", "StatefulSet", "Job"]) {
      expect(holds(pod("p", `${kind}/default/x`, "Pending")), kind).toBe(true);
      expect(holds(pod("p", `${kind}/default/x`, "Running")), kind).toBe(true);
    }
    expect(holds(pod("p", "Job/default/x", "Succeeded"))).toBe(false);
    expect(holds(pod("p", "DaemonSet/default/x"))).toBe(false);
    expect(holds(pod("p", "Pod/default/x"))).toBe(false);
  });
});
