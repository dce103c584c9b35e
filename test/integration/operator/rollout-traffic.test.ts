/**
 * Rollouts' traffic through a real HAProxy: the whole operator in-process on a real Git repository with the
 * process runtime (real processes, each answering with its revision's version) and Debian's HAProxy as the
 * node proxy.
 * - A canary at setWeight 10 with 2 replicas sends about 10 % of a Service's requests to the new revision
 *   (its pods are half of them: by pods it would be 50 %), and its canaryService only the new revision's;
 *   the Rollout and the Service's status say so; promotion sends everything to the new revision.
 * - With trafficRouting: {}, the stable revision keeps all its replicas and the stableService carries the
 *   10 % split.
 * - Blue/green: the previewService answers v2 while the activeService answers v1; after promotion the
 *   activeService answers v2, and steady keep-alive load through it fails no request during the switch.
 *
 * The 10 % share is checked on N = 1000 requests within ±5 points: HAProxy's weighted round robin hands
 * requests out in proportion to the weights, and even requests drawn at random (binomial, p = 0.1) would
 * leave that band with a probability below 1e-6 (5 standard deviations of 9.5 requests).
 */
import { existsSync } from "node:fs";
import { rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { parse } from "yaml";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ProcessRuntime } from "../../../operator/src/runtime/process/index.js";
import { startOperator, type RunningOperator } from "../../../operator/src/sync/operator.js";
import { countAnswers, servedBy, startLoad } from "../../support/http-load.js";
import { makeRepo, runGit, tempDir, type TestRepo } from "../../support/git-repo.js";
import { processServiceNetwork } from "../../support/in-process-operator.js";
import { rolloutYaml, serviceYaml } from "../../support/manifests.js";
import { waitFor } from "../../support/wait.js";

const HAPROXY = "/usr/sbin/haproxy";
const enabled = existsSync(HAPROXY) && process.getuid?.() === 0;
if (!enabled && process.env.CI === "true") throw new Error(`rollout-traffic: CI needs ${HAPROXY} (apt-get install -y haproxy) and root`);

/** Answers its VERSION on 127.0.0.1:$PORT; exits at once on SIGTERM, dropping what it was answering. */
const APP = `
const http = require("node:http");
const server = http.createServer((req, res) => res.end(process.env.VERSION + "\\n"));
server.keepAliveTimeout = 60000;
server.listen(Number(process.env.PORT), "127.0.0.1");
process.on("SIGTERM", () => process.exit(0));
`;

/** Requests counted for the share; see the module comment for the band. */
const N = 1000;
const BAND = 0.05;

interface ServiceStatus {
  ports: { endpoints: { ready: { pod: string }[] } }[];
  nodes: { address?: string; serving: boolean }[];
  rollout?: { name: string; role: string; revision?: string; stable?: string; canary?: string; weight?: number };
}

interface RolloutStatus {
  revision: string;
  stable?: { revision: string };
  canary?: { step: number; waiting?: string };
  traffic?: { weight?: number; applied: boolean; stable?: string; canary?: string; active?: string; preview?: string; services: { service: string; role: string; revision?: string }[] };
}

