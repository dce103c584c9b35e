/**
 * DockerRuntime volumes against a real Docker engine: files of a configMap/secret volume at the mount path
 * with their modes, a subPath mount of one file (also into a read-only root filesystem), read-only mounts refusing writes (the container runs as
 * root, so only the mount can refuse), an emptyDir shared by two containers of a pod and removed with the
 * pod's last container, a Memory emptyDir that is a tmpfs of sizeLimit, a claim's volume that outlives its
 * containers (listed, labelled, removed on demand only when unused), and a missing hostPath File refused.
 */
import Docker from "dockerode";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DockerRuntime } from "../../../operator/src/runtime/docker/index.js";
import { LABELS } from "../../../operator/src/runtime/labels.js";
import type { ContainerLaunch, LaunchVolume } from "../../../operator/src/runtime/types.js";
import { requireDocker, startFleet, type TestFleet } from "../../support/docker-fleet.js";
import { buildTestImages, TEST_IMAGES } from "../../support/images.js";

const OWNER = "cx-test-volumes";
const enabled = requireDocker("docker volumes");

const b64 = (text: string): string => Buffer.from(text, "utf8").toString("base64");

describe.skipIf(!enabled)("DockerRuntime volumes on a real engine", () => {
  let fleet: TestFleet;
  let rt: DockerRuntime;
  let raw: Docker;

  function launch(pod: string, container: string, overrides: Partial<ContainerLaunch>): ContainerLaunch {
    return {
      runtimeName: `cx_test_${pod}_${container}`,
      image: TEST_IMAGES.v1,
      command: ["sleep", "600"],
      env: {},
      network: "host",
      ports: [],
      limits: {},
      labels: { [LABELS.owner]: OWNER, [LABELS.pod]: pod, [LABELS.specHash]: `${pod}-${container}` },
      ...overrides,
    };
  }

  async function sh(id: string, script: string): Promise<{ exitCode: number; output: string }> {
    const r = await rt.exec(id, ["sh", "-c", script], 10_000);
    return { exitCode: r.exitCode, output: r.output };
  }

  async function volumeNames(): Promise<string[]> {
    const { Volumes } = await raw.listVolumes();
    return (Volumes ?? [])
      .map((v) => v.Name)
      .filter((n) => n.startsWith("cx_test_"))
      .sort();
  }

  beforeAll(async () => {
    fleet = await startFleet({ nodes: 1, name: "volumes" });
    await buildTestImages(fleet.nodes[0]!.socketPath);
    raw = new Docker({ socketPath: fleet.nodes[0]!.socketPath });
    rt = new DockerRuntime({ endpoint: fleet.nodes[0]!.endpoint, owner: OWNER, nodeName: "node-1", callTimeoutMs: 20_000 });
  });

  afterAll(async () => {
    await rt?.close();
    await fleet?.stop();
  });

  it("puts a files volume's files at the mount path with their modes, read-only, and one file by subPath", async () => {
    const config: LaunchVolume = {
      name: "config",
      type: "files",
      files: [
        { path: "app.conf", mode: 0o644, data: b64("color=blue\n") },
        { path: "nested/deep/key.pem", mode: 0o400, data: b64("SECRET-BYTES") },
      ],
    };
    const c = await rt.run(
      launch("files-1", "app", {
        volumes: [config],
        mounts: [
          { volume: "config", mountPath: "/etc/app", readOnly: false },
          { volume: "config", mountPath: "/etc/single/app.conf", readOnly: true, subPath: "app.conf" },
        ],
      }),
    );
    expect(await sh(c.id, "cat /etc/app/app.conf /etc/app/nested/deep/key.pem")).toEqual({ exitCode: 0, output: "color=blue\nSECRET-BYTES" });
    expect(await sh(c.id, "stat -c '%a %n' /etc/app/app.conf /etc/app/nested/deep/key.pem")).toEqual({
      exitCode: 0,
      output: "644 /etc/app/app.conf\n400 /etc/app/nested/deep/key.pem\n",
    });
    expect(await sh(c.id, "cat /etc/single/app.conf")).toEqual({ exitCode: 0, output: "color=blue\n" });
    // configMap and secret volumes are read-only even without readOnly (as in Kubernetes): root cannot write.
    const write = await sh(c.id, "echo x > /etc/app/app.conf; echo x > /etc/app/new; echo x > /etc/single/app.conf");
    expect(write.exitCode).not.toBe(0);
    expect(write.output).toMatch(/Read-only file system/);
    expect(await sh(c.id, "cat /etc/app/app.conf /etc/single/app.conf")).toEqual({ exitCode: 0, output: "color=blue\ncolor=blue\n" });
    expect(await volumeNames()).toEqual(["cx_test_files-1_app_config"]);
    await rt.remove(c.id);
    expect(await volumeNames()).toEqual([]);
    // No fill container is left behind.
    expect((await raw.listContainers({ all: true })).map((x) => x.Names[0])).not.toContain("/cx_test_files-1_app-fill");
  });

  it("mounts a subPath file into a container whose root filesystem is read-only, as the file itself (no link in the container)", async () => {
    const config: LaunchVolume = { name: "config", type: "files", files: [{ path: "nginx.conf", mode: 0o644, data: b64("worker_processes 1;\n") }] };
    const c = await rt.run(
      launch("ro-root-1", "app", {
        volumes: [config],
        mounts: [{ volume: "config", mountPath: "/etc/nginx/nginx.conf", readOnly: true, subPath: "nginx.conf" }],
        security: { readOnlyRootFilesystem: true },
      }),
    );
    expect(await sh(c.id, "cat /etc/nginx/nginx.conf")).toEqual({ exitCode: 0, output: "worker_processes 1;\n" });
    expect((await sh(c.id, "test -L /etc/nginx/nginx.conf")).exitCode).not.toBe(0);
    const write = await sh(c.id, "echo x > /etc/nginx/nginx.conf; echo x > /root-file");
    expect(write.output).toMatch(/Read-only file system/);
    expect(await volumeNames()).toEqual(["cx_test_ro-root-1_app_config"]);
    await rt.remove(c.id);
    expect(await volumeNames()).toEqual([]);
  });

  it("shares an emptyDir between a pod's containers, honours readOnly, and removes it with the last container", async () => {
    const data: LaunchVolume = { name: "data", type: "emptyDir" };
    const writer = await rt.run(launch("empty-1", "writer", { volumes: [data], mounts: [{ volume: "data", mountPath: "/data", readOnly: false }] }));
    const reader = await rt.run(
      launch("empty-1", "reader", {
        volumes: [data],
        mounts: [
          { volume: "data", mountPath: "/data", readOnly: true },
          { volume: "data", mountPath: "/sub", readOnly: false, subPath: "part/one" },
        ],
      }),
    );
    expect(await sh(writer.id, "stat -c %a /data && echo hello > /data/greeting")).toEqual({ exitCode: 0, output: "777\n" });
    expect(await sh(reader.id, "cat /data/greeting")).toEqual({ exitCode: 0, output: "hello\n" });
    const write = await sh(reader.id, "echo x > /data/other");
    expect(write.exitCode).not.toBe(0);
    expect(write.output).toMatch(/Read-only file system/);
    expect(await sh(reader.id, "echo via-subpath > /sub/file")).toEqual({ exitCode: 0, output: "" });
    expect(await sh(writer.id, "cat /data/part/one/file")).toEqual({ exitCode: 0, output: "via-subpath\n" });
    await rt.remove(writer.id);
    expect(await volumeNames()).toEqual(["cx_test_empty-1_data"]);
    await rt.remove(reader.id);
    expect(await volumeNames()).toEqual([]);
  });

  it("makes a Memory emptyDir a tmpfs of its sizeLimit", async () => {
    const c = await rt.run(
      launch("memory-1", "app", {
        volumes: [{ name: "cache", type: "emptyDir", memory: { sizeBytes: 8 * 1024 * 1024 } }],
        mounts: [{ volume: "cache", mountPath: "/cache", readOnly: false }],
      }),
    );
    const mounts = await sh(c.id, "grep ' /cache ' /proc/mounts");
    expect(mounts.exitCode).toBe(0);
    expect(mounts.output).toMatch(/^tmpfs \/cache tmpfs rw\S*size=8192k/);
    expect(await sh(c.id, "echo hi > /cache/x && cat /cache/x")).toEqual({ exitCode: 0, output: "hi\n" });
    await rt.remove(c.id);
    expect(await volumeNames()).toEqual([]);
  });

  it("keeps a claim's volume after its containers (listed by claims()), refuses to remove it while in use, and removes it on demand", async () => {
    const data: LaunchVolume = { name: "data", type: "claim", claim: { name: "shop/db", readOnly: false } };
    const withClaim = (pod: string) =>
      launch(pod, "app", { labels: { [LABELS.owner]: OWNER, [LABELS.pod]: pod, [LABELS.specHash]: pod, [LABELS.node]: "node-1" }, volumes: [data], mounts: [{ volume: "data", mountPath: "/data", readOnly: false }] });
    const first = await rt.run(withClaim("claim-1"));
    expect(await sh(first.id, "echo kept > /data/f && stat -c %a /data")).toEqual({ exitCode: 0, output: "777\n" });
    expect(await rt.claims()).toEqual([{ claim: "shop/db", volume: `cxclaim_${OWNER}_shop_db` }]);
    const { Labels } = await raw.getVolume(`cxclaim_${OWNER}_shop_db`).inspect();
    expect(Labels).toMatchObject({ [LABELS.owner]: OWNER, [LABELS.claim]: "shop/db", [LABELS.namespace]: "shop", [LABELS.node]: "node-1" });
    await expect(rt.removeClaim("shop/db")).rejects.toMatchObject({ code: "RuntimeCallFailed" });
    await rt.remove(first.id);
    expect(await rt.claims()).toHaveLength(1);
    const second = await rt.run(withClaim("claim-2"));
    expect(await sh(second.id, "cat /data/f")).toEqual({ exitCode: 0, output: "kept\n" });
    await rt.remove(second.id);
    await rt.removeClaim("shop/db");
    await rt.removeClaim("shop/db"); // missing is fine
    expect(await rt.claims()).toEqual([]);
  });

  it("refuses to start a container whose hostPath of type File is missing on the node", async () => {
    const missing: LaunchVolume = { name: "conf", type: "hostPath", hostPath: { path: "/nonexistent/coxswain-test.conf", type: "File" } };
    await expect(rt.run(launch("host-1", "app", { volumes: [missing], mounts: [{ volume: "conf", mountPath: "/etc/x.conf", readOnly: true }] }))).rejects.toMatchObject({
      code: "RuntimeCallFailed",
    });
  });
});
