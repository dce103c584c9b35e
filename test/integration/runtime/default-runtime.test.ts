/**
 * Which runtime the default node gets under `--runtime auto`, against real endpoints: no socket at all
 * (the process runtime, with a warning that says what it means), a real unix socket whose "engine" accepts
 * and never answers (Docker all the same: the node waits, nothing runs as a local process, and the pod
 * runs on the engine once one answers there; quickstart's docker CLI step fails instead of hanging), a real
 * dockerd (Docker, no warning), and DOCKER_HOST naming a tcp:// engine (RuntimeUndecided from the CLI,
 * nothing started).
 */
import { mkdir, readdir, rm, symlink, unlink } from "node:fs/promises";
import net from "node:net";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ensureExampleImage } from "../../../operator/src/cli/quickstart.js";
import { ProcessRuntime } from "../../../operator/src/runtime/process/index.js";
import { startOperator, type OperatorOptions, type RunningOperator } from "../../../operator/src/sync/operator.js";
import { requireDocker, startFleet, type TestFleet } from "../../support/docker-fleet.js";
import { makeRepo, tempDir, type TestRepo } from "../../support/git-repo.js";
import { codeOf } from "../../support/errors.js";
import { buildTestImages, TEST_IMAGES } from "../../support/images.js";
import { deploymentYaml } from "../../support/manifests.js";
import { FleetObserver } from "../../support/observe.js";
import { startOperatorProcess } from "../../support/operator-process.js";
import { waitFor } from "../../support/wait.js";
import { recordingLogger } from "../../support/log.js";

const HAS_DOCKER = requireDocker("default runtime");

let repo: TestRepo;
let stateDir: string;
let sockets: string;
let op: RunningOperator | undefined;
/** An operator still starting when a test ended (it must be stopped too, or it keeps the repository lock). */
let starting: Promise<RunningOperator> | undefined;
const lines: string[] = [];
const savedDockerHost = process.env.DOCKER_HOST;

beforeAll(async () => {
  repo = await makeRepo();
  stateDir = await tempDir("coxswain-default-runtime-");
  sockets = await tempDir("cx-sock-"); // short: a unix socket path must stay under 108 bytes
});

afterEach(async () => {
  await op?.stop();
  op = undefined;
  await (await starting?.catch(() => undefined))?.stop();
  starting = undefined;
  lines.length = 0;
  if (savedDockerHost === undefined) delete process.env.DOCKER_HOST;
  else process.env.DOCKER_HOST = savedDockerHost;
  // Process containers outlive the operator by design: remove them through the runtime.
  const rt = new ProcessRuntime({ stateDir, owner: "coxswain" });
  for (const c of await rt.list()) await rt.remove(c.id);
  await rt.close();
});

afterAll(async () => {
  await repo?.cleanup();
  await rm(stateDir, { recursive: true, force: true });
  await rm(sockets, { recursive: true, force: true });
});

/** The operator's lines, a warning (level warn) as "warning: <message>". */
const warningsMarked = recordingLogger((l) => lines.push(l.level === "warn" ? `warning: ${l.msg}` : l.msg));

function options(extra: Partial<OperatorOptions> = {}): OperatorOptions {
  return { repo: repo.dir, stateDir, pollMs: 200, fleetPollMs: 200, statusDebounceMs: 50, log: warningsMarked, ...extra };
}

async function processRecords(): Promise<string[]> {
  return (await readdir(path.join(stateDir, "process")).catch(() => [] as string[])).filter((n) => n.endsWith(".json"));
}

/** A unix socket that accepts connections and never answers: an engine hung after accept. */
async function hungEngine(socketPath: string): Promise<{ accepted: () => number; close: () => Promise<void> }> {
  const conns = new Set<net.Socket>();
  let accepted = 0;
  const server = net.createServer((c) => {
    accepted++;
    conns.add(c);
    c.on("close", () => conns.delete(c));
    c.on("error", () => undefined);
    c.resume(); // read the request, never write a byte
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(socketPath, resolve);
  });
  return {
    accepted: () => accepted,
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const c of conns) c.destroy();
      await closed;
    },
  };
}

describe("--runtime auto", () => {
  it("runs the process runtime when there is no Docker socket at all, and says what that means once", async () => {
    process.env.DOCKER_HOST = `unix://${path.join(sockets, "absent", "docker.sock")}`;
    await repo.write("web.yaml", deploymentYaml({ name: "web", replicas: 1, command: ["sleep", "300"], ports: false }));
    await repo.commit("web as a sleeping process");
    op = await startOperator(options({ runtime: "auto", defaultPortRange: { from: 62400, to: 62499 } }));
    expect(op.defaultRuntime).toBe("process");
    const warnings = lines.filter((l) => l.startsWith("warning: default node runtime: process"));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/no Docker socket at .*absent\/docker\.sock/);
    expect(warnings[0]).toMatch(/local processes with this operator's user and no isolation/);
    expect(warnings[0]).toMatch(/whoever can push to the followed branch runs commands on this host/);
    await waitFor("the pod running as a local process", async () => (await processRecords()).length === 1, 30_000);
  });
});

