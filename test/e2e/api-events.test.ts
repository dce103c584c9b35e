/**
 * The event stream of the read API on a real Docker node (one dockerd), through the real CLI with a bearer
 * token: while a commit rolls a Deployment from v1 to v2, GET /api/v1/events delivers, in id order, the
 * commit's phases up to Succeeded, rollout steps of the Deployment, the v2 pods becoming ready (before the
 * commit Succeeded) and the v1 pods leaving; each event is valid against the served OpenAPI document's
 * schema; GET /api/v1/workloads/… then shows the v2 pods. The token never appears in the operator's output.
 */
import { rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Ajv2020 } from "ajv/dist/2020.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requireDocker, startFleet, type TestFleet } from "../support/docker-fleet.js";
import { makeRepo, tempDir, type TestRepo } from "../support/git-repo.js";
import { buildTestImages, TEST_IMAGES } from "../support/images.js";
import { deploymentYaml } from "../support/manifests.js";
import { startOperatorProcess, type OperatorProcess } from "../support/operator-process.js";
import { findSecrets } from "../support/secret-scan.js";
import { openSse, type SseEvent, type SseStream } from "../support/sse.js";
import { waitFor } from "../support/wait.js";

const HAS_DOCKER = requireDocker("e2e api events");
const TOKEN = "e2e-read-token-71c4a9d2b3e5";

const web = (image: string) => deploymentYaml({ name: "web", replicas: 2, image, probe: true, grace: 5 });

describe.skipIf(!HAS_DOCKER)("GET /api/v1/events on a Docker node", () => {
  let fleet: TestFleet;
  let repo: TestRepo;
  let stateDir: string;
  let operator: OperatorProcess | undefined;
  let stream: SseStream | undefined;

  beforeAll(async () => {
    fleet = await startFleet({ nodes: 1, name: "apiev" });
    await buildTestImages(fleet.nodes[0]!.socketPath);
    repo = await makeRepo();
    stateDir = await tempDir("coxswain-api-events-");
  }, 180_000);

  afterAll(async () => {
    stream?.close();
    await operator?.stop();
    await fleet?.stop();
    await repo?.cleanup();
    if (stateDir) await rm(stateDir, { recursive: true, force: true });
  }, 120_000);

  it("delivers commit phases, rollout steps and pod readiness as a commit rolls out", async () => {
    await repo.write("fleet/nodes.yaml", fleet.nodeManifests());
    await repo.write("apps/web.yaml", web(TEST_IMAGES.v1));
    const v1 = await repo.commit("web v1");
    const tokens = join(stateDir, "tokens");
    await writeFile(tokens, `read ${TOKEN} e2e\n`, { mode: 0o600 });
    operator = startOperatorProcess(["run", "--repo", repo.dir, "--state-dir", join(stateDir, "state"), "--poll-interval", "300ms", "--listen", "127.0.0.1:0", "--api-token-file", tokens]);
    const url = /listening on (http:\/\/\S+): /.exec(await operator.waitForLine(/listening on http:\/\//))![1]!;
    const auth = { authorization: `Bearer ${TOKEN}` };
    const getJson = async (path: string) => {
      const res = await fetch(`${url}${path}`, { headers: auth });
      expect(res.status, path).toBe(200);
      return (await res.json()) as Record<string, unknown>;
    };
    await waitFor("v1 Succeeded", async () => ((await getJson(`/api/v1/commits/${v1}`)).phase === "Succeeded" ? true : undefined), 120_000, 250);

    const doc = await getJson("/api/v1/openapi.json");
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    ajv.addSchema(doc, "openapi.json");
    const schemaOf: Record<string, string> = { commit: "CommitEvent", rollout: "RolloutEvent", pod: "PodEvent", node: "NodeEvent" };

    stream = await openSse(`${url}/api/v1/events`, auth);
    expect(stream.status).toBe(200);
    await repo.write("apps/web.yaml", web(TEST_IMAGES.v2));
    const v2 = await repo.commit("web v2");
    const started = Date.now();
    const isV2 = (e: SseEvent, phase: string) => e.event === "commit" && (e.data as { sha: string }).sha === v2 && (e.data as { phase: string }).phase === phase;
    await waitFor("v2 Succeeded on the stream", () => stream!.events.some((e) => isV2(e, "Succeeded")), 180_000, 100);
    const rolloutMs = Date.now() - started;

    const events = [...stream.events];
    const ids = events.map((e) => Number(e.id));
    expect(ids.every((id, i) => i === 0 || id === ids[i - 1]! + 1)).toBe(true);
    for (const e of events) {
      const validate = ajv.getSchema(`openapi.json#/components/schemas/${schemaOf[e.event]}`)!;
      expect(validate(e.data), `${e.event} ${JSON.stringify(e.data)}: ${ajv.errorsText(validate.errors)}`).toBe(true);
    }
    const workload = (await getJson("/api/v1/workloads/Deployment/default/web")) as { revision: string; pods: { name: string; revision: string; ready: boolean }[] };
    const succeededAt = events.findIndex((e) => isV2(e, "Succeeded"));
    const pods = events.filter((e) => e.event === "pod").map((e) => e.data as { pod: string; revision: string | null; ready: boolean; phase: string });
    const readyV2 = new Set(
      events
        .slice(0, succeededAt)
        .filter((e) => e.event === "pod" && (e.data as { ready: boolean; revision: string }).ready && (e.data as { revision: string }).revision === workload.revision)
        .map((e) => (e.data as { pod: string }).pod),
    );
    // Both v2 pods were reported ready before the commit Succeeded, and they are the pods the workload shows.
    expect([...readyV2].sort()).toEqual(
      workload.pods
        .filter((p) => p.revision === workload.revision)
        .map((p) => p.name)
        .sort(),
    );
    expect(readyV2.size).toBe(2);
    // The v1 pods left (terminating, then gone).
    expect(pods.filter((p) => p.phase === "Deleted").length).toBeGreaterThanOrEqual(2);
    const steps = events.filter((e) => e.event === "rollout" && (e.data as { workload: string }).workload === "Deployment/default/web");
    expect(steps.length).toBeGreaterThanOrEqual(2);
    expect(steps.at(-1)!.data as { revision: string; replicas: { updated: number; ready: number } }).toMatchObject({ revision: workload.revision, replicas: { updated: 2, ready: 2 } });
    expect(events.findIndex((e) => isV2(e, "Progressing"))).toBeLessThan(succeededAt);
    process.stderr.write(`api events: ${events.length} events during a ${rolloutMs} ms rollout of 2 pods (${steps.length} rollout, ${pods.length} pod)\n`);

    await operator.stop();
    expect(await stream.done).toBe("ended");
    expect(findSecrets([{ where: "operator output", text: operator.lines.join("\n") }], [TOKEN])).toEqual([]);
  }, 400_000);
});
