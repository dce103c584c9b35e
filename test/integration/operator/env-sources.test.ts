/**
 * A container's environment from Secrets, ConfigMaps (envFrom), pod fields and resources, through the whole
 * operator in-process (real Git repository, manifest, graph, controllers, status) on a real Docker engine
 * (test/support/docker-fleet.ts): `env` run inside the container shows what Kubernetes would give it;
 * changing the Secret's value rolls the Deployment to a new revision whose container sees the new value;
 * and neither value is in any file of the status branch, a note, the log, or `coxswain plan --output json`.
 */
import { rm } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DockerRuntime } from "../../../operator/src/runtime/docker/index.js";
import { LABELS } from "../../../operator/src/runtime/labels.js";
import type { RunningOperator } from "../../../operator/src/sync/operator.js";
import { runCli } from "../../support/cli.js";
import { requireDocker, startFleet, type TestFleet } from "../../support/docker-fleet.js";
import { makeRepo, tempDir, type TestRepo } from "../../support/git-repo.js";
import { buildProxyImage, buildTestImages, TEST_IMAGES } from "../../support/images.js";
import { findSecrets, gitWritten, type ScannedText } from "../../support/secret-scan.js";
import { waitFor } from "../../support/wait.js";
import { startTestOperator } from "../../support/operator-fixture.js";

const HAS_DOCKER = requireDocker("env sources on Docker");

const FIRST_PASSWORD = "Xf93firstSecretQa";
const SECOND_PASSWORD = "Lm27secondSecretWb";
const API_TOKEN = "Tk55envFromSecretPz";

function manifests(password: string): string {
  return `apiVersion: v1
kind: Secret
metadata:
  name: db
stringData:
  password: ${password}
  API_TOKEN: ${API_TOKEN}
  1ST_KEY: not a variable name, so skipped
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  LEVEL: info
  MODE: fast
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
      labels: {app: web, tier: front}
    spec:
      containers:
        - name: app
          image: ${TEST_IMAGES.v1}
          command: [sleep, "100000"]
          resources:
            requests: {memory: 32Mi}
            limits: {cpu: 500m}
          envFrom:
            - prefix: CFG_
              configMapRef: {name: settings}
            - secretRef: {name: db}
          env:
            - name: CFG_MODE
              value: slow
            - name: PASSWORD
              valueFrom: {secretKeyRef: {name: db, key: password}}
            - name: POD_NAME
              valueFrom: {fieldRef: {fieldPath: metadata.name}}
            - name: POD_NAMESPACE
              valueFrom: {fieldRef: {fieldPath: metadata.namespace}}
            - name: TIER
              valueFrom: {fieldRef: {fieldPath: "metadata.labels['tier']"}}
            - name: NODE_NAME
              valueFrom: {fieldRef: {fieldPath: spec.nodeName}}
            - name: HOST_IP
              valueFrom: {fieldRef: {fieldPath: status.hostIP}}
            - name: POD_IP
              valueFrom: {fieldRef: {fieldPath: status.podIP}}
            - name: CPU_LIMIT_MILLIS
              valueFrom: {resourceFieldRef: {resource: limits.cpu, divisor: 1m}}
            - name: MEMORY_REQUEST_MI
              valueFrom: {resourceFieldRef: {resource: requests.memory, divisor: 1Mi}}
            - name: MEMORY_LIMIT_MI
              valueFrom: {resourceFieldRef: {containerName: app, resource: limits.memory, divisor: 1Mi}}
`;
}

