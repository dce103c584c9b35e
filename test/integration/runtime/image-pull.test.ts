/**
 * imagePullPolicy and registry credentials on a real Docker engine pulling from a real (small, test) registry
 * on loopback that wants HTTP Basic credentials (test/support/registry.ts): the credentials of a pull Secret
 * reach the pull, a pull without them or with wrong ones is ImagePullFailed without the password in it,
 * Never asks the registry nothing, Always asks it at every container create, IfNotPresent only when the
 * image is missing. Then the whole operator (real Git repository, status branch): a Deployment whose pull
 * Secret holds a wrong password reports ImagePullFailed and runs once the Secret is fixed, and neither
 * password is anywhere in the status branch or the log.
 */
import { rm } from "node:fs/promises";
import Docker from "dockerode";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { Secret } from "../../../operator/src/api/objects.js";
import { DockerRuntime } from "../../../operator/src/runtime/docker/index.js";
import { LABELS } from "../../../operator/src/runtime/labels.js";
import { readPullSecret } from "../../../operator/src/manifest/image.js";
import { registryCredentials, type PullSpec } from "../../../operator/src/runtime/pull.js";
import type { ContainerLaunch } from "../../../operator/src/runtime/types.js";
import { startOperator, type RunningOperator } from "../../../operator/src/sync/operator.js";
import { requireDocker, startFleet, type TestFleet } from "../../support/docker-fleet.js";
import { makeRepo, tempDir, type TestRepo } from "../../support/git-repo.js";
import { statusFile } from "../../support/in-process-operator.js";
import { nodesYaml } from "../../support/manifests.js";
import { findSecrets, gitWritten } from "../../support/secret-scan.js";
import { waitFor } from "../../support/wait.js";
import { coxErrorOf } from "../../support/errors.js";
import { buildTestImages, saveImage, TEST_IMAGES } from "../../support/images.js";
import { startRegistry, type TestRegistry } from "../../support/registry.js";
import { lineLogger } from "../../support/log.js";

const OWNER = "cx-test-pull";
const enabled = requireDocker("image pulls");
const USER = "puller";
const PASSWORD = "s3cret-Pa55word-for-the-registry";

