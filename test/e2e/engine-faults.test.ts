/**
 * Engine faults: the operator (the CLI) drives two real dockerd engines, each reached through a
 * fault-injecting proxy (test/support/engine-fault-proxy.ts), with a Deployment spread over both.
 *
 * - An engine that hangs (accepts calls, never answers): the node is NotReady after --node-grace and its
 *   pods are replaced on the other node after --eviction-timeout more, whatever the engine call timeout
 *   (30 s); when it answers again its replaced pods are removed: exactly `replicas` pods serve.
 * - A slow engine (every answer 500 ms late): a rollout completes, each pod's container created once.
 * - A flaky engine (every other action fails: a 500 it never saw, or a reset after it acted): a rollout
 *   completes, no container name is created twice on an engine, and no orphan container is left.
 *
 * The figures (calls seen, faults injected, creates, time to converge) are printed.
 */
import { rm } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import YAML from "yaml";
import { requireDocker, startFleet, type TestFleet } from "../support/docker-fleet.js";
import { EngineFaultProxy, type ContainerCalls } from "../support/engine-fault-proxy.js";
import { makeRepo, runGit, tempDir, type TestRepo } from "../support/git-repo.js";
import { buildTestImages, TEST_IMAGES } from "../support/images.js";
import { deploymentYaml } from "../support/manifests.js";
import { FleetObserver, httpGet, type SeenContainer } from "../support/observe.js";
import { startOperatorProcess, type OperatorProcess } from "../support/operator-process.js";
import { waitFor } from "../support/wait.js";

const HAS_DOCKER = requireDocker("e2e engine faults");

const REPLICAS = 4;
const GRACE_MS = 2_000;
const EVICTION_MS = 3_000;

