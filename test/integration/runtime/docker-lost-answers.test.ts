/**
 * DockerRuntime when an engine acts but its answer is lost (test/support/engine-fault-proxy.ts resets the
 * connection after the engine answered): a create whose answer never came is looked for by name and taken
 * up, never left behind as a container nobody knows of (which, found by a later listing, held a host port
 * that had been given to another pod meanwhile); a create the engine never saw is an error, nothing made.
 * A start whose answer was lost is kept when the container runs (not removed and made again as a new pod).
 * A read that fails fast (a 500, a reset) is made again in place; an action never is.
 */
import path from "node:path";
import { rm } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DockerRuntime } from "../../../operator/src/runtime/docker/index.js";
import { LABELS } from "../../../operator/src/runtime/labels.js";
import type { ContainerLaunch } from "../../../operator/src/runtime/types.js";
import { requireDocker, startFleet, type TestFleet } from "../../support/docker-fleet.js";
import { EngineFaultProxy } from "../../support/engine-fault-proxy.js";
import { tempDir } from "../../support/git-repo.js";
import { coxErrorOf } from "../../support/errors.js";
import { buildTestImages, TEST_IMAGES } from "../../support/images.js";

const enabled = requireDocker("docker lost answers");
const OWNER = "coxswain-lost";

describe.skipIf(!enabled)("DockerRuntime with answers lost after the engine acted", () => {
  let fleet: TestFleet;
  let proxy: EngineFaultProxy;
  let direct: DockerRuntime;
  let sockets: string;

  beforeAll(async () => {
    fleet = await startFleet({ nodes: 1, name: "lost" });
    await buildTestImages(fleet.nodes[0]!.socketPath);
    sockets = await tempDir("cx-lost-");
    proxy = await EngineFaultProxy.start(fleet.nodes[0]!.socketPath, path.join(sockets, "engine.sock"));
    direct = new DockerRuntime({ endpoint: fleet.nodes[0]!.endpoint, owner: OWNER, callTimeoutMs: 10_000 });
  });

  afterAll(async () => {
    await direct?.close();
    await proxy?.close();
    await fleet?.stop();
    if (sockets) await rm(sockets, { recursive: true, force: true });
  });

  function launch(n: number): ContainerLaunch {
    const [from] = fleet.nodes[0]!.portRange.split("-").map(Number);
    const p = from! + n;
    return {
      runtimeName: `cx_default_web-${n}_app`,
      image: TEST_IMAGES.v1,
      env: { PORT: String(p) },
      network: "host",
      ports: [{ name: "http", containerPort: p, hostPort: p, protocol: "TCP" }],
      limits: {},
      labels: {
        [LABELS.owner]: OWNER,
        [LABELS.namespace]: "default",
        [LABELS.kind]: "Deployment",
        [LABELS.workload]: "web",
        [LABELS.pod]: `web-${n}`,
        [LABELS.container]: "app",
        [LABELS.revision]: "r1",
        [LABELS.specHash]: `spec-${n}`,
      },
    };
  }

  it("takes up the container of a create whose answer was lost, and makes nothing of one the engine never saw", async () => {
    const rt = new DockerRuntime({ endpoint: proxy.endpoint, owner: OWNER, callTimeoutMs: 10_000 });
    try {
      // Every other create fails: the 2nd with a 500 the engine never saw, the 4th reset after the engine made it.
      proxy.setMode({ kind: "flaky", only: (method, p) => method === "POST" && p === "/containers/create" });
      const first = await rt.run(launch(1));
      expect(first.state).toBe("running");
      expect((await coxErrorOf(rt.run(launch(2)))).code).toBe("RuntimeCallFailed");
      await rt.run(launch(3));
      const lost = await rt.run(launch(4));
      expect(lost.state).toBe("running");
      expect(proxy.stats()).toMatchObject({ injected500: 1, injectedReset: 1 });
      const calls = proxy.containers();
      expect(calls.get("cx_default_web-4_app")?.create).toEqual({ seen: 1, done: 1 });
      expect(calls.get("cx_default_web-2_app")?.create).toEqual({ seen: 1, done: 0 });
      // On the engine: the three pods, each once, all running; nothing of web-2.
      const listed = await direct.list();
      expect(listed.map((c) => [c.labels[LABELS.pod], c.state])).toEqual([
        ["web-1", "running"],
        ["web-3", "running"],
        ["web-4", "running"],
      ]);
      expect(listed.find((c) => c.labels[LABELS.pod] === "web-4")?.id).toBe(lost.id);
    } finally {
      proxy.setMode({ kind: "pass" });
      await rt.close();
    }
  });

  it("keeps the container of a start whose answer was lost when it runs, and removes the one whose start the engine never saw", async () => {
    const rt = new DockerRuntime({ endpoint: proxy.endpoint, owner: OWNER, callTimeoutMs: 10_000 });
    proxy.resetCounts();
    try {
      // Every other start fails: the 2nd with a 500 the engine never saw, the 4th reset after the engine started it.
      proxy.setMode({ kind: "flaky", only: (method, p) => method === "POST" && /^\/containers\/[^/]+\/start$/.test(p) });
      await rt.run(launch(11));
      expect((await coxErrorOf(rt.run(launch(12)))).code).toBe("RuntimeCallFailed");
      await rt.run(launch(13));
      const lost = await rt.run(launch(14));
      expect(lost.state).toBe("running");
      expect(proxy.stats()).toMatchObject({ injected500: 1, injectedReset: 1 });
      const calls = proxy.containers();
      expect(calls.get("cx_default_web-14_app")).toMatchObject({ create: { seen: 1, done: 1 }, start: { seen: 1, done: 1 }, remove: { seen: 0, done: 0 } });
      expect(calls.get("cx_default_web-12_app")).toMatchObject({ start: { seen: 1, done: 0 }, remove: { seen: 1, done: 1 } });
      const pods = (await direct.list()).filter((c) => Number(c.labels[LABELS.pod]!.slice(4)) > 10);
      expect(pods.map((c) => [c.labels[LABELS.pod], c.state])).toEqual([
        ["web-11", "running"],
        ["web-13", "running"],
        ["web-14", "running"],
      ]);
    } finally {
      proxy.setMode({ kind: "pass" });
      await rt.close();
    }
  });

  it("makes a read again in place when it fails fast, so an engine failing every other read still lists whole", async () => {
    const rt = new DockerRuntime({ endpoint: proxy.endpoint, owner: OWNER, callTimeoutMs: 10_000 });
    proxy.resetCounts();
    try {
      const expected = (await direct.list()).map((c) => c.id);
      expect(expected.length).toBeGreaterThan(2);
      // One list or inspect in two fails (the first of each path), alternately with a 500 and with a reset
      // after the engine answered; the next call on the same path gets through.
      proxy.setMode({ kind: "flaky", perPath: true, only: (method, p) => method === "GET" && (p === "/containers/json" || /^\/containers\/[^/]+\/json$/.test(p)) });
      for (let i = 0; i < 5; i++) expect((await rt.list()).map((c) => c.id)).toEqual(expected);
      const { injected500, injectedReset } = proxy.stats();
      expect(injected500).toBeGreaterThan(2);
      expect(injectedReset).toBeGreaterThan(2);
    } finally {
      proxy.setMode({ kind: "pass" });
      await rt.close();
    }
  });
});
