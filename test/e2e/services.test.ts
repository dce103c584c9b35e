/**
 * Services end to end on a fleet of three real Docker engines through the real CLI: a 10-replica
 * Deployment behind a Service rolls from v1 to v2 and back while a load generator on 127.0.0.1 sends steady
 * keep-alive HTTP requests through one node's proxy (an HAProxy container on each engine) — no request
 * fails — and every node's proxy serves the pods of every node.
 */
import { rm } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { requireDocker, startFleet, type TestFleet } from "../support/docker-fleet.js";
import { fetchAnswer, startLoad } from "../support/http-load.js";
import { makeRepo, runGit, tempDir, type TestRepo } from "../support/git-repo.js";
import { buildProxyImage, buildTestImages, TEST_IMAGES } from "../support/images.js";
import { deploymentYaml, serviceYaml } from "../support/manifests.js";
import { startOperatorProcess, type OperatorProcess } from "../support/operator-process.js";
import { waitFor } from "../support/wait.js";

const HAS_DOCKER = requireDocker("e2e services");

interface ServiceStatus {
  ports: { port: number; endpoints: { ready: { pod: string; node: string }[]; notReady: unknown[]; terminating: unknown[] } }[];
  nodes: { node: string; address?: string; serving: boolean; error?: string }[];
}

describe.skipIf(!HAS_DOCKER)("Services on a three-node Docker fleet", () => {
  const ctx = {} as { fleet: TestFleet; repo: TestRepo; stateDir: string; operator?: OperatorProcess };

  beforeAll(async () => {
    ctx.fleet = await startFleet({ nodes: 3, name: "e2e-svc" });
    await Promise.all(ctx.fleet.nodes.flatMap((n) => [buildTestImages(n.socketPath), buildProxyImage(n.socketPath)]));
    ctx.repo = await makeRepo();
    ctx.stateDir = await tempDir("coxswain-e2e-svc-");
    await ctx.repo.write("fleet/nodes.yaml", ctx.fleet.nodeManifests());
  });
  afterAll(async () => {
    await ctx.operator?.stop();
    await ctx.fleet?.stop(); // the node proxies are containers on the fleet's engines
    await ctx.repo?.cleanup();
    if (ctx.stateDir) await rm(ctx.stateDir, { recursive: true, force: true });
  });

  async function status(): Promise<ServiceStatus | undefined> {
    const text = await runGit(["show", "coxswain/status:services/default/web.yaml"], { cwd: ctx.repo.dir }).catch(() => undefined);
    return text === undefined ? undefined : (parse(text) as ServiceStatus);
  }

  /** A pod's revision: pods are named <workload>-<revision>-<suffix>. */
  const revisionOf = (pod: string) => pod.split("-")[1]!;

  /**
   * The Service once its 10 endpoints are ready pods of one revision other than `not` (none leaving, none
   * starting) and every node's proxy serves it.
   */
  async function settled(what: string, not?: string): Promise<ServiceStatus & { revision: string }> {
    return waitFor(
      what,
      async () => {
        const s = await status();
        const eps = s?.ports[0]?.endpoints;
        const revisions = new Set(eps?.ready.map((e) => revisionOf(e.pod)));
        const [revision] = [...revisions];
        const done = s && eps!.ready.length === 10 && revisions.size === 1 && revision !== not && eps!.terminating.length === 0 && eps!.notReady.length === 0;
        return done && s.nodes.length === 3 && s.nodes.every((n) => n.serving) ? { ...s, revision: revision! } : undefined;
      },
      180_000,
      250,
    ).catch((err: Error) => {
      throw new Error(`${err.message}\noperator output (last 40 lines):\n${ctx.operator?.lines.slice(-40).join("\n")}`);
    });
  }

  function web(image: string): string {
    return deploymentYaml({ name: "web", replicas: 10, image, probe: true, grace: 10 });
  }

  it("rolls 10 replicas from v1 to v2 and back under steady load through the Service with no failed request", async () => {
    await ctx.repo.write("apps/web.yaml", web(TEST_IMAGES.v1));
    await ctx.repo.write("apps/web-svc.yaml", serviceYaml({ ports: [{ name: "http", port: 8080, targetPort: "http" }] }));
    await ctx.repo.commit("web v1 and its Service");
    ctx.operator = startOperatorProcess(["run", "--repo", ctx.repo.dir, "--state-dir", ctx.stateDir, "--poll-interval", "300ms"]);
    const first = await settled("web v1 served by every node");
    // Pods on every node; each node's proxy has its own address for the Service, and each sends to them all.
    expect(new Set(first.ports[0]!.endpoints.ready.map((e) => e.node)).size).toBeGreaterThan(1);
    const addresses = first.nodes.map((n) => n.address!);
    expect(new Set(addresses).size).toBe(3);
    for (const address of addresses) {
      // The status file says a node serves the Service once its proxy has the listener and the endpoints are
      // ready; the proxy's edits for those endpoints can land a moment later. Wait for the data plane itself.
      await waitFor(`${address} answering`, async () => (await fetchAnswer(8080, { address }).catch(() => undefined))?.status === 200, 60_000, 100);
      const gen = startLoad(8080, 2, address);
      await waitFor(`requests through ${address}`, () => gen.latencies.length >= 20);
      await gen.stop();
      expect(gen.failures).toEqual([]);
      expect([...gen.counts.keys()]).toEqual(["v1"]);
    }

    const load = startLoad(8080, 8, addresses[0]!);
    const sent = () => load.latencies.length + load.failures.length;
    await waitFor("traffic flowing", () => sent() > 100);
    let revision = first.revision;
    for (const [image, body] of [
      [TEST_IMAGES.v2, "v2"],
      [TEST_IMAGES.v1, "v1"],
    ] as const) {
      await ctx.repo.write("apps/web.yaml", web(image));
      await ctx.repo.commit(`web ${body}`);
      revision = (await settled(`web ${body} rolled out`, revision)).revision;
      expect((load.counts.get(body) ?? 0) > 0).toBe(true);
      const seen = sent();
      await waitFor("traffic after the rollout", () => sent() > seen + 100);
    }
    await load.stop();
    const sorted = [...load.latencies].sort((a, b) => a - b);
    const p99 = sorted[Math.floor(sorted.length * 0.99)] ?? 0;
    console.log(`rolling 10 replicas v1 → v2 → v1 on 3 Docker nodes through the Service: ${sent()} requests, ${load.failures.length} failed, p99 ${p99.toFixed(1)} ms`);
    expect(load.failures).toEqual([]);
    expect(load.counts.get("v2")).toBeGreaterThan(0);
  });
});