describe.skipIf(!HAS_DOCKER)("env from Secrets, ConfigMaps, pod fields and resources (Docker)", () => {
  const ctx = {} as { fleet: TestFleet; repo: TestRepo; stateDir: string; engine: DockerRuntime; op?: RunningOperator };
  const lines: string[] = [];

  beforeAll(async () => {
    ctx.fleet = await startFleet({ nodes: 1, name: "env-sources" });
    const node = ctx.fleet.nodes[0]!;
    await Promise.all([buildTestImages(node.socketPath), buildProxyImage(node.socketPath)]);
    ctx.engine = new DockerRuntime({ endpoint: node.endpoint, owner: "coxswain", nodeName: node.name });
    ctx.repo = await makeRepo();
    ctx.stateDir = await tempDir("coxswain-env-sources-");
    await ctx.repo.write("fleet/nodes.yaml", ctx.fleet.nodeManifests());
  });
  afterAll(async () => {
    await ctx.op?.stop();
    await ctx.engine?.close();
    await ctx.fleet?.stop();
    await ctx.repo?.cleanup();
    if (ctx.stateDir) await rm(ctx.stateDir, { recursive: true, force: true });
  });

  /** The running container of web whose environment holds PASSWORD=`password`: its env and revision. */
  async function webWith(password: string): Promise<{ env: Record<string, string>; revision: string; pod: string }> {
    return waitFor(
      `web running with password ${password === FIRST_PASSWORD ? "one" : "two"}`,
      async () => {
        const running = (await ctx.engine.list()).filter((c) => c.labels[LABELS.workload] === "web" && c.state === "running");
        if (running.length !== 1) return undefined;
        const c = running[0]!;
        const res = await ctx.engine.exec(c.id, ["env"], 30_000);
        if (res.exitCode !== 0) return undefined;
        const env = Object.fromEntries(
          res.output
            .split("\n")
            .filter((l) => l.includes("="))
            .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
        );
        return env.PASSWORD === password ? { env, revision: c.labels[LABELS.revision]!, pod: c.labels[LABELS.pod]! } : undefined;
      },
      90_000,
      250,
    ).catch((err: Error) => {
      throw new Error(`${err.message}\noperator log (last 30 lines):\n${lines.slice(-30).join("\n")}`);
    });
  }

  /** Every file of the status branch and every note, as one text. */
  /** What the operator wrote to Git, once its status is flushed. */
  async function written(): Promise<ScannedText[]> {
    await ctx.op!.flushStatus();
    return gitWritten(ctx.repo.dir);
  }

  it("gives the container Secret, envFrom, field and resource values; a changed Secret value rolls it; the values are written nowhere", async () => {
    await ctx.repo.write("apps/web.yaml", manifests(FIRST_PASSWORD));
    const first = await ctx.repo.commit("web reads a Secret, a ConfigMap, its fields and its resources");
    ctx.op = await startTestOperator(ctx.repo, ctx.stateDir, lines);

    const one = await webWith(FIRST_PASSWORD);
    const info = await ctx.engine.connect();
    const node = ctx.fleet.nodes[0]!.name;
    expect({
      PASSWORD: one.env.PASSWORD,
      API_TOKEN: one.env.API_TOKEN,
      CFG_LEVEL: one.env.CFG_LEVEL,
      CFG_MODE: one.env.CFG_MODE,
      skipped: Object.keys(one.env).filter((k) => k.startsWith("1ST")),
      POD_NAME: one.env.POD_NAME,
      POD_NAMESPACE: one.env.POD_NAMESPACE,
      TIER: one.env.TIER,
      NODE_NAME: one.env.NODE_NAME,
      HOST_IP: one.env.HOST_IP,
      POD_IP: one.env.POD_IP,
      CPU_LIMIT_MILLIS: one.env.CPU_LIMIT_MILLIS,
      MEMORY_REQUEST_MI: one.env.MEMORY_REQUEST_MI,
      MEMORY_LIMIT_MI: one.env.MEMORY_LIMIT_MI,
    }).toEqual({
      PASSWORD: FIRST_PASSWORD,
      API_TOKEN,
      CFG_LEVEL: "info",
      CFG_MODE: "slow", // env wins over envFrom
      skipped: [],
      POD_NAME: one.pod,
      POD_NAMESPACE: "default",
      TIER: "front",
      NODE_NAME: node,
      HOST_IP: "127.0.0.1",
      POD_IP: "127.0.0.1", // host network: the node's address
      CPU_LIMIT_MILLIS: "500",
      MEMORY_REQUEST_MI: "32",
      // No memory limit: the node's allocatable memory, as in Kubernetes (the engine's less the Node's default reserved 256Mi).
      MEMORY_LIMIT_MI: String(Math.ceil((info.memoryBytes - 256 * 2 ** 20) / 2 ** 20)),
    });

    await ctx.repo.write("apps/web.yaml", manifests(SECOND_PASSWORD));
    const second = await ctx.repo.commit("a new database password");
    const two = await webWith(SECOND_PASSWORD);
    expect(two.revision).not.toBe(one.revision);
    expect(two.pod).not.toBe(one.pod);

    const plan = await runCli(["plan", "--repo", ctx.repo.dir, "--from", first, "--to", second, "--output", "json"]);
    expect(plan.code, plan.stderr).toBe(0);
    expect(plan.stdout).toContain(two.revision);
    const texts = [...(await written()), { where: "the operator's log", text: lines.join("\n") }, { where: "plan --output json", text: `${plan.stdout}\n${plan.stderr}` }];
    expect(texts.map((t) => t.text).join("\n")).toContain("Deployment/default/web");
    expect(findSecrets(texts, [FIRST_PASSWORD, SECOND_PASSWORD, API_TOKEN])).toEqual([]);
  }, 400_000);
});