describe.skipIf(!HAS_DOCKER)("engine faults on a 2-node fleet behind fault proxies", () => {
  let fleet: TestFleet;
  let obs: FleetObserver;
  let repo: TestRepo;
  let stateDir: string;
  let sockets: string;
  let operator: OperatorProcess | undefined;
  const proxies: EngineFaultProxy[] = [];

  const show = (p: string) => runGit(["show", `coxswain/status:${p}`], { cwd: repo.dir }).catch(() => "");
  const recorded = (oid: string, phase: string, timeoutMs = 90_000) =>
    waitFor(
      `commit ${oid.slice(0, 7)} ${phase}`,
      async () => {
        const t = await show(`commits/${oid.slice(0, 2)}/${oid}.yaml`);
        return new RegExp(`^phase: ${phase}$`, "m").test(t) ? t : undefined;
      },
      timeoutMs,
      250,
    );

  /** The web containers on the engines (read directly, not through the proxies), with what each answers. */
  async function web(): Promise<(SeenContainer & { body?: string })[]> {
    const all = (await obs.containers()).filter((c) => c.workload === "web");
    return Promise.all(all.map(async (c) => ({ ...c, body: c.state === "running" && c.port ? (await httpGet(c.port, "/"))?.trim() : undefined })));
  }

  /** Exactly `REPLICAS` web containers, all running and answering `body`, and nothing else of web. */
  const converged = (body: string) => async () => {
    const all = await web();
    return all.length === REPLICAS && all.every((c) => c.state === "running" && c.body === body) ? all : undefined;
  };

  /** One line per proxy: what it saw. */
  function figures(label: string, seconds: number): string {
    const lines = [`${label}: converged in ${seconds.toFixed(1)} s`];
    proxies.forEach((p, i) => {
      const s = p.stats();
      const c = [...p.containers().values()];
      const sum = (f: (x: ContainerCalls) => number) => c.reduce((n, x) => n + f(x), 0);
      lines.push(
        `  node-${i + 1}: ${s.calls} calls, ${s.held} held, ${s.delayed} delayed, ${s.injected500} failed with 500, ${s.injectedReset} reset after the engine acted; ` +
          `containers: ${c.length} names, creates ${sum((x) => x.create.seen)} seen / ${sum((x) => x.create.done)} done, ` +
          `starts ${sum((x) => x.start.seen)}/${sum((x) => x.start.done)}, stops ${sum((x) => x.stop.seen)}/${sum((x) => x.stop.done)}, removes ${sum((x) => x.remove.seen)}/${sum((x) => x.remove.done)}`,
      );
    });
    return lines.join("\n");
  }

  /** One line per container name a call on which failed or was repeated: what the proxy saw of it (seen/done). */
  function troubled(): string {
    const lines: string[] = [];
    proxies.forEach((p, i) => {
      for (const [name, c] of p.containers()) {
        const calls = (["create", "start", "stop", "remove"] as const).filter((a) => c[a].seen > 0);
        if (calls.every((a) => c[a].seen === 1 && c[a].done === 1)) continue;
        lines.push(`    node-${i + 1} ${name}: ${calls.map((a) => `${a} ${c[a].seen}/${c[a].done}`).join(", ")}`);
      }
    });
    return lines.join("\n");
  }

  /** No container name was created twice on an engine. */
  function expectNoDoubleCreates(): void {
    for (const p of proxies) for (const [name, c] of p.containers()) expect({ name, done: c.create.done }).toEqual({ name, done: Math.min(c.create.done, 1) });
  }

  beforeAll(async () => {
    fleet = await startFleet({ nodes: 2, name: "engf" });
    await Promise.all(fleet.nodes.map((n) => buildTestImages(n.socketPath)));
    obs = new FleetObserver(fleet);
    sockets = await tempDir("cx-engf-");
    for (const n of fleet.nodes) proxies.push(await EngineFaultProxy.start(n.socketPath, path.join(sockets, `${n.name}.sock`)));
    repo = await makeRepo();
    stateDir = await tempDir("coxswain-engf-");
    // The Nodes reach their engines through the proxies.
    const docs = YAML.parseAllDocuments(fleet.nodeManifests()).map((d) => d.toJS() as Record<string, any>);
    for (const [i, d] of docs.entries()) d.spec.endpoint = proxies[i]!.endpoint;
    await repo.write("fleet/nodes.yaml", docs.map((d) => YAML.stringify(d)).join("---\n"));
    operator = startOperatorProcess(["run", "--repo", repo.dir, "--state-dir", stateDir, "--poll-interval", "300ms", "--node-grace", `${GRACE_MS / 1000}s`, "--eviction-timeout", `${EVICTION_MS / 1000}s`]);
  });

  afterAll(async () => {
    await operator?.stop();
    for (const p of proxies) await p.close();
    await obs?.close();
    await fleet?.stop();
    await repo?.cleanup();
    if (stateDir) await rm(stateDir, { recursive: true, force: true });
    if (sockets) await rm(sockets, { recursive: true, force: true });
  });

  it("a hung engine: NotReady after the grace, its pods replaced after the eviction timeout, the stale ones removed when it answers again", async () => {
    await repo.write("apps/web.yaml", deploymentYaml({ name: "web", replicas: REPLICAS, image: TEST_IMAGES.v1, probe: true }));
    const c1 = await repo.commit("web on two nodes");
    await recorded(c1, "Succeeded");
    const before = await waitFor("4 pods serving v1", converged("v1"), 60_000, 250);
    const lost = before.filter((c) => c.node === "node-2").map((c) => c.pod);
    expect(lost.length).toBeGreaterThan(0);
    expect(lost.length).toBeLessThan(REPLICAS);
    for (const p of proxies) p.resetCounts();

    const t0 = Date.now();
    proxies[1]!.setMode({ kind: "hang" });
    await waitFor("node-2 NotReady in status", async () => /name: node-2\n\s+ready: false/.test(await show("summary.yaml")), 60_000, 100);
    const notReadyS = (Date.now() - t0) / 1000;
    // Replaced on node-1: REPLICAS pods serving there (node-2's still run on its engine, unseen by the operator).
    await waitFor(
      "4 pods serving on node-1",
      async () => {
        const run = (await web()).filter((c) => c.node === "node-1" && c.body === "v1");
        return run.length === REPLICAS;
      },
      60_000,
      250,
    );
    const replacedS = (Date.now() - t0) / 1000;
    expect(replacedS).toBeGreaterThanOrEqual((GRACE_MS + EVICTION_MS) / 1000);
    // Well before the engine call timeout (30 s): the heartbeat counts a listing that does not answer.
    expect(notReadyS).toBeLessThan(20);

    const t1 = Date.now();
    proxies[1]!.setMode({ kind: "pass" });
    const after = await waitFor("exactly 4 pods serving, none left on node-2", converged("v1"), 60_000, 250);
    const cleanS = (Date.now() - t1) / 1000;
    expect(after.every((c) => c.node === "node-1")).toBe(true);
    expect(after.map((c) => c.pod)).not.toEqual(expect.arrayContaining(lost));
    console.log(figures(`hang: NotReady after ${notReadyS.toFixed(1)} s, replaced after ${replacedS.toFixed(1)} s; stale pods removed`, cleanS));
    // Nothing was created on the hung node, and only its stale containers were removed there.
    const onHung = [...proxies[1]!.containers().values()];
    expect(onHung.reduce((n, c) => n + c.create.done, 0)).toBe(0);
    expectNoDoubleCreates();
  });

  it("a slow engine: a rollout completes, each pod created once", async () => {
    for (const p of proxies) p.resetCounts();
    proxies[1]!.setMode({ kind: "slow", delayMs: 500 });
    const t0 = Date.now();
    await repo.write("apps/web.yaml", deploymentYaml({ name: "web", replicas: REPLICAS, image: TEST_IMAGES.v2, probe: true }));
    const c2 = await repo.commit("web v2 with node-2 slow");
    await recorded(c2, "Succeeded");
    const after = await waitFor("4 pods serving v2", converged("v2"), 60_000, 250);
    const s = (Date.now() - t0) / 1000;
    console.log(figures("slow (500 ms per answer on node-2): rollout to v2", s));
    expect(after.some((c) => c.node === "node-2")).toBe(true);
    expect(proxies[1]!.stats().delayed).toBeGreaterThan(0);
    for (const p of proxies) for (const [, c] of p.containers()) expect(c.create.seen).toBeLessThanOrEqual(1);
    expectNoDoubleCreates();
    proxies[1]!.setMode({ kind: "pass" });
  });

  it("a flaky engine: a rollout completes, no double create, no orphan container", async () => {
    for (const p of proxies) p.resetCounts();
    for (const p of proxies) p.setMode({ kind: "flaky" });
    const t0 = Date.now();
    await repo.write("apps/web.yaml", deploymentYaml({ name: "web", replicas: REPLICAS, image: TEST_IMAGES.v1, probe: true, env: [{ name: "ROUND", value: "flaky" }] }));
    const c3 = await repo.commit("web v1 again with both engines flaky");
    await recorded(c3, "Succeeded", 120_000);
    const after = await waitFor("exactly 4 pods serving v1", converged("v1"), 90_000, 250);
    const s = (Date.now() - t0) / 1000;
    console.log(`${figures("flaky (every other action fails on both engines): rollout", s)}\n  containers with a failed or repeated call (seen/done):\n${troubled()}`);
    expect(new Set(after.map((c) => c.node)).size).toBe(2);
    expect(proxies.reduce((n, p) => n + p.stats().injected500 + p.stats().injectedReset, 0)).toBeGreaterThan(0);
    expectNoDoubleCreates();
    for (const p of proxies) p.setMode({ kind: "pass" });
  });
});
