/**
 * Extended resources through the whole pipeline on a real two-engine Docker fleet: node-2 declares one
 * example.com/dongle in its Node's spec.capacity, node-1 none. A pod asking for one goes to node-2; a second
 * replica fits nowhere and stays Pending with kube-scheduler's message, in the workload's status.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import YAML from "yaml";
import { FakeProxy } from "../../../operator/src/runtime/fake/index.js";
import { DockerRuntime } from "../../../operator/src/runtime/docker/index.js";
import { LABELS } from "../../../operator/src/runtime/labels.js";
import { startOperator, type RunningOperator } from "../../../operator/src/sync/operator.js";
import { requireDocker, startFleet, type TestFleet } from "../../support/docker-fleet.js";
import { makeRepo, runGit, tempDir, type TestRepo } from "../../support/git-repo.js";
import { buildTestImages, TEST_IMAGES } from "../../support/images.js";
import { waitFor } from "../../support/wait.js";
import { stopTestOperator } from "../../support/operator-fixture.js";

const INSTANCE = "cx-extended-test";
const enabled = requireDocker("operator extended resources");

function signer(replicas: number): string {
  return `apiVersion: apps/v1
kind: Deployment
metadata:
  name: signer
spec:
  replicas: ${replicas}
  selector:
    matchLabels: {app: signer}
  template:
    metadata:
      labels: {app: signer}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
        - name: signer
          image: ${TEST_IMAGES.v1}
          command: [sleep, "3600"]
          resources:
            limits:
              example.com/dongle: 1
`;
}

describe.skipIf(!enabled)("extended resources through the operator on a real Docker fleet", () => {
  let fleet: TestFleet;
  let repo: TestRepo;
  let stateDir: string;
  let op: RunningOperator | undefined;
  let engines: DockerRuntime[] = [];

  beforeAll(async () => {
    fleet = await startFleet({ nodes: 2, name: "op-extended" });
    await Promise.all(fleet.nodes.map((n) => buildTestImages(n.socketPath)));
    engines = fleet.nodes.map((n) => new DockerRuntime({ endpoint: n.endpoint, owner: INSTANCE, nodeName: n.name }));
    repo = await makeRepo();
    stateDir = await tempDir("coxswain-extended-");
    const docs = YAML.parseAllDocuments(fleet.nodeManifests()).map((d) => d.toJS() as Record<string, any>);
    for (const d of docs) if (d.kind === "Node" && d.metadata.name === "node-2") d.spec.capacity = { "example.com/dongle": 1 };
    await repo.write("fleet/nodes.yaml", docs.map((d) => YAML.stringify(d)).join("---\n"));
    await repo.write("apps/signer.yaml", signer(1));
    await repo.commit("nodes, node-2 with a dongle; signer needs one");
    op = await startOperator({
      repo: repo.dir,
      stateDir,
      instance: INSTANCE,
      pollMs: 200,
      fleetPollMs: 200,
      statusDebounceMs: 50,
      proxyFactory: () => new FakeProxy(),
    });
  }, 180_000);

  afterAll(async () => {
    await stopTestOperator(op, repo, stateDir);
    for (const e of engines) await e.close();
    await fleet?.stop();
  });

  /** Running signer containers per node name. */
  const placed = async () => {
    const out: Record<string, number> = {};
    for (const [i, e] of engines.entries()) {
      const n = (await e.list()).filter((c) => c.labels[LABELS.workload] === "signer" && c.state === "running").length;
      if (n > 0) out[fleet.nodes[i]!.name] = n;
    }
    return out;
  };

  it("places the pod on the node that declares the dongle, and leaves a second one Pending with kube-scheduler's message", async () => {
    await waitFor("signer running", async () => Object.keys(await placed()).length > 0 || undefined, 90_000);
    expect(await placed()).toEqual({ "node-2": 1 });

    await repo.write("apps/signer.yaml", signer(2));
    await repo.commit("two signers, one dongle");
    const text = await waitFor(
      "FailedScheduling in status",
      async () => {
        await op!.flushStatus();
        const t = await runGit(["show", "coxswain/status:workloads/default/deployment-signer.yaml"], { cwd: repo.dir }).catch(() => "");
        return /0\/2 nodes are available/.test(t) ? t : undefined;
      },
      90_000,
    );
    expect(text).toContain("0/2 nodes are available: 2 Insufficient example.com/dongle.");
    expect(await placed()).toEqual({ "node-2": 1 });
  }, 240_000);
});
