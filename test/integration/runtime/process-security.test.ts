/**
 * securityContext on the process runtime (real processes): a setting a local process of the operator
 * already meets runs, one it cannot have is SecurityContextUnmet before anything is created — never a
 * container that silently lacks it.
 */
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { LABELS } from "../../../operator/src/runtime/labels.js";
import { ProcessRuntime } from "../../../operator/src/runtime/process/index.js";
import type { ContainerLaunch, LaunchSecurity } from "../../../operator/src/runtime/types.js";
import { coxErrorOf } from "../../support/errors.js";

const OWNER = "coxswain-security-test";

describe("the process runtime with a securityContext", () => {
  let stateDir: string | undefined;
  let rt: ProcessRuntime | undefined;

  afterEach(async () => {
    for (const c of (await rt?.list()) ?? []) await rt!.remove(c.id);
    await rt?.close();
    if (stateDir) await rm(stateDir, { recursive: true, force: true });
  });

  async function setUp(): Promise<ProcessRuntime> {
    stateDir = await mkdtemp(join(tmpdir(), "cx-process-security-"));
    rt = new ProcessRuntime({ stateDir, owner: OWNER });
    return rt;
  }

  function launch(name: string, security: LaunchSecurity): ContainerLaunch {
    return { runtimeName: name, image: "ignored:latest", command: ["sleep", "300"], env: {}, network: "host", ports: [], limits: {}, labels: { [LABELS.owner]: OWNER, [LABELS.pod]: name }, security };
  }

  it.each<[string, LaunchSecurity]>([
    ["a read-only root filesystem", { readOnlyRootFilesystem: true }],
    ["no-new-privileges", { noNewPrivileges: true }],
    ["dropped capabilities", { capDrop: ["ALL"] }],
    ["the engine's default seccomp profile", { seccomp: "RuntimeDefault" }],
    ["another user than the operator's", { runAsUser: (process.getuid?.() ?? 0) + 1 }],
  ])("refuses %s with SecurityContextUnmet and starts nothing", async (_, security) => {
    const r = await setUp();
    const err = await coxErrorOf(r.run(launch("cx_default_locked_app", security)));
    expect(err.code).toBe("SecurityContextUnmet");
    expect(await r.list()).toEqual([]);
    expect((await readdir(join(stateDir!, "process")).catch(() => [] as string[])).filter((n) => n.endsWith(".json"))).toEqual([]);
  });

  it("runs what a local process of the operator already is: its own uid and gid, the node's namespaces", async () => {
    const r = await setUp();
    const c = await r.run(launch("cx_default_own_app", { runAsUser: process.getuid!(), runAsGroup: process.getgid!(), hostPID: true, hostIPC: true, seccomp: "Unconfined" }));
    expect(c.state).toBe("running");
  });
});
