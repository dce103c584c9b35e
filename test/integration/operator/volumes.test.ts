/**
 * configMap, secret and emptyDir volumes through the whole pipeline (real Git repository, manifests, graph,
 * controllers, status) on a real Docker engine: the container reads the ConfigMap's and the Secret's files at
 * their mount paths with their modes, items and subPath put one key where asked, a readOnly mount refuses
 * writes, a Memory emptyDir is a tmpfs of its sizeLimit, and a changed ConfigMap rolls the Deployment so that
 * the new container reads the new file. The Secret's value never reaches the status branch or the notes.
 * (The same on the process runtime: the second describe.)
 */
import { rm } from "node:fs/promises";
import Docker from "dockerode";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FakeProxy } from "../../../operator/src/runtime/fake/index.js";
import { DockerRuntime } from "../../../operator/src/runtime/docker/index.js";
import { LABELS } from "../../../operator/src/runtime/labels.js";
import { ProcessRuntime } from "../../../operator/src/runtime/process/index.js";
import type { NodeRuntime, ObservedContainer } from "../../../operator/src/runtime/types.js";
import { startOperator, type RunningOperator } from "../../../operator/src/sync/operator.js";
import { requireDocker, startFleet, type TestFleet } from "../../support/docker-fleet.js";
import { makeRepo, runGit, tempDir, type TestRepo } from "../../support/git-repo.js";
import { buildTestImages, TEST_IMAGES } from "../../support/images.js";
import { findSecrets, gitWritten } from "../../support/secret-scan.js";
import { waitFor } from "../../support/wait.js";

const INSTANCE = "cx-volumes-test";
const SECRET_VALUE = "s3cr3t-volume-value";
const enabled = requireDocker("operator volumes");

function manifests(color: string, image: string): string {
  const b64 = Buffer.from(SECRET_VALUE, "utf8").toString("base64");
  return `apiVersion: v1
kind: ConfigMap
metadata:
  name: web-config
data:
  app.conf: "color=${color}\\n"
  other.conf: "unused\\n"
---
apiVersion: v1
kind: Secret
metadata:
  name: web-secret
data:
  password: ${b64}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 1
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      terminationGracePeriodSeconds: 1
      volumes:
        - name: config
          configMap:
            name: web-config
            items:
              - {key: app.conf, path: conf/app.conf, mode: 0o640}
        - name: secret
          secret: {secretName: web-secret, defaultMode: 0o400}
        - name: scratch
          emptyDir: {}
        - name: cache
          emptyDir: {medium: Memory, sizeLimit: 16Mi}
      containers:
        - name: app
          image: ${image}
          command: [sleep, "3600"]
          volumeMounts:
            - {name: config, mountPath: /etc/web}
            - {name: config, mountPath: /etc/app.conf, subPath: conf/app.conf}
            - {name: secret, mountPath: /etc/secret}
            - {name: scratch, mountPath: /scratch}
            - {name: scratch, mountPath: /scratch-ro, readOnly: true}
            - {name: cache, mountPath: /cache}
`;
}

/** The status branch and the notes, every version of every file. */
async function runningApp(rt: NodeRuntime, notRevision?: string): Promise<ObservedContainer> {
  return waitFor(
    "a running app container of a new revision",
    async () => {
      const all = await rt.list();
      const running = all.filter((c) => c.state === "running" && c.labels[LABELS.revision] !== notRevision);
      // Once the old pod is gone too: one pod of the wanted revision only.
      return running.length === 1 && all.length === 1 ? running[0] : undefined;
    },
    60_000,
  );
}

