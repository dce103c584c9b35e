/**
 * A gRPC readiness probe through the whole operator (real Git repository, manifest, controllers, the
 * fleet's kubelet, real HAProxy node proxies) on the process runtime: the pod's readiness follows the
 * grpc.health.v1 status its app reports. The process runtime, not Docker: the app is a grpc-js server
 * (test/support/grpc-health.ts) run with this repository's node_modules, which a test image would have to
 * carry (a Node image with @grpc/grpc-js built and loaded into a test engine); the probe code is the same
 * for both runtimes (it connects to the node's address and the pod's host port).
 */
import { rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { RunningOperator } from "../../../operator/src/sync/operator.js";
import { makeRepo, tempDir, type TestRepo } from "../../support/git-repo.js";
import { requireHaproxyAndRoot, startProcessOperator, stopProcessOperator } from "../../support/in-process-operator.js";
import { waitFor } from "../../support/wait.js";

const APP = fileURLToPath(new URL("./grpc-health-app.fixture.ts", import.meta.url));
const OWNER = "Deployment/default/rpc";
const enabled = requireHaproxyAndRoot("grpc probe");

function deployment(statusFile: string): string {
  return `apiVersion: apps/v1
kind: Deployment
metadata:
  name: rpc
spec:
  replicas: 1
  selector: { matchLabels: { app: rpc } }
  template:
    metadata: { labels: { app: rpc } }
    spec:
      terminationGracePeriodSeconds: 5
      containers:
        - name: app
          image: coxswain-test/grpc:v1
          command: ${JSON.stringify([process.execPath, "--import", "tsx", APP])}
          workingDir: ${JSON.stringify(process.cwd())}
          env: [{ name: STATUS_FILE, value: ${JSON.stringify(statusFile)} }]
          ports: [{ name: grpc, containerPort: 9000 }]
          readinessProbe:
            grpc: { port: 9000 }
            periodSeconds: 1
            timeoutSeconds: 2
            failureThreshold: 1
`;
}

describe.skipIf(!enabled)("gRPC readiness probe through the operator (process runtime)", () => {
  let repo: TestRepo;
  let stateDir: string;
  let dir: string;
  let op: RunningOperator | undefined;
  const lines: string[] = [];

  beforeEach(async () => {
    repo = await makeRepo();
    stateDir = await tempDir("coxswain-grpc-state-");
    dir = await tempDir("coxswain-grpc-app-");
  });

  afterEach(async () => {
    await stopProcessOperator(op, stateDir);
    op = undefined;
    await repo.cleanup();
    await rm(dir, { recursive: true, force: true });
  });

  it("the pod is ready exactly while its app reports SERVING", async () => {
    const statusFile = join(dir, "status");
    await writeFile(statusFile, "NOT_SERVING");
    await repo.write("rpc.yaml", deployment(statusFile));
    await repo.commit("rpc with a gRPC readiness probe");
    op = await startProcessOperator(repo, stateDir, { from: 63500, to: 63599 }, lines);
    const pod = () => op!.fleet.pods(OWNER)[0];

    // Running and probed, but NOT_SERVING: not ready, and the probe's message says why.
    const probed = await waitFor("the pod probed NOT_SERVING", () => (pod()?.message?.includes("NOT_SERVING") ? pod() : undefined), 60_000);
    expect(probed.ready).toBe(false);
    expect(probed.reason).toBe("NotReady");

    await writeFile(statusFile, "SERVING");
    await waitFor("the pod ready", () => pod()?.ready === true, 30_000);

    await writeFile(statusFile, "NOT_SERVING");
    const unready = await waitFor("the pod not ready again", () => (pod()?.ready === false ? pod() : undefined), 30_000);
    expect(unready.restartCount).toBe(0); // readiness never restarts
    expect(unready.message).toContain("NOT_SERVING");

    await writeFile(statusFile, "SERVING");
    await waitFor("the pod ready again", () => pod()?.ready === true, 30_000);
  }, 120_000);
});