describe.skipIf(!HAS_DOCKER)("--runtime auto with a Docker socket", () => {
  let fleet: TestFleet;
  let observer: FleetObserver;

  beforeAll(async () => {
    fleet = await startFleet({ nodes: 1, name: "defrt" });
    await buildTestImages(fleet.nodes[0]!.socketPath);
    observer = new FleetObserver(fleet);
  });

  afterAll(async () => {
    await observer?.close();
    await fleet?.stop();
  });

  const portRange = (): { from: number; to: number } => {
    const [from, to] = fleet.nodes[0]!.portRange.split("-").map(Number);
    return { from: from!, to: to! };
  };

  it("never falls back to local processes when the engine on the socket does not answer: it waits, then runs the pod there", async () => {
    const socketPath = path.join(sockets, "hung.sock");
    const engine = await hungEngine(socketPath);
    try {
      process.env.DOCKER_HOST = `unix://${socketPath}`;
      await repo.write("web.yaml", deploymentYaml({ name: "waits", replicas: 1, image: TEST_IMAGES.v1 }));
      await repo.commit("a Deployment for the engine that comes back");
      starting = startOperator(options({ runtime: "auto", defaultPortRange: portRange() }));
      starting.catch(() => undefined); // awaited below; a rejection meanwhile must not go unhandled
      const warning = await waitFor("the warning about the silent engine", () => lines.find((l) => /^warning: default node runtime: docker, but the engine does not answer yet \(NodeUnreachable/.test(l)), 20_000);
      expect(warning).toMatch(/nothing runs as a local process meanwhile/);
      expect(engine.accepted()).toBeGreaterThan(0);

      // The engine comes back at the same path (a real dockerd behind it).
      await engine.close();
      await unlink(socketPath).catch(() => undefined);
      await symlink(fleet.nodes[0]!.socketPath, socketPath);
      op = await starting;
      starting = undefined;
      expect(op.defaultRuntime).toBe("docker");
      expect(lines.some((l) => l.startsWith("warning: default node runtime: process"))).toBe(false);
      await waitFor("the pod running on the Docker engine", async () => (await observer.containers()).some((c) => c.workload === "waits" && c.state === "running"), 60_000);
      expect(await processRecords()).toEqual([]);
    } finally {
      await engine.close();
      await rm(socketPath, { force: true });
    }
  });

  it("makes quickstart's image step an error, not a hang, when the engine does not answer", async () => {
    const socketPath = path.join(sockets, "hung-cli.sock");
    const engine = await hungEngine(socketPath);
    try {
      expect(codeOf(() => ensureExampleImage(`unix://${socketPath}`, () => undefined, 1_000))).toBe("NodeUnreachable");
    } finally {
      await engine.close();
      await rm(socketPath, { force: true });
    }
  });

  it("runs on a Docker engine that answers, without any warning", async () => {
    process.env.DOCKER_HOST = fleet.nodes[0]!.endpoint;
    await repo.write("web.yaml", deploymentYaml({ name: "answers", replicas: 1, image: TEST_IMAGES.v2 }));
    await repo.commit("a Deployment for the engine that answers");
    op = await startOperator(options({ runtime: "auto", defaultPortRange: portRange() }));
    expect(op.defaultRuntime).toBe("docker");
    expect(lines.filter((l) => l.startsWith("warning:"))).toEqual([]);
    await waitFor("the pod running on the engine", async () => (await observer.containers()).some((c) => c.workload === "answers" && c.state === "running"), 60_000);
    expect(await processRecords()).toEqual([]);
  });
});

describe("coxswain run --runtime auto with DOCKER_HOST naming a tcp:// engine", () => {
  it("exits with RuntimeUndecided before running anything", async () => {
    const dir = await tempDir("coxswain-undecided-");
    try {
      await mkdir(path.join(dir, "state"));
      const cli = startOperatorProcess(["run", "--repo", repo.dir, "--state-dir", path.join(dir, "state")], { DOCKER_HOST: "tcp://127.0.0.1:2376" });
      expect(await cli.exited).toBe(1);
      expect(cli.lines.join("\n")).toMatch(/^error RuntimeUndecided: /m);
      expect(await readdir(path.join(dir, "state", "process")).catch(() => [])).toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