describe.skipIf(!enabled)("image pulls from a registry with credentials", () => {
  let fleet: TestFleet;
  let registry: TestRegistry;
  let rt: DockerRuntime;
  let raw: Docker;
  let image: string;
  let seq = 0;
  let nextPort = 0;

  const port = (): number => Number(fleet.nodes[0]!.portRange.split("-")[0]) + nextPort++;

  /** A dockerconfigjson Secret as `kubectl create secret docker-registry` writes it. */
  function pullSecret(password: string): Secret {
    const auths = { [registry.host]: { username: USER, password, auth: Buffer.from(`${USER}:${password}`).toString("base64") } };
    return {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "registry" },
      type: "kubernetes.io/dockerconfigjson",
      data: { ".dockerconfigjson": Buffer.from(JSON.stringify({ auths })).toString("base64") },
    } as Secret;
  }

  function pullWith(policy: PullSpec["policy"], password?: string): PullSpec {
    if (password === undefined) return { policy };
    const read = readPullSecret(pullSecret(password));
    if (!("config" in read)) throw new Error(read.problem);
    return { policy, auth: registryCredentials(image, [read.config]) };
  }

  function launch(pull: PullSpec): ContainerLaunch {
    const n = ++seq;
    const p = port();
    return {
      runtimeName: `cx_test_pull-${n}_app`,
      image,
      env: { PORT: String(p) },
      network: "host",
      ports: [{ name: "http", containerPort: p, hostPort: p, protocol: "TCP" }],
      limits: {},
      labels: { [LABELS.owner]: OWNER, [LABELS.pod]: `pull-${n}`, [LABELS.container]: "app", [LABELS.specHash]: `spec-${n}` },
      pull,
    };
  }

  const manifestRequests = () => registry.requests.filter((r) => r.path.includes("/manifests/")).length;
  const present = async () => (await raw.listImages()).some((i) => (i.RepoTags ?? []).includes(image));

  async function removeImage(): Promise<void> {
    for (const c of await raw.listContainers({ all: true })) if (c.Image === image) await raw.getContainer(c.Id).remove({ force: true });
    if (await present()) await raw.getImage(image).remove({ force: true });
  }

  beforeAll(async () => {
    fleet = await startFleet({ nodes: 1, name: "pull" });
    await buildTestImages(fleet.nodes[0]!.socketPath);
    const saved = await saveImage(fleet.nodes[0]!.socketPath, TEST_IMAGES.v1);
    // A config of its own (one more label), so that the engine does not know the image already by its id.
    const config = JSON.parse(saved.config.toString("utf8")) as { config: { Labels?: Record<string, string> | null } };
    config.config.Labels = { ...config.config.Labels, "coxswain-test.registry": "private" };
    const privateImage = { config: Buffer.from(JSON.stringify(config)), layers: saved.layers };
    registry = await startRegistry({ images: { "coxswain-test/private:v1": privateImage, "coxswain-test/private:op": privateImage }, credentials: { username: USER, password: PASSWORD }, port: port() });
    image = `${registry.host}/coxswain-test/private:v1`;
    raw = new Docker({ socketPath: fleet.nodes[0]!.socketPath });
    rt = new DockerRuntime({ endpoint: fleet.nodes[0]!.endpoint, owner: OWNER, nodeName: "node-1", callTimeoutMs: 20_000, pullTimeoutMs: 60_000 });
  }, 180_000);

  afterAll(async () => {
    await rt?.close();
    await registry?.close();
    await fleet?.stop();
  });

  beforeEach(async () => {
    for (const c of await rt.list()) await rt.remove(c.id);
  });

  it("pulls a private image with the credentials of its registry from a dockerconfigjson Secret", async () => {
    await removeImage();
    const c = await rt.run(launch(pullWith("IfNotPresent", PASSWORD)));
    expect(c.state).toBe("running");
    expect(await present()).toBe(true);
    // The manifest and the blobs were fetched with the credentials.
    expect(registry.requests.filter((r) => r.path.includes("/blobs/") && r.authorized && r.status === 200).length).toBeGreaterThan(0);
  }, 120_000);

  it("fails a pull without credentials with ImagePullFailed", async () => {
    await removeImage();
    const err = await coxErrorOf(rt.run(launch(pullWith("IfNotPresent"))));
    expect(err.code).toBe("ImagePullFailed");
    expect(err.details).toMatchObject({ image, node: "node-1" });
    expect(registry.requests.some((r) => r.status === 401)).toBe(true);
  }, 120_000);

  it("fails a pull with a wrong password with ImagePullFailed, the password nowhere in the error", async () => {
    await removeImage();
    const wrong = "wrong-Pa55word-nobody-may-see";
    const before = registry.requests.length;
    const err = await coxErrorOf(rt.run(launch(pullWith("IfNotPresent", wrong))));
    expect(err.code).toBe("ImagePullFailed");
    expect(registry.requests.slice(before).some((r) => r.status === 401 && r.path !== "/v2/")).toBe(true);
    const seen = `${err.message} ${JSON.stringify(err.details)} ${String(err.cause)} ${(err.cause as Error | undefined)?.message ?? ""}`;
    expect(findSecrets([{ where: "the error", text: seen }], [wrong, `${USER}:${wrong}`])).toEqual([]);
    expect(await present()).toBe(false);
  }, 120_000);

  it("never pulls with Never: a missing image is ImageNeverPull and the registry is not asked", async () => {
    await removeImage();
    const before = registry.requests.length;
    const err = await coxErrorOf(rt.run(launch(pullWith("Never", PASSWORD))));
    expect(err.code).toBe("ImageNeverPull");
    expect(registry.requests.length).toBe(before);
  }, 60_000);

  it("asks the registry at every create with Always, and not at all with IfNotPresent once the image is there", async () => {
    await removeImage();
    await rt.run(launch(pullWith("Always", PASSWORD)));
    const afterFirst = manifestRequests();
    const blobsAfterFirst = registry.requests.filter((r) => r.path.includes("/blobs/")).length;
    expect(afterFirst).toBeGreaterThan(0);
    await rt.run(launch(pullWith("Always", PASSWORD)));
    expect(manifestRequests()).toBeGreaterThan(afterFirst);
    // The image was up to date: the engine fetched no blob again.
    expect(registry.requests.filter((r) => r.path.includes("/blobs/")).length).toBe(blobsAfterFirst);
    const before = registry.requests.length;
    await rt.run(launch(pullWith("IfNotPresent", PASSWORD)));
    await rt.run(launch(pullWith("Never")));
    expect(registry.requests.length).toBe(before);
  }, 180_000);

  describe("through the operator", () => {
    let repo: TestRepo;
    let stateDir: string;
    let op: RunningOperator | undefined;
    const lines: string[] = [];
    const INSTANCE = "cx-test-pull-op";

    afterAll(async () => {
      await op?.stop();
      const mine = new DockerRuntime({ endpoint: fleet.nodes[0]!.endpoint, owner: INSTANCE });
      for (const c of await mine.list()) await mine.remove(c.id);
      await mine.close();
      await repo?.cleanup();
      if (stateDir) await rm(stateDir, { recursive: true, force: true });
    });

    const secretYaml = (password: string) =>
      [
        "apiVersion: v1",
        "kind: Secret",
        "metadata:",
        "  name: registry",
        "type: kubernetes.io/dockerconfigjson",
        "data:",
        `  .dockerconfigjson: ${Buffer.from(JSON.stringify({ auths: { [registry.host]: { auth: Buffer.from(`${USER}:${password}`).toString("base64") } } })).toString("base64")}`,
        "",
      ].join("\n");

    const deployment = (image: string) =>
      [
        "apiVersion: apps/v1",
        "kind: Deployment",
        "metadata:",
        "  name: web",
        "spec:",
        "  replicas: 1",
        "  selector:",
        "    matchLabels: {app: web}",
        "  template:",
        "    metadata:",
        "      labels: {app: web}",
        "    spec:",
        "      terminationGracePeriodSeconds: 2",
        "      imagePullSecrets:",
        "        - name: registry",
        "      containers:",
        "        - name: app",
        `          image: ${image}`,
        "          ports:",
        "            - {name: http, containerPort: 8080}",
        "",
      ].join("\n");

    const replicaFailureCode = async (): Promise<string | undefined> => {
      const w = await statusFile<{ conditions?: { type: string; message?: string }[] }>(op!, repo, "workloads/default/deployment-web.yaml");
      const message = w?.conditions?.find((c) => c.type === "ReplicaFailure")?.message;
      return message === undefined ? undefined : message.slice(0, message.indexOf(":"));
    };

    it("reports ImagePullFailed for a wrong registry password, runs the pod once the Secret is fixed, and shows neither password", async () => {
      const wrong = "op-wrong-Pa55word-never-shown";
      const [from, to] = fleet.nodes[0]!.portRange.split("-").map(Number) as [number, number];
      repo = await makeRepo();
      stateDir = await tempDir("coxswain-pull-state-");
      await repo.write("nodes.yaml", nodesYaml([{ name: "node-1", endpoint: fleet.nodes[0]!.endpoint, portRange: `${from + 100}-${to}` }]));
      await repo.write("secret.yaml", secretYaml(wrong));
      await repo.write("web.yaml", deployment(`${registry.host}/coxswain-test/private:op`));
      await repo.commit("web from the private registry, with a wrong password");
      op = await startOperator({
        repo: repo.dir,
        stateDir,
        instance: INSTANCE,
        pollMs: 200,
        fleetPollMs: 200,
        statusDebounceMs: 50,
        log: lineLogger((l) => lines.push(l)),
        runtimeFactory: (c) => new DockerRuntime({ endpoint: c.endpoint, owner: INSTANCE, nodeName: c.name, pullTimeoutMs: 60_000 }),
      });
      await waitFor("ReplicaFailure ImagePullFailed", async () => (await replicaFailureCode()) === "ImagePullFailed", 60_000);

      await repo.write("secret.yaml", secretYaml(PASSWORD));
      await repo.commit("the right password");
      const mine = new DockerRuntime({ endpoint: fleet.nodes[0]!.endpoint, owner: INSTANCE });
      try {
        await waitFor("the pod running", async () => (await mine.list()).some((c) => c.state === "running" && c.image.endsWith("/coxswain-test/private:op")), 90_000);
      } finally {
        await mine.close();
      }
      await waitFor("ReplicaFailure cleared", async () => (await replicaFailureCode()) === undefined, 60_000);

      const texts = [...(await gitWritten(repo.dir)), { where: "the operator's log", text: lines.join("\n") }];
      expect(texts[0]!.where).toBe("git log -p coxswain/status");
      expect(findSecrets(texts, [wrong, PASSWORD, `${USER}:${wrong}`, `${USER}:${PASSWORD}`])).toEqual([]);
    }, 240_000);
  });
});
