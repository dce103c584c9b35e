/**
 * securityContext on a real Docker engine (one dockerd of the test fleet, the busybox test images, which
 * run as root): a container runs as the uid:gid and groups asked, its root filesystem is read-only, its
 * dropped capabilities are gone and no-new-privileges is set (read from /proc/1/status of the container's
 * own process); runAsNonRoot with a root image is refused with SecurityContextUnmet and leaves nothing
 * behind; hostPID/hostIPC share the node's namespaces; privileged gives every capability (where the host
 * can grant them). Through the whole operator: privileged, hostPID and added capabilities are refused by
 * the default policy (PolicyDenied at file:line, the commit Invalid, nothing started) and what the policy
 * file allows runs; a runAsNonRoot pod of a root image is reported on its workload, not started.
 */
import Docker from "dockerode";
import { readFileSync } from "node:fs";
import { rm } from "node:fs/promises";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { parsePolicy } from "../../../operator/src/manifest/policy.js";
import { DockerRuntime } from "../../../operator/src/runtime/docker/index.js";
import { LABELS } from "../../../operator/src/runtime/labels.js";
import type { ContainerLaunch } from "../../../operator/src/runtime/types.js";
import type { CommitRecord } from "../../../operator/src/status/types.js";
import { startOperator, type OperatorOptions, type RunningOperator } from "../../../operator/src/sync/operator.js";
import { requireDocker, startFleet, type TestFleet } from "../../support/docker-fleet.js";
import { coxErrorOf } from "../../support/errors.js";
import { makeRepo, runGit, tempDir, type TestRepo } from "../../support/git-repo.js";
import { buildTestImages, TEST_IMAGES } from "../../support/images.js";
import { waitFor } from "../../support/wait.js";

const OWNER = "cx-test-security";
const enabled = requireDocker("docker securityContext");

/** Whether this host (where the fleet's engines run) has every capability in its bounding set, which a privileged container needs. */
const HOST_HAS_ALL_CAPS = (() => {
  const bnd = /^CapBnd:\s*([0-9a-f]+)$/m.exec(readFileSync("/proc/self/status", "utf8"))?.[1] ?? "0";
  const last = Number(readFileSync("/proc/sys/kernel/cap_last_cap", "utf8"));
  return BigInt(`0x${bnd}`) === (1n << BigInt(last + 1)) - 1n;
})();

/** One field of a /proc/<pid>/status text, e.g. "Uid" → "1000\t1000\t1000\t1000". */
function statusField(status: string, field: string): string {
  const m = new RegExp(`^${field}:\\s*(.*)$`, "m").exec(status);
  if (!m) throw new Error(`no ${field} in /proc status:\n${status}`);
  return m[1]!.trim();
}

