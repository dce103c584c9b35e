/**
 * examples-repo runs unchanged under both runtimes: as local processes (the embedded default when no
 * Docker engine answers) and on a Docker engine (with the image `coxswain quickstart` builds from the
 * host's Node.js). Each time: 2 ready replicas answer with the ConfigMap's message; changing the
 * ConfigMap rolls the Deployment to the new message.
 */
import { cp, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureExampleImage } from "../../operator/src/cli/quickstart.js";
import { ProcessRuntime } from "../../operator/src/runtime/process/index.js";
import { requireDocker, startFleet, type TestFleet } from "../support/docker-fleet.js";
import { makeRepo, runGit, tempDir, type TestRepo } from "../support/git-repo.js";
import { buildProxyImage, TEST_PROXY_IMAGE } from "../support/images.js";
import { httpGet } from "../support/observe.js";
import { startOperatorProcess, stopNodeProxies, type OperatorProcess } from "../support/operator-process.js";
import { waitFor } from "../support/wait.js";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const HAS_DOCKER = requireDocker("e2e examples-repo on Docker");

/** The endpoints of the demo/hello pods that the status branch says are ready. */
async function readyEndpoints(repo: TestRepo): Promise<number[]> {
  const text = await runGit(["show", "coxswain/status:workloads/demo/deployment-hello.yaml"], { cwd: repo.dir }).catch(() => "");
  const ports: number[] = [];
  // pods: - name, node, revision, ready, endpoints: [http=127.0.0.1:PORT]
  for (const block of text.split(/\n\s+- name: /).slice(1)) {
    if (!/ready: true/.test(block)) continue;
    const m = /http=127\.0\.0\.1:(\d+)/.exec(block);
    if (m) ports.push(Number(m[1]));
  }
  return ports;
}

async function serves(repo: TestRepo, message: string): Promise<boolean> {
  const ports = await readyEndpoints(repo);
  if (ports.length !== 2) return false;
  const bodies = await Promise.all(ports.map((p) => httpGet(p, "/")));
  return bodies.every((b) => b?.startsWith(message));
}

function scenario(runtime: "process" | "docker", setup: () => Promise<Record<string, string>>, teardown: () => Promise<void>, portRange: string, extraArgs: string[] = []) {
  let repo: TestRepo;
  let stateDir: string;
  let op: OperatorProcess | undefined;
  let env: Record<string, string>;

  beforeAll(async () => {
    env = await setup();
    repo = await makeRepo();
    await cp(path.join(ROOT, "examples-repo"), repo.dir, { recursive: true });
    await repo.commit("examples-repo as shipped");
    stateDir = await tempDir(`coxswain-example-${runtime}-`);
  });

  afterAll(async () => {
    await op?.stop();
    if (stateDir) await stopNodeProxies(stateDir);
    if (runtime === "process" && stateDir) {
      // Processes outlive the operator by design: stop them through the runtime, as a restart would see them.
      const rt = new ProcessRuntime({ stateDir, owner: "coxswain" });
      for (const c of await rt.list()) await rt.remove(c.id);
      await rt.close();
    }
    await teardown();
    await repo?.cleanup();
    if (stateDir) await rm(stateDir, { recursive: true, force: true });
  });

  it(`runs 2 ready replicas answering with the ConfigMap's message (${runtime} runtime)`, async () => {
    op = startOperatorProcess(["run", "--repo", repo.dir, "--state-dir", stateDir, "--runtime", runtime, "--port-range", portRange, "--poll-interval", "300ms", ...extraArgs], env);
    await op.waitForLine(new RegExp(`default node runtime: ${runtime}`));
    await waitFor("2 pods serving the shipped message", () => serves(repo, "Hello from coxswain (pod hello-"), 120_000, 250);
  });

  it(`serves the Service at the URLs the operator prints: its own address and the node port (${runtime} runtime)`, async () => {
    const line = await op!.waitForLine(/Service demo\/hello:8080 is served on node local at /, 60_000);
    const urls = [...line.matchAll(/http:\/\/[0-9.]+:[0-9]+\//g)].map((m) => m[0]);
    expect(urls).toHaveLength(2);
    expect(urls.filter((u) => u.startsWith("http://127.77."))).toHaveLength(1); // its own address; the other is the node port
    for (const url of urls) {
      const { hostname, port } = new URL(url);
      const body = await waitFor(`${url} answering`, () => httpGet(Number(port), "/", 1000, hostname), 30_000);
      expect(body).toMatch(/^Hello from coxswain \(pod hello-/);
    }
  });

  it(`rolls the Deployment when the ConfigMap changes (${runtime} runtime)`, async () => {
    const file = path.join(repo.dir, "apps/hello/config.yaml");
    await writeFile(file, (await readFile(file, "utf8")).replace("Hello from coxswain", "Hello again"));
    await repo.commit("New greeting");
    await waitFor("2 pods serving the new message", () => serves(repo, "Hello again (pod hello-"), 120_000, 250);
  });
}

describe("examples-repo under the process runtime", () => {
  scenario(
    "process",
    async () => ({}),
    async () => undefined,
    "62000-62099",
  );
});

describe.skipIf(!HAS_DOCKER)("examples-repo on a Docker engine", () => {
  let fleet: TestFleet | undefined;
  scenario(
    "docker",
    async () => {
      fleet = await startFleet({ nodes: 1, name: "e2e-example" });
      const node = fleet.nodes[0]!;
      ensureExampleImage(node.endpoint, () => undefined);
      await buildProxyImage(node.socketPath);
      return { DOCKER_HOST: node.endpoint };
    },
    async () => {
      await fleet?.stop();
    },
    "62100-62199",
    // The official haproxy image cannot be pulled here: the local stand-in serves the Service.
    ["--proxy-image", TEST_PROXY_IMAGE],
  );
});
