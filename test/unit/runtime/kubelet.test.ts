/**
 * The kubelet's init ordering, fed listings directly: how many init containers a pod has is its init-count label,
 * not how many a listing shows, so a listing that lacks one of them — the last before the pod's containers, or one
 * in the middle — starts neither the pod's containers nor a later init container; the full listing then does.
 * And what an idle fleet hands it: the same pods again on every relisting, periodic evaluations with nothing due.
 */
import { describe, expect, it } from "vitest";
import { Kubelet, type KubeletHost } from "../../../operator/src/runtime/kubelet.js";
import { LABELS } from "../../../operator/src/runtime/labels.js";
import type { NodeRuntime, ObservedContainer } from "../../../operator/src/runtime/types.js";

const POD = "web-r1-a";
const OWNER = "Deployment/default/web";

/** A container of POD: init container `init` (of `count`) or, without `init`, the pod's container. */
function container(name: string, state: ObservedContainer["state"], opts: { init?: number; count?: number; exitCode?: number } = {}): ObservedContainer {
  const labels: Record<string, string> = { [LABELS.owner]: "coxswain", [LABELS.pod]: POD, [LABELS.container]: name };
  if (opts.init !== undefined) labels[LABELS.init] = String(opts.init);
  if (opts.count !== undefined) labels[LABELS.initCount] = String(opts.count);
  return {
    id: `id-${name}`,
    runtimeName: `cx_default_${POD}_${name}`,
    image: "app:v1",
    labels,
    state,
    createdAt: 1_000,
    restartCount: 0,
    ...(state === "created" ? {} : { startedAt: 2_000 }),
    ...(state === "exited" ? { finishedAt: 3_000, exitCode: opts.exitCode ?? 0 } : {}),
  };
}

/** A kubelet on one ready node whose runtime records the containers it is asked to start. */
function harness() {
  const started: string[] = [];
  const runtime = {
    start: async (id: string) => {
      started.push(id);
    },
    stop: async () => undefined,
  } as unknown as NodeRuntime;
  const host: KubeletHost = {
    runtimeOf: () => runtime,
    addressOf: () => "127.0.0.1",
    busy: () => false,
    nodeReady: () => true,
    changed: () => undefined,
    relist: () => undefined,
    prober: async () => ({ ok: true, message: "" }),
    now: () => 10_000,
  };
  const kubelet = new Kubelet(host);
  const list = (...containers: ObservedContainer[]) => kubelet.observe("n1", new Map([[POD, { owner: OWNER, containers }]]), 9_000);
  return { kubelet, started, list };
}

describe("kubelet init ordering", () => {
  it("a listing that lacks the pod's last init container does not start the pod's containers; the full listing starts that init container", async () => {
    const { kubelet, started, list } = harness();
    // first succeeded; second (created, not started) is missing from this listing.
    list(container("first", "exited", { init: 0, count: 2 }), container("app", "created", { count: 2 }));
    kubelet.evaluate();
    await Promise.resolve();
    expect(started).toEqual([]);
    expect(kubelet.podHealth(POD)).toMatchObject({ ready: false, reason: "Init:1/2" });

    list(container("first", "exited", { init: 0, count: 2 }), container("second", "created", { init: 1, count: 2 }), container("app", "created", { count: 2 }));
    kubelet.evaluate();
    await Promise.resolve();
    expect(started).toEqual(["id-second"]);
  });

  it("a listing that lacks an init container in the middle does not start the one after it", async () => {
    const { kubelet, started, list } = harness();
    list(container("first", "exited", { init: 0, count: 3 }), container("third", "created", { init: 2, count: 3 }), container("app", "created", { count: 3 }));
    kubelet.evaluate();
    await Promise.resolve();
    expect(started).toEqual([]);
    expect(kubelet.podHealth(POD)).toMatchObject({ ready: false, reason: "Init:1/3" });
  });

  it("the pod's containers start once every init container the label counts has succeeded", async () => {
    const { kubelet, started, list } = harness();
    list(container("first", "exited", { init: 0, count: 2 }), container("second", "exited", { init: 1, count: 2 }), container("app", "created", { count: 2 }));
    kubelet.evaluate();
    await Promise.resolve();
    expect(started).toEqual(["id-app"]);
  });

  it("a pod made before the init-count label is ordered by the init containers it shows, as before", async () => {
    const { kubelet, started, list } = harness();
    list(container("first", "exited", { init: 0 }), container("second", "running", { init: 1 }), container("app", "created"));
    kubelet.evaluate();
    await Promise.resolve();
    expect(started).toEqual([]);
    list(container("first", "exited", { init: 0 }), container("second", "exited", { init: 1 }), container("app", "created"));
    kubelet.evaluate();
    await Promise.resolve();
    expect(started).toEqual(["id-app"]);
  });
});

describe("kubelet relistings that change nothing", () => {
  /** A kubelet with a clock the test moves; counts the probes it runs. */
  function clocked() {
    let now = 0;
    const probed: number[] = [];
    const host: KubeletHost = {
      runtimeOf: () => ({}) as NodeRuntime,
      addressOf: () => "127.0.0.1",
      busy: () => false,
      nodeReady: () => true,
      changed: () => undefined,
      relist: () => undefined,
      prober: async () => {
        probed.push(now);
        return { ok: true, message: "" };
      },
      now: () => now,
    };
    return { kubelet: new Kubelet(host), probed, at: (t: number) => (now = t) };
  }

  it("the same pods handed over again still confirm a run without probes when a listing a second later sees it", () => {
    const { kubelet, at } = clocked();
    const pods = new Map([[POD, { owner: OWNER, containers: [container("app", "running")] }]]);
    at(2_000);
    kubelet.observe("n1", pods, 2_000);
    expect(kubelet.podHealth(POD)).toMatchObject({ ready: false, reason: "Starting" });
    at(2_500);
    kubelet.observe("n1", pods, 2_500); // too early: not confirmed
    expect(kubelet.podHealth(POD)?.ready).toBe(false);
    at(3_000);
    kubelet.observe("n1", pods); // not all from one listing: confirms nothing
    expect(kubelet.podHealth(POD)?.ready).toBe(false);
    kubelet.observe("n1", pods, 3_000);
    expect(kubelet.podHealth(POD)).toMatchObject({ ready: true, readySince: 3_000, reason: "Running" });
  });

  it("a periodic evaluation with nothing due runs nothing, and the next probe still runs when it falls due", async () => {
    const { kubelet, probed, at } = clocked();
    const app = {
      ...container("app", "running"),
      labels: {
        ...container("app", "running").labels,
        [LABELS.readiness]: JSON.stringify({ type: "tcp", port: 8080, initialDelaySeconds: 0, periodSeconds: 10, timeoutSeconds: 1, successThreshold: 1, failureThreshold: 3 }),
      },
    };
    at(2_000);
    kubelet.observe("n1", new Map([[POD, { owner: OWNER, containers: [app] }]]), 2_000);
    await Promise.resolve();
    expect(probed).toEqual([2_000]);
    for (const t of [3_000, 6_000, 11_999]) {
      at(t);
      kubelet.evaluate();
    }
    await Promise.resolve();
    expect(probed).toEqual([2_000]);
    expect(kubelet.podHealth(POD)).toMatchObject({ ready: true, readySince: 2_000 });
    at(12_000);
    kubelet.evaluate();
    await Promise.resolve();
    expect(probed).toEqual([2_000, 12_000]);
  });
});