describe.skipIf(!enabled)("Rollouts' traffic through a real HAProxy (process runtime)", () => {
  let repo: TestRepo;
  let stateDir: string;
  let appFile: string;
  let op: RunningOperator | undefined;

  beforeAll(async () => {
    appFile = join(await tempDir("coxswain-rt-app-"), "app.cjs");
    await writeFile(appFile, APP);
  });

  afterAll(async () => {
    await rm(join(appFile, ".."), { recursive: true, force: true });
  });

  afterEach(async () => {
    await op?.stop({ stopProxies: true });
    op = undefined;
    const rt = new ProcessRuntime({ stateDir, owner: "coxswain" });
    for (const c of await rt.list()) await rt.remove(c.id);
    await rt.close();
    await repo.cleanup();
    await rm(stateDir, { recursive: true, force: true });
  });

  async function start(): Promise<void> {
    op = await startOperator({
      repo: repo.dir,
      stateDir,
      runtime: "process",
      pollMs: 200,
      fleetPollMs: 200,
      statusDebounceMs: 50,
      defaultPortRange: { from: 62700, to: 62799 },
      defaultServiceNetwork: processServiceNetwork({ from: 62700 }),
    });
  }

  async function show(path: string): Promise<string | undefined> {
    await op!.flushStatus();
    return runGit(["show", `coxswain/status:${path}`], { cwd: repo.dir }).catch(() => undefined);
  }
  async function service(name: string): Promise<ServiceStatus | undefined> {
    const text = await show(`services/default/${name}.yaml`);
    return text === undefined ? undefined : (parse(text) as ServiceStatus);
  }
  async function rollout(name: string): Promise<RolloutStatus | undefined> {
    const text = await show(`workloads/default/rollout-${name}.yaml`);
    return text === undefined ? undefined : (parse(text) as RolloutStatus);
  }

  /** The address of Service `name` once `ready` endpoints are ready and every node serves it. */
  async function served(name: string, ready: number): Promise<string> {
    const s = await waitFor(
      `Service ${name} served with ${ready} ready endpoints`,
      async () => {
        const st = await service(name);
        return st && st.ports[0]!.endpoints.ready.length === ready && st.nodes.every((n) => n.serving) ? st : undefined;
      },
      60_000,
    );
    return s.nodes[0]!.address!;
  }

  const app = (version: string) => ({ image: "node", command: [process.execPath, appFile], env: [{ name: "VERSION", value: version }], probe: true });

  it("a canary at setWeight 10 with 2 replicas sends about 10 % of requests to the new revision, its canaryService only there; promotion sends all", async () => {
    stateDir = await tempDir("coxswain-rt-");
    repo = await makeRepo();
    const shop = (version: string, promote?: string) =>
      rolloutYaml({ name: "shop", replicas: 2, ...app(version), canary: [{ setWeight: 10 }, { pause: {} }], maxSurge: 0, maxUnavailable: 1, canaryService: "shop-canary", ...(promote ? { promote } : {}) });
    await repo.write("shop.yaml", shop("v1"));
    await repo.write(
      "svc.yaml",
      serviceYaml({ name: "shop", ports: [{ name: "http", port: 8181, targetPort: "http" }] }) +
        "---\n" +
        serviceYaml({ name: "shop-canary", selector: "shop", ports: [{ name: "http", port: 8182, targetPort: "http" }] }),
    );
    await repo.commit("shop v1 and its Services");
    await start();
    const address = await served("shop", 2);
    const canaryAddress = (await service("shop-canary"))!.nodes[0]!.address!;

    await repo.write("shop.yaml", shop("v2"));
    await repo.commit("shop v2");
    const paused = await waitFor(
      "the canary paused at setWeight 10, every proxy sending it",
      async () => {
        const r = await rollout("shop");
        return r?.canary?.waiting === "promotion" && r.traffic?.applied === true && r.traffic.weight === 10 ? r : undefined;
      },
      120_000,
    );
    // One pod of each revision: by pods the canary would take half.
    expect((await service("shop"))!.ports[0]!.endpoints.ready).toHaveLength(2);
    expect((await service("shop"))!.rollout).toEqual({ name: "shop", role: "split", stable: paused.stable!.revision, canary: paused.revision, weight: 10 });
    expect(paused.traffic!.services).toEqual([
      { service: "shop", role: "split" },
      { service: "shop-canary", role: "canary", revision: paused.revision },
    ]);

    const counts = await countAnswers(address, 8181, N);
    const share = (counts.get("v2") ?? 0) / N;
    console.log(`canary at setWeight 10, 1 pod of 2: ${counts.get("v2") ?? 0} of ${N} requests to v2 (${(share * 100).toFixed(1)} %)`);
    expect(Math.abs(share - 0.1)).toBeLessThanOrEqual(BAND);
    expect((counts.get("v1") ?? 0) + (counts.get("v2") ?? 0)).toBe(N);
    expect(await countAnswers(canaryAddress, 8182, 20)).toEqual(new Map([["v2", 20]]));

    await repo.write("shop.yaml", shop("v2", "full"));
    await repo.commit("promote shop v2");
    await waitFor(
      "v2 stable, alone, and every proxy sending it everything",
      async () => {
        const r = await rollout("shop");
        const s = await service("shop");
        return r?.stable?.revision === r?.revision && r?.traffic?.applied === true && s?.ports[0]?.endpoints.ready.length === 2;
      },
      120_000,
    );
    expect(await countAnswers(address, 8181, 200)).toEqual(new Map([["v2", 200]]));
  });

  it("with trafficRouting: {} the stable revision keeps all its replicas and the stableService carries the 10 % split", async () => {
    stateDir = await tempDir("coxswain-rt-");
    repo = await makeRepo();
    const cart = (version: string) =>
      rolloutYaml({ name: "cart", replicas: 2, ...app(version), canary: [{ setWeight: 10 }, { pause: {} }], canaryService: "cart-canary", stableService: "cart-stable", trafficRouting: true });
    await repo.write("cart.yaml", cart("v1"));
    await repo.write(
      "svc.yaml",
      serviceYaml({ name: "cart-stable", selector: "cart", ports: [{ name: "http", port: 8183, targetPort: "http" }] }) +
        "---\n" +
        serviceYaml({ name: "cart-canary", selector: "cart", ports: [{ name: "http", port: 8184, targetPort: "http" }] }),
    );
    await repo.commit("cart v1 and its Services");
    await start();
    const stable = await served("cart-stable", 2);
    await repo.write("cart.yaml", cart("v2"));
    await repo.commit("cart v2");
    await waitFor(
      "the canary paused at setWeight 10, every proxy sending it",
      async () => {
        const r = await rollout("cart");
        return r?.canary?.waiting === "promotion" && r.traffic?.applied === true && r.traffic.weight === 10;
      },
      120_000,
    );
    // Both stable pods and one canary pod (ceil(2 × 10 / 100)) behind the stableService.
    expect((await service("cart-stable"))!.ports[0]!.endpoints.ready).toHaveLength(3);
    const counts = await countAnswers(stable, 8183, N);
    const share = (counts.get("v2") ?? 0) / N;
    console.log(`trafficRouting canary at setWeight 10, 1 pod of 3: ${counts.get("v2") ?? 0} of ${N} requests to v2 (${(share * 100).toFixed(1)} %)`);
    expect(Math.abs(share - 0.1)).toBeLessThanOrEqual(BAND);
    expect(await countAnswers((await service("cart-canary"))!.nodes[0]!.address!, 8184, 20)).toEqual(new Map([["v2", 20]]));
  });

  it("blue/green: the previewService answers v2 while the activeService answers v1; promotion switches the activeService with no failed request", async () => {
    stateDir = await tempDir("coxswain-rt-");
    repo = await makeRepo();
    const bg = (version: string, promote?: string) =>
      rolloutYaml({
        name: "desk",
        replicas: 2,
        ...app(version),
        blueGreen: { autoPromotionEnabled: false, scaleDownDelaySeconds: 3, activeService: "desk", previewService: "desk-preview" },
        ...(promote ? { promote } : {}),
      });
    await repo.write("desk.yaml", bg("v1"));
    await repo.write(
      "svc.yaml",
      serviceYaml({ name: "desk", ports: [{ name: "http", port: 8185, targetPort: "http" }] }) +
        "---\n" +
        serviceYaml({ name: "desk-preview", selector: "desk", ports: [{ name: "http", port: 8186, targetPort: "http" }] }),
    );
    await repo.commit("desk v1 and its Services");
    await start();
    const active = await served("desk", 2);
    const preview = (await service("desk-preview"))!.nodes[0]!.address!;

    await repo.write("desk.yaml", bg("v2"));
    await repo.commit("desk v2");
    await waitFor(
      "the preview ready and served, waiting for promotion",
      async () => {
        const r = await rollout("desk");
        return /waiting: promotion/.test((await show("workloads/default/rollout-desk.yaml")) ?? "") && r?.traffic?.applied === true && r.traffic.preview === r.revision;
      },
      120_000,
    );
    await served("desk-preview", 2);
    expect(await countAnswers(preview, 8186, 20)).toEqual(new Map([["v2", 20]]));
    expect(await countAnswers(active, 8185, 20)).toEqual(new Map([["v1", 20]]));

    const load = startLoad(8185, 4, active);
    await servedBy(load, ["v1"], ["v2"]);
    await repo.write("desk.yaml", bg("v2", "1"));
    await repo.commit("promote desk v2");
    await servedBy(load, ["v2"], ["v1"]);
    await waitFor(
      "the replaced revision gone after its scale-down delay",
      async () => {
        const r = await rollout("desk");
        return r !== undefined && r.traffic?.preview === undefined && (await op!.fleet.pods()).filter((p) => p.owner === "Rollout/default/desk").length === 2;
      },
      120_000,
    );
    await servedBy(load, ["v2"], ["v1"]);
    await load.stop();
    const total = [...load.counts.values()].reduce((a, b) => a + b, 0);
    console.log(`blue/green switch under keep-alive load: ${total} requests, ${load.failures.length} failed`);
    expect(load.failures).toEqual([]);
    expect(await countAnswers(preview, 8186, 20)).toEqual(new Map([["v2", 20]]));
  });
});