describe.skipIf(!enabled)("volumes through the operator on a real Docker engine", () => {
  let fleet: TestFleet;
  let repo: TestRepo;
  let stateDir: string;
  let op: RunningOperator | undefined;
  let rt: DockerRuntime;

  beforeAll(async () => {
    fleet = await startFleet({ nodes: 1, name: "op-volumes" });
    await buildTestImages(fleet.nodes[0]!.socketPath);
    repo = await makeRepo();
    stateDir = await tempDir("coxswain-state-");
    rt = new DockerRuntime({ endpoint: fleet.nodes[0]!.endpoint, owner: INSTANCE, nodeName: "local" });
    const [from, to] = fleet.nodes[0]!.portRange.split("-").map(Number) as [number, number];
    await repo.write("web.yaml", manifests("blue", TEST_IMAGES.v1));
    await repo.commit("web with volumes");
    op = await startOperator({
      repo: repo.dir,
      stateDir,
      instance: INSTANCE,
      pollMs: 200,
      fleetPollMs: 200,
      statusDebounceMs: 50,
      defaultPortRange: { from, to },
      runtimeFactory: () => new DockerRuntime({ endpoint: fleet.nodes[0]!.endpoint, owner: INSTANCE, nodeName: "local", callTimeoutMs: 30_000 }),
      proxyFactory: () => new FakeProxy(),
    });
  }, 120_000);

  afterAll(async () => {
    await op?.stop();
    await rt?.close();
    await repo?.cleanup();
    if (stateDir) await rm(stateDir, { recursive: true, force: true });
    await fleet?.stop();
  });

  const sh = async (id: string, script: string) => {
    const r = await rt.exec(id, ["sh", "-c", script], 10_000);
    return { exitCode: r.exitCode, output: r.output };
  };

  it("puts the files where the mounts say, with their modes, read-only where asked, a Memory emptyDir as a tmpfs", async () => {
    const c = await runningApp(rt);
    expect(await sh(c.id, "cat /etc/web/conf/app.conf /etc/app.conf /etc/secret/password; ls /etc/web")).toEqual({
      exitCode: 0,
      output: `color=blue\ncolor=blue\n${SECRET_VALUE}conf\n`,
    });
    expect(await sh(c.id, "stat -c '%a %n' /etc/web/conf/app.conf /etc/secret/password")).toEqual({
      exitCode: 0,
      output: "640 /etc/web/conf/app.conf\n400 /etc/secret/password\n",
    });
    expect(await sh(c.id, "echo hi > /scratch/x && cat /scratch-ro/x")).toEqual({ exitCode: 0, output: "hi\n" });
    for (const path of ["/scratch-ro/y", "/etc/web/new", "/etc/secret/password"]) {
      const write = await sh(c.id, `echo x > ${path}`);
      expect(write.exitCode, path).not.toBe(0);
      expect(write.output, path).toMatch(/Read-only file system/);
    }
    expect((await sh(c.id, "grep ' /cache ' /proc/mounts")).output).toMatch(/^tmpfs \/cache tmpfs rw\S*size=16384k/);
  }, 90_000);

  it("rolls the Deployment when the ConfigMap changes, and the new container reads the new file", async () => {
    const before = await runningApp(rt);
    await repo.write("web.yaml", manifests("green", TEST_IMAGES.v1));
    await repo.commit("green");
    const after = await runningApp(rt, before.labels[LABELS.revision]);
    expect(await sh(after.id, "cat /etc/app.conf /etc/web/conf/app.conf")).toEqual({ exitCode: 0, output: "color=green\ncolor=green\n" });
    // The old pod's volumes went with it: only the new pod's remain.
    const podOf = (c: ObservedContainer) => c.labels[LABELS.pod]!;
    const volumes = await waitFor("the old pod's volumes removed", async () => {
      const names = (await fetchVolumes(fleet)).filter((n) => n.includes(podOf(before)));
      return names.length === 0 ? names : undefined;
    });
    expect(volumes).toEqual([]);
    await op!.flushStatus();
    const written = await gitWritten(repo.dir);
    expect(written.map((t) => t.text).join("\n")).toContain("Deployment/default/web");
    expect(findSecrets(written, [SECRET_VALUE])).toEqual([]);
  }, 120_000);
});

/** Names of the volumes on the fleet's engine. */
async function fetchVolumes(fleet: TestFleet): Promise<string[]> {
  const { Volumes } = await new Docker({ socketPath: fleet.nodes[0]!.socketPath }).listVolumes();
  return (Volumes ?? []).map((v) => v.Name);
}

describe("volumes through the operator on the process runtime", () => {
  let repo: TestRepo;
  let stateDir: string;
  let op: RunningOperator | undefined;
  let rt: ProcessRuntime;

  beforeAll(async () => {
    repo = await makeRepo();
    stateDir = await tempDir("coxswain-state-");
    rt = new ProcessRuntime({ stateDir, owner: INSTANCE });
    await repo.write(
      "web.yaml",
      manifests("blue", "ignored:v1")
        .replace(/\n {8}- name: cache\n {10}emptyDir: \{medium: Memory, sizeLimit: 16Mi\}/, "")
        .replace(/\n {12}- \{name: cache, mountPath: \/cache\}/, ""),
    );
    await repo.commit("web with volumes");
    op = await startOperator({
      repo: repo.dir,
      stateDir,
      instance: INSTANCE,
      pollMs: 200,
      fleetPollMs: 200,
      statusDebounceMs: 50,
      defaultPortRange: { from: 63400, to: 63499 },
      runtimeFactory: () => new ProcessRuntime({ stateDir, owner: INSTANCE }),
      proxyFactory: () => new FakeProxy(),
    });
  }, 60_000);

  afterAll(async () => {
    await op?.stop();
    for (const c of (await rt?.list()) ?? []) await rt.remove(c.id);
    await rt?.close();
    await repo?.cleanup();
    if (stateDir) await rm(stateDir, { recursive: true, force: true });
  });

  it("puts the files below the container's mount root, and rolls when the ConfigMap changes", async () => {
    const before = await runningApp(rt);
    const read = await rt.exec(before.id, ["sh", "-c", 'cd "$COXSWAIN_MOUNT_ROOT" && cat etc/web/conf/app.conf etc/app.conf etc/secret/password && stat -L -c %a etc/secret/password'], 10_000);
    expect(read).toEqual({ exitCode: 0, output: `color=blue\ncolor=blue\n${SECRET_VALUE}400\n` });
    await repo.write("web.yaml", (await runGit(["show", "HEAD:web.yaml"], { cwd: repo.dir })).replace("color=blue", "color=green"));
    await repo.commit("green");
    const after = await runningApp(rt, before.labels[LABELS.revision]);
    expect(await rt.exec(after.id, ["sh", "-c", "cat etc/app.conf"], 10_000)).toEqual({ exitCode: 0, output: "color=green\n" });
    await op!.flushStatus();
    const written = await gitWritten(repo.dir);
    expect(written.map((t) => t.text).join("\n")).toContain("Deployment/default/web");
    expect(findSecrets(written, [SECRET_VALUE])).toEqual([]);
  }, 90_000);
});
