/**
 * A canary's share of requests end to end on a fleet of three real Docker engines through the real CLI:
 * each node's proxy is an HAProxy container, which takes every weight change as a checked, hitless reload.
 * A Rollout of 2 replicas at setWeight 10 (one pod per revision: by pods the new revision would take half)
 * sends about 10 % of N = 1000 requests through each node's Service address to the new revision (±5
 * points: over 5 standard deviations even for requests drawn at random), and all of them after promotion.
 */
import { rm } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { countAnswers } from "../support/http-load.js";
import { requireDocker, startFleet, type TestFleet } from "../support/docker-fleet.js";
import { makeRepo, runGit, tempDir, type TestRepo } from "../support/git-repo.js";
import { buildProxyImage, buildTestImages, TEST_IMAGES } from "../support/images.js";
import { rolloutYaml, serviceYaml } from "../support/manifests.js";
import { startOperatorProcess, type OperatorProcess } from "../support/operator-process.js";
import { waitFor } from "../support/wait.js";

const HAS_DOCKER = requireDocker("e2e rollout traffic");

const N = 1000;
const BAND = 0.05;

interface ServiceStatus {
  ports: { endpoints: { ready: { pod: string }[] } }[];
  nodes: { node: string; address?: string; serving: boolean }[];
}

interface RolloutStatus {
  revision: string;
  stable?: { revision: string };
  canary?: { waiting?: string };
  traffic?: { weight?: number; applied: boolean };
}

describe.skipIf(!HAS_DOCKER)("a canary's share of requests on a three-node Docker fleet", () => {
  const ctx = {} as { fleet: TestFleet; repo: TestRepo; stateDir: string; operator?: OperatorProcess };

  beforeAll(async () => {
    ctx.fleet = await startFleet({ nodes: 3, name: "e2e-rt" });
    await Promise.all(ctx.fleet.nodes.flatMap((n) => [buildTestImages(n.socketPath), buildProxyImage(n.socketPath)]));
    ctx.repo = await makeRepo();
    ctx.stateDir = await tempDir("coxswain-e2e-rt-");
    await ctx.repo.write("fleet/nodes.yaml", ctx.fleet.nodeManifests());
  });
  afterAll(async () => {
    await ctx.operator?.stop();
    await ctx.fleet?.stop(); // the node proxies are containers on the fleet's engines
    await ctx.repo?.cleanup();
    if (ctx.stateDir) await rm(ctx.stateDir, { recursive: true, force: true });
  });

  async function show<T>(path: string): Promise<T | undefined> {
    const text = await runGit(["show", `coxswain/status:${path}`], { cwd: ctx.repo.dir }).catch(() => undefined);
    return text === undefined ? undefined : (parse(text) as T);
  }
  const failWithOutput = (err: Error): never => {
    throw new Error(`${err.message}\noperator output (last 40 lines):\n${ctx.operator?.lines.slice(-40).join("\n")}`);
  };

  const shop = (image: string, promote?: string) =>
    rolloutYaml({ name: "shop", replicas: 2, image, argo: true, canary: [{ setWeight: 10 }, { pause: {} }], maxSurge: 0, maxUnavailable: 1, probe: true, ...(promote ? { promote } : {}) });

  it("sends about 10 % of each node's requests to the canary at setWeight 10 with one pod per revision, and all of them after promotion", async () => {
    await ctx.repo.write("apps/shop.yaml", shop(TEST_IMAGES.v1));
    await ctx.repo.write("apps/shop-svc.yaml", serviceYaml({ name: "shop", ports: [{ name: "http", port: 8090, targetPort: "http" }] }));
    await ctx.repo.commit("shop v1 and its Service");
    ctx.operator = startOperatorProcess(["run", "--repo", ctx.repo.dir, "--state-dir", ctx.stateDir, "--poll-interval", "300ms"]);
    const first = await waitFor(
      "shop v1 served by every node",
      async () => {
        const s = await show<ServiceStatus>("services/default/shop.yaml");
        return s && s.ports[0]!.endpoints.ready.length === 2 && s.nodes.length === 3 && s.nodes.every((n) => n.serving) ? s : undefined;
      },
      180_000,
      250,
    ).catch(failWithOutput);
    const addresses = first.nodes.map((n) => n.address!);

    await ctx.repo.write("apps/shop.yaml", shop(TEST_IMAGES.v2));
    await ctx.repo.commit("shop v2");
    await waitFor(
      "the canary paused at setWeight 10, every node's proxy sending it",
      async () => {
        const r = await show<RolloutStatus>("workloads/default/rollout-shop.yaml");
        return r?.canary?.waiting === "promotion" && r.traffic?.applied === true && r.traffic.weight === 10;
      },
      180_000,
      250,
    ).catch(failWithOutput);
    expect((await show<ServiceStatus>("services/default/shop.yaml"))!.ports[0]!.endpoints.ready).toHaveLength(2);

    for (const address of addresses) {
      const counts = await countAnswers(address, 8090, N);
      const share = (counts.get("v2") ?? 0) / N;
      console.log(`Docker node proxy ${address}: ${counts.get("v2") ?? 0} of ${N} requests to the canary at setWeight 10 (${(share * 100).toFixed(1)} %)`);
      expect(Math.abs(share - 0.1)).toBeLessThanOrEqual(BAND);
      expect((counts.get("v1") ?? 0) + (counts.get("v2") ?? 0)).toBe(N);
    }

    await ctx.repo.write("apps/shop.yaml", shop(TEST_IMAGES.v2, "full"));
    await ctx.repo.commit("promote shop v2");
    await waitFor(
      "v2 stable, alone, every node's proxy sending it everything",
      async () => {
        const r = await show<RolloutStatus>("workloads/default/rollout-shop.yaml");
        const s = await show<ServiceStatus>("services/default/shop.yaml");
        return r?.stable?.revision === r?.revision && r?.traffic?.applied === true && s?.ports[0]?.endpoints.ready.length === 2;
      },
      180_000,
      250,
    ).catch(failWithOutput);
    for (const address of addresses) expect(await countAnswers(address, 8090, 100)).toEqual(new Map([["v2", 100]]));
  });
});
