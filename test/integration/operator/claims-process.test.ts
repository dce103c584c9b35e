/**
 * PersistentVolumeClaims and hostPath volumes through the operator on the process runtime: a claim is a
 * directory below the runtime's state directory (<stateDir>/process/claims/<ns>/<name>) that outlives its
 * pods, so a replaced pod reads what the first one wrote; a hostPath volume is a link to the node's path
 * (DirectoryOrCreate makes it); removing the claim from Git keeps the directory unless the claim carried
 * coxswain.io/delete-data-on-removal: "true".
 */
import { readFile, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { parsePolicy } from "../../../operator/src/manifest/policy.js";
import { FakeProxy } from "../../../operator/src/runtime/fake/index.js";
import { LABELS } from "../../../operator/src/runtime/labels.js";
import { ProcessRuntime } from "../../../operator/src/runtime/process/index.js";
import type { ObservedContainer } from "../../../operator/src/runtime/types.js";
import type { RunningOperator } from "../../../operator/src/sync/operator.js";
import { startProcessOperator } from "../../support/in-process-operator.js";
import { makeRepo, runGit, tempDir, type TestRepo } from "../../support/git-repo.js";
import { waitFor } from "../../support/wait.js";

const INSTANCE = "cx-claims-process-test";

function manifests(version: string, hostDir: string, deleteData: boolean): string {
  return `apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: data
${deleteData ? '  annotations:\n    coxswain.io/delete-data-on-removal: "true"\n' : ""}spec:
  accessModes: [ReadWriteOnce]
  resources:
    requests: {storage: 1Gi}
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
        - name: data
          persistentVolumeClaim: {claimName: data}
        - name: host
          hostPath: {path: ${hostDir}/made, type: DirectoryOrCreate}
      containers:
        - name: app
          image: ignored:v1
          command: [sleep, "3600"]
          env:
            - {name: VERSION, value: "${version}"}
          volumeMounts:
            - {name: data, mountPath: /data}
            - {name: host, mountPath: /host}
`;
}

describe("claims and hostPath volumes through the operator on the process runtime", () => {
  let repo: TestRepo;
  let stateDir: string;
  let hostDir: string;
  let op: RunningOperator | undefined;
  let rt: ProcessRuntime;

  beforeAll(async () => {
    repo = await makeRepo();
    stateDir = await tempDir("coxswain-state-");
    hostDir = await tempDir("coxswain-hostpath-");
    rt = new ProcessRuntime({ stateDir, owner: INSTANCE });
    await repo.write("web.yaml", manifests("1", hostDir, false));
    await repo.commit("web with a claim and a hostPath");
    op = await startProcessOperator(repo, stateDir, { from: 63800, to: 63899 }, [], {
      instance: INSTANCE,
      runtimeFactory: () => new ProcessRuntime({ stateDir, owner: INSTANCE }),
      proxyFactory: () => new FakeProxy(),
      manifests: { policy: parsePolicy("namespaces:\n  default: {allowHostPath: true}\n", "policy.yaml") },
    });
  }, 60_000);

  afterAll(async () => {
    await op?.stop();
    for (const c of (await rt?.list()) ?? []) await rt.remove(c.id);
    await rt?.close();
    await repo?.cleanup();
    for (const d of [stateDir, hostDir]) if (d) await rm(d, { recursive: true, force: true });
  });

  async function runningWeb(notId?: string): Promise<ObservedContainer> {
    return waitFor(
      "one running web container",
      async () => {
        const all = (await rt.list()).filter((c) => c.labels[LABELS.workload] === "web");
        const running = all.filter((c) => c.state === "running" && c.id !== notId);
        return running.length === 1 && all.length === 1 ? running[0] : undefined;
      },
      60_000,
    );
  }

  const sh = (c: ObservedContainer, script: string) => rt.exec(c.id, ["sh", "-c", `cd "$COXSWAIN_MOUNT_ROOT" && ${script}`], 10_000);
  const claimDir = () => join(stateDir, "process", "claims", "default", "data");

  it("keeps the claim's directory across a pod replacement and links the host path", async () => {
    const first = await runningWeb();
    expect(await sh(first, "echo kept > data/file && echo host > host/h")).toEqual({ exitCode: 0, output: "" });
    expect(await readFile(join(claimDir(), "file"), "utf8")).toBe("kept\n");
    expect(await readFile(join(hostDir, "made", "h"), "utf8")).toBe("host\n");
    await repo.write("web.yaml", manifests("2", hostDir, false));
    await repo.commit("v2");
    const second = await runningWeb(first.id);
    expect(await sh(second, "cat data/file; echo $VERSION")).toEqual({ exitCode: 0, output: "kept\n2\n" });
    await op!.flushStatus();
    expect(parse(await runGit(["show", "coxswain/status:claims/default/data.yaml"], { cwd: repo.dir }))).toMatchObject({ phase: "Bound", volume: claimDir() });
  }, 90_000);

  it("keeps the directory of a removed claim, and removes it when the claim asked for that", async () => {
    await repo.rm("web.yaml");
    await repo.commit("remove web and its claim");
    await waitFor(
      "claim Released",
      async () => {
        await op!.flushStatus();
        const text = await runGit(["show", "coxswain/status:claims/default/data.yaml"], { cwd: repo.dir }).catch(() => "");
        return /phase: Released/.test(text) ? text : undefined;
      },
      60_000,
    );
    expect(await readFile(join(claimDir(), "file"), "utf8")).toBe("kept\n");

    // Back in Git with the annotation: bound to its data again; then removed, the data goes.
    await repo.write("web.yaml", manifests("3", hostDir, true));
    await repo.commit("web is back, its claim's data goes with it");
    const third = await runningWeb();
    expect(await sh(third, "cat data/file")).toEqual({ exitCode: 0, output: "kept\n" });
    await repo.rm("web.yaml");
    await repo.commit("remove web and its claim again");
    await waitFor("the claim's directory removed", async () => ((await stat(claimDir()).catch(() => undefined)) === undefined ? true : undefined), 60_000);
    // The node's path is never the operator's to remove.
    expect(await readFile(join(hostDir, "made", "h"), "utf8")).toBe("host\n");
  }, 120_000);
});
