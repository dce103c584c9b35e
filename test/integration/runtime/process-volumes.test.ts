/**
 * ProcessRuntime volumes on this machine: a program finds its mounts below $COXSWAIN_MOUNT_ROOT (its
 * container directory and default working directory), configMap/secret files with their modes and a subPath
 * file, an emptyDir shared by a pod's two containers and removed with the pod's last one.
 */
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { LABELS } from "../../../operator/src/runtime/labels.js";
import { ProcessRuntime } from "../../../operator/src/runtime/process/index.js";
import type { ContainerLaunch, LaunchVolume } from "../../../operator/src/runtime/types.js";

const OWNER = "coxswain-test-volumes";
const b64 = (text: string): string => Buffer.from(text, "utf8").toString("base64");

describe("ProcessRuntime volumes", () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  async function runtime(): Promise<{ rt: ProcessRuntime; stateDir: string }> {
    const stateDir = await mkdtemp(join(tmpdir(), "cx-process-volumes-"));
    const rt = new ProcessRuntime({ stateDir, owner: OWNER });
    cleanups.push(async () => {
      for (const c of await rt.list()) await rt.remove(c.id);
      await rt.close();
      await rm(stateDir, { recursive: true, force: true });
    });
    return { rt, stateDir };
  }

  function launch(pod: string, container: string, overrides: Partial<ContainerLaunch>): ContainerLaunch {
    return {
      runtimeName: `cx_test_${pod}_${container}`,
      image: "ignored",
      command: ["sleep", "600"],
      env: {},
      network: "host",
      ports: [],
      limits: {},
      labels: { [LABELS.owner]: OWNER, [LABELS.pod]: pod },
      ...overrides,
    };
  }

  it("puts configMap and secret files below the mount root with their modes, and a subPath file", async () => {
    const { rt } = await runtime();
    const config: LaunchVolume = {
      name: "config",
      type: "files",
      files: [
        { path: "app.conf", mode: 0o644, data: b64("color=blue\n") },
        { path: "keys/key.pem", mode: 0o400, data: b64("SECRET-BYTES") },
      ],
    };
    const c = await rt.run(
      launch("files-1", "app", {
        volumes: [config],
        mounts: [
          { volume: "config", mountPath: "/etc/app", readOnly: true },
          { volume: "config", mountPath: "/etc/single/app.conf", readOnly: true, subPath: "app.conf" },
        ],
      }),
    );
    const read = await rt.exec(c.id, ["sh", "-c", 'cat "$COXSWAIN_MOUNT_ROOT/etc/app/app.conf" etc/app/keys/key.pem; echo; cat etc/single/app.conf; stat -L -c "%a" etc/app/app.conf etc/app/keys/key.pem'], 10_000);
    expect(read).toEqual({ exitCode: 0, output: "color=blue\nSECRET-BYTES\ncolor=blue\n644\n400\n" });
  });

  it("shares an emptyDir between a pod's containers and removes it with the last one", async () => {
    const { rt, stateDir } = await runtime();
    const data: LaunchVolume = { name: "data", type: "emptyDir" };
    const a = await rt.run(launch("empty-1", "a", { volumes: [data], mounts: [{ volume: "data", mountPath: "/data", readOnly: false }] }));
    const b = await rt.run(launch("empty-1", "b", { volumes: [data], mounts: [{ volume: "data", mountPath: "/shared", readOnly: false, subPath: "sub" }] }));
    expect(await rt.exec(a.id, ["sh", "-c", "mkdir -p data/sub && echo hello > data/sub/greeting"], 10_000)).toEqual({ exitCode: 0, output: "" });
    expect(await rt.exec(b.id, ["sh", "-c", 'cat "$COXSWAIN_MOUNT_ROOT/shared/greeting"'], 10_000)).toEqual({ exitCode: 0, output: "hello\n" });
    const podDir = join(stateDir, "process", "pods", "cx_test_empty-1", "data");
    await rt.remove(a.id);
    expect((await stat(podDir)).isDirectory()).toBe(true);
    await rt.remove(b.id);
    await expect(stat(podDir)).rejects.toThrow(/ENOENT/);
  });
});