describe.skipIf(!enabled)("securityContext on a real Docker engine", () => {
  let fleet: TestFleet;
  let rt: DockerRuntime;
  let raw: Docker;
  let seq = 0;

  function launch(overrides: Partial<ContainerLaunch> = {}): ContainerLaunch {
    const n = ++seq;
    return {
      runtimeName: `cx_test_security-${n}_app`,
      image: TEST_IMAGES.v1,
      command: ["sleep", "600"],
      env: {},
      network: "host",
      ports: [],
      limits: {},
      labels: { [LABELS.owner]: OWNER, [LABELS.pod]: `security-${n}`, [LABELS.specHash]: `spec-${n}` },
      ...overrides,
    };
  }

  /** /proc/1/status of a running container: its own process, not the exec's. */
  async function initStatus(id: string): Promise<string> {
    const r = await rt.exec(id, ["cat", "/proc/1/status"], 10_000);
    expect(r.exitCode).toBe(0);
    return r.output;
  }

  beforeAll(async () => {
    fleet = await startFleet({ nodes: 1, name: "security" });
    await buildTestImages(fleet.nodes[0]!.socketPath);
    raw = new Docker({ socketPath: fleet.nodes[0]!.socketPath });
    rt = new DockerRuntime({ endpoint: fleet.nodes[0]!.endpoint, owner: OWNER, nodeName: "node-1", callTimeoutMs: 20_000 });
  });

  afterAll(async () => {
    await rt?.close();
    await fleet?.stop();
  });

  it("runs the container as the uid, gid and supplemental groups asked, read-only, without dropped capabilities, with no-new-privileges", async () => {
    const c = await rt.run(launch({ security: { runAsUser: 1000, runAsGroup: 3000, supplementalGroups: [4000], readOnlyRootFilesystem: true, noNewPrivileges: true, capDrop: ["ALL"] } }));
    try {
      const status = await initStatus(c.id);
      expect(statusField(status, "Uid").split(/\s+/)).toEqual(["1000", "1000", "1000", "1000"]);
      expect(statusField(status, "Gid").split(/\s+/)).toEqual(["3000", "3000", "3000", "3000"]);
      expect(statusField(status, "Groups").split(/\s+/)).toContain("4000");
      expect(statusField(status, "CapEff")).toMatch(/^0+$/);
      expect(statusField(status, "CapBnd")).toMatch(/^0+$/);
      expect(statusField(status, "NoNewPrivs")).toBe("1");
      const write = await rt.exec(c.id, ["sh", "-c", "echo x > /www/written"], 10_000);
      expect(write.exitCode).not.toBe(0);
      expect(write.output).toMatch(/Read-only file system/);
    } finally {
      await rt.remove(c.id);
    }
  });

  it("leaves a container without securityContext as the engine makes it: root, writable, default capabilities", async () => {
    const c = await rt.run(launch());
    try {
      const status = await initStatus(c.id);
      expect(statusField(status, "Uid").split(/\s+/)[0]).toBe("0");
      expect(statusField(status, "CapEff")).not.toMatch(/^0+$/);
      expect(statusField(status, "NoNewPrivs")).toBe("0");
      expect((await rt.exec(c.id, ["sh", "-c", "echo x > /www/written"], 10_000)).exitCode).toBe(0);
    } finally {
      await rt.remove(c.id);
    }
  });

  it("drops one capability and adds another, by Kubernetes' names", async () => {
    const c = await rt.run(launch({ security: { capDrop: ["CHOWN"], capAdd: ["NET_ADMIN"] } }));
    try {
      const eff = BigInt(`0x${statusField(await initStatus(c.id), "CapEff")}`);
      const bit = (n: number) => (eff >> BigInt(n)) & 1n; // capability.h: CHOWN 0, NET_ADMIN 12
      expect([bit(0), bit(12)]).toEqual([0n, 1n]);
    } finally {
      await rt.remove(c.id);
    }
  });

  it("refuses runAsNonRoot for an image that runs as root with SecurityContextUnmet, creating nothing", async () => {
    const l = launch({ security: { runAsNonRoot: true } });
    const err = await coxErrorOf(rt.run(l));
    expect(err.code).toBe("SecurityContextUnmet");
    expect(err.retry).toBe("stalled");
    expect((await raw.listContainers({ all: true, filters: { name: [l.runtimeName] } })).length).toBe(0);
  });

  it("runs runAsNonRoot with a non-zero runAsUser on the same image", async () => {
    const c = await rt.run(launch({ security: { runAsNonRoot: true, runAsUser: 65534 } }));
    try {
      expect(statusField(await initStatus(c.id), "Uid").split(/\s+/)[0]).toBe("65534");
    } finally {
      await rt.remove(c.id);
    }
  });

  it("shares the node's process and IPC namespaces", async () => {
    const c = await rt.run(launch({ security: { hostPID: true, hostIPC: true } }));
    try {
      const info = await raw.getContainer(c.id).inspect();
      expect([info.HostConfig.PidMode, info.HostConfig.IpcMode]).toEqual(["host", "host"]);
      // In the node's process namespace, pid 1 is the host's init, not the container's sleep.
      expect((await rt.exec(c.id, ["cat", "/proc/1/comm"], 10_000)).output.trim()).not.toBe("sleep");
    } finally {
      await rt.remove(c.id);
    }
  });

  it("runs privileged with every capability, where the engine can grant them all", async () => {
    // A privileged container gets every capability the engine knows. An engine that itself lacks one in
    // its bounding set (a sandbox; this test's CI lacks CAP_SYS_RESOURCE) cannot start it: runc says so.
    if (!HOST_HAS_ALL_CAPS) {
      const err = await coxErrorOf(rt.run(launch({ security: { privileged: true } })));
      expect(err.code).toBe("RuntimeCallFailed");
      expect(err.message).toMatch(/apply caps/);
      return;
    }
    const c = await rt.run(launch({ security: { privileged: true } }));
    try {
      expect((await raw.getContainer(c.id).inspect()).HostConfig.Privileged).toBe(true);
      expect(await initStatus(c.id)).toMatch(/^CapEff:\s*0*1f+$/m);
    } finally {
      await rt.remove(c.id);
    }
  });
});

describe.skipIf(!enabled)("securityContext and the policy file through the operator on a real Docker engine", () => {
  let fleet: TestFleet;
  let raw: Docker;
  let repo: TestRepo;
  let stateDir: string;
  let op: RunningOperator | undefined;
  const savedDockerHost = process.env.DOCKER_HOST;

  beforeAll(async () => {
    fleet = await startFleet({ nodes: 1, name: "secop" });
    await buildTestImages(fleet.nodes[0]!.socketPath);
    raw = new Docker({ socketPath: fleet.nodes[0]!.socketPath });
    process.env.DOCKER_HOST = fleet.nodes[0]!.endpoint;
  });

  afterEach(async () => {
    await op?.stop();
    op = undefined;
    for (const c of await raw.listContainers({ all: true, filters: { label: [LABELS.owner] } })) await raw.getContainer(c.Id).remove({ force: true });
    await repo?.cleanup();
    if (stateDir) await rm(stateDir, { recursive: true, force: true });
  });

  afterAll(async () => {
    if (savedDockerHost === undefined) delete process.env.DOCKER_HOST;
    else process.env.DOCKER_HOST = savedDockerHost;
    await fleet?.stop();
  });

  async function start(extra: Partial<OperatorOptions> = {}): Promise<void> {
    const [from, to] = fleet.nodes[0]!.portRange.split("-").map(Number);
    op = await startOperator({ repo: repo.dir, stateDir, runtime: "docker", defaultPortRange: { from: from!, to: to! }, pollMs: 200, fleetPollMs: 200, statusDebounceMs: 50, ...extra });
  }

  async function show(path: string): Promise<string> {
    await op!.flushStatus();
    return runGit(["show", `coxswain/status:${path}`], { cwd: repo.dir }).catch(() => "");
  }

  const commitRecord = (oid: string) => show(`commits/${oid.slice(0, 2)}/${oid}.yaml`);

  /** The running containers of a workload, with their HostConfig. */
  async function containersOf(workload: string): Promise<Docker.ContainerInspectInfo[]> {
    const list = await raw.listContainers({ all: true, filters: { label: [`${LABELS.workload}=${workload}`] } });
    return Promise.all(list.map((c) => raw.getContainer(c.Id).inspect()));
  }

  function deployment(name: string, podSecurity: string, containerSecurity: string, pod: { hostPID?: boolean } = {}): string {
    return `apiVersion: apps/v1
kind: Deployment
metadata:
  name: ${name}
spec:
  replicas: 1
  selector:
    matchLabels: {app: ${name}}
  template:
    metadata:
      labels: {app: ${name}}
    spec:
      securityContext: ${podSecurity}
      hostPID: ${pod.hostPID === true}
      containers:
        - name: app
          image: ${TEST_IMAGES.v1}
          command: [sleep, "600"]
          securityContext: ${containerSecurity}
`;
  }

  it("refuses privileged, hostPID and added capabilities under the default policy (the commit Invalid, nothing started) and runs what the policy file allows", async () => {
    repo = await makeRepo();
    stateDir = await tempDir("coxswain-security-");
    await repo.write("agent.yaml", deployment("agent", "{}", "{capabilities: {add: [NET_ADMIN]}}", { hostPID: true }));
    await repo.write("debug.yaml", deployment("debug", "{}", "{privileged: true}"));
    const denied = await repo.commit("a node agent and a privileged debug pod");
    await start();
    await waitFor("the commit Invalid", async () => /^phase: Invalid/m.test(await commitRecord(denied)), 60_000);
    const errors = (parse(await commitRecord(denied)) as CommitRecord).errors.map((e) => `${e.code} ${e.file}:${e.line} ${e.field}`);
    expect(errors).toEqual([
      "PolicyDenied agent.yaml:14 spec.template.spec.hostPID",
      "PolicyDenied agent.yaml:19 spec.template.spec.containers[0].securityContext.capabilities.add[0]",
      "PolicyDenied debug.yaml:19 spec.template.spec.containers[0].securityContext.privileged",
    ]);
    expect([...(await containersOf("agent")), ...(await containersOf("debug"))]).toEqual([]);
    await op!.stop();
    op = undefined;

    // The policy allows the agent's namespace and capability, not privileged containers in "default".
    await start({ manifests: { policy: parsePolicy("namespaces:\n  default: {allowHostPID: true, allowedCapabilities: [NET_ADMIN]}\n", "policy.yaml") } });
    await repo.rm("debug.yaml");
    const allowed = await repo.commit("the agent alone, under a policy that allows it");
    await waitFor("the commit Succeeded", async () => /^phase: Succeeded/m.test(await commitRecord(allowed)), 90_000);
    const [c] = await containersOf("agent");
    expect(c?.State.Running).toBe(true);
    expect([c?.HostConfig.PidMode, c?.HostConfig.CapAdd]).toEqual(["host", ["NET_ADMIN"]]);

    await repo.write("debug.yaml", deployment("debug", "{}", "{privileged: true}"));
    const stillDenied = await repo.commit("the privileged debug pod again");
    await waitFor("the privileged pod's commit Invalid", async () => /^phase: Invalid/m.test(await commitRecord(stillDenied)), 60_000);
    expect((parse(await commitRecord(stillDenied)) as CommitRecord).errors.map((e) => e.code)).toEqual(["PolicyDenied"]);
  });

  it("reports a runAsNonRoot pod of a root image on its workload with SecurityContextUnmet and does not start it", async () => {
    repo = await makeRepo();
    stateDir = await tempDir("coxswain-security-");
    await repo.write("rootless.yaml", deployment("rootless", "{runAsNonRoot: true}", "{readOnlyRootFilesystem: true}"));
    await repo.commit("a runAsNonRoot Deployment of a root image");
    await start();
    await waitFor("the workload reports SecurityContextUnmet", async () => (await show("workloads/default/deployment-rootless.yaml")).includes("SecurityContextUnmet"), 60_000);
    expect(await containersOf("rootless")).toEqual([]);
  });
});
