/**
 * The read API of a running operator (in-process, fake runtime, a real Git repository behind it, real
 * HTTP): every endpoint of /api/v1/openapi.json is requested and its REAL answer validated with ajv
 * against the document's schema (JSON Schema 2020-12, as OpenAPI 3.1 has it) — commits (an Invalid one
 * with its file:line errors included), workloads and one workload's record, nodes with a taint and their
 * allocations, Services, proposals with a plan — and errors against the Error schema. The event stream:
 * commit phases, rollout steps, pod readiness and node health (a node that stops answering and comes
 * back) in order with increasing ids, each validated against its
 * schema; Last-Event-ID resumes exactly after an id; an id older than the ring gets a reset; heartbeats;
 * the stream ends cleanly when the operator stops. Tokens: 401 with WWW-Authenticate, 403 for a read
 * token's write, webhooks and health unaffected, and no token in the log; no CORS headers. A client that
 * stops reading the stream is cut off.
 */
import { Ajv2020 } from "ajv/dist/2020.js";
import { afterEach, describe, expect, it } from "vitest";
import { connect } from "node:net";
import { EventFeed, parseApiTokens, sign, startServer, type ApiSource } from "../../../operator/src/server/index.js";
import { deploymentYaml, serviceYaml } from "../../support/manifests.js";
import { coxErrorOf } from "../../support/errors.js";
import { findSecrets } from "../../support/secret-scan.js";
import { openSse, type SseEvent } from "../../support/sse.js";
import { waitFor } from "../../support/wait.js";
import { operator, Scope, type TestOperator } from "../proposals/harness.js";

const scope = new Scope();
afterEach(() => scope.cleanup());

/** Requests per second the tests take from one client: the waits below poll faster than the default 10. */
const RATE = 1_000;
const READ = "api-read-token-5f0c1e2d3b4a";
const WRITE = "api-write-token-9a8b7c6d5e4f";
const SECRET = "whsec-api-0123456789abcdef";

/** Two fake nodes, the second tainted. */
const NODES = `apiVersion: coxswain.io/v1alpha1
kind: Node
metadata:
  name: n1
spec:
  endpoint: unix:///fake/n1.sock
  network: host
  address: 127.0.0.1
  portRange: 45000-45499
---
apiVersion: coxswain.io/v1alpha1
kind: Node
metadata:
  name: n2
spec:
  endpoint: unix:///fake/n2.sock
  network: host
  address: 127.0.0.1
  portRange: 45500-45999
  taints:
    - key: dedicated
      value: batch
      effect: PreferNoSchedule
`;

const web = (image: string, replicas = 2) => deploymentYaml({ name: "web", replicas, image, ports: true, cpu: "250m", memory: "64Mi" });

/** GET `path` of the operator's API, with the headers given. */
async function get(t: TestOperator, path: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Headers; body: unknown }> {
  const res = await fetch(`${t.op.server!.url}${path}`, { headers });
  return { status: res.status, headers: res.headers, body: await res.json() };
}

/** The API's own OpenAPI document, loaded into ajv; `check` validates a body against a schema the document names. */
async function openApi(t: TestOperator) {
  const doc = (await get(t, "/api/v1/openapi.json")).body as { openapi: string; paths: Record<string, { get?: { responses: Record<string, { content?: Record<string, { schema: object }> }> } }> };
  expect(doc.openapi).toBe("3.1.0");
  // strict: false, as the document's own keywords (openapi, paths, …) are not JSON Schema's.
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  ajv.addSchema(doc, "openapi.json");
  const check = (pointer: string, body: unknown): void => {
    const validate = ajv.getSchema(`openapi.json#${pointer}`);
    if (!validate) throw new Error(`no schema at ${pointer}`);
    if (!validate(body)) throw new Error(`${pointer}: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(body, null, 2).slice(0, 2000)}`);
  };
  const responsePointer = (path: string, status: number) => {
    const escaped = path.replace(/~/g, "~0").replace(/\//g, "~1");
    const r = doc.paths[path]?.get?.responses[String(status)];
    if (!r?.content?.["application/json"]) throw new Error(`the document describes no JSON ${status} answer of GET ${path}`);
    return `/paths/${escaped}/get/responses/${status}/content/application~1json/schema`;
  };
  return { doc, check, responsePointer, schema: (name: string) => `/components/schemas/${name}` };
}

describe("read API", () => {
  it("answers every endpoint of its OpenAPI document with what the document describes", async () => {
    const work = await scope.work();
    const { gitdir } = await scope.bare(work);
    await work.write("nodes.yaml", NODES);
    await work.write("web.yaml", web("app:v1"));
    await work.write("svc.yaml", serviceYaml({ name: "web" }));
    const v1 = await work.commit("web v1");
    await work.push("origin", "main");
    const t = await operator(scope, { repo: gitdir, listen: "127.0.0.1:0", webhookRate: RATE, previewBranches: ["pr/*"] });
    await waitFor("v1 Succeeded", () => t.op.store.getCommit(v1)?.phase === "Succeeded", 60_000, 50);

    // A proposal (planned), and a commit whose manifest is invalid (its errors carry file:line).
    await work.git(["checkout", "-q", "-b", "pr/scale"]);
    await work.write("web.yaml", web("app:v1", 4));
    await work.commit("scale web to 4");
    await work.push("origin", "pr/scale");
    await work.git(["checkout", "-q", "main"]);
    await work.write("broken.yaml", "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: broken\nspec:\n  replicas: many\n");
    const bad = await work.commit("a broken manifest");
    await work.push("origin", "main");
    await waitFor("the bad commit Invalid", () => t.op.store.getCommit(bad)?.phase === "Invalid", 60_000, 50);
    await waitFor("the plan of pr/scale", () => t.op.store.getFile("plans/pr-scale.yaml"), 60_000, 50);
    await waitFor("the Service's status file", () => t.op.store.getFile("services/default/web.yaml"), 60_000, 50);

    const api = await openApi(t);
    // The check is not vacuous: a body the document does not describe fails it.
    expect(() => api.check(api.schema("Commit"), { sha: v1 })).toThrow(/required/);
    const answers = new Map<string, unknown>();
    const concrete: Record<string, string> = {
      "/api/v1/commits/{sha}": `/api/v1/commits/${bad}`,
      "/api/v1/workloads/{kind}/{namespace}/{name}": "/api/v1/workloads/Deployment/default/web",
    };
    for (const path of Object.keys(api.doc.paths).sort()) {
      if (path === "/api/v1/events") continue; // a stream: checked below
      if (!api.doc.paths[path]!.get) continue; // a write: test/integration/server/api-writes.test.ts
      const res = await get(t, concrete[path] ?? path);
      expect(res.status, path).toBe(200);
      expect(res.headers.get("access-control-allow-origin"), path).toBeNull();
      api.check(api.responsePointer(path, 200), res.body);
      answers.set(path, res.body);
    }

    const commits = answers.get("/api/v1/commits") as { total: number; commits: { sha: string; phase: string; author: { name: string } | null; applied: boolean; stable: boolean }[] };
    expect(commits.commits.map((c) => [c.sha, c.phase])).toEqual([
      [bad, "Invalid"],
      [v1, "Succeeded"],
    ]);
    expect(commits.commits[1]).toMatchObject({ author: { name: "Test Author" }, applied: true, stable: true });
    const badView = answers.get("/api/v1/commits/{sha}") as { errors: { file?: string; line?: number }[] };
    expect(badView.errors.some((e) => e.file === "broken.yaml" && typeof e.line === "number")).toBe(true);
    const one = (await get(t, "/api/v1/commits?limit=1")).body as { total: number; commits: unknown[] };
    expect([one.total, one.commits.length]).toEqual([2, 1]);
    const record = answers.get("/api/v1/workloads/{kind}/{namespace}/{name}") as { pods: { endpoints: string[]; ready: boolean }[]; revisions: unknown[] };
    expect(record.pods).toHaveLength(2);
    expect(record.pods.every((p) => p.ready && p.endpoints.length > 0)).toBe(true);
    const nodes = (answers.get("/api/v1/nodes") as { nodes: { name: string; taints: unknown[]; requested: { cpuMillis: number } | null; allocatable: unknown }[] }).nodes;
    expect(nodes.map((n) => n.name)).toEqual(["n1", "n2"]);
    expect(nodes[1]!.taints).toEqual([{ key: "dedicated", value: "batch", effect: "PreferNoSchedule" }]);
    expect(nodes.reduce((sum, n) => sum + (n.requested?.cpuMillis ?? 0), 0)).toBe(500);
    expect((answers.get("/api/v1/services") as { services: { name: string }[] }).services.map((s) => s.name)).toEqual(["web"]);
    const proposals = answers.get("/api/v1/proposals") as { proposals: { name: string; valid: boolean; changes: { key: string }[] }[] };
    expect(proposals.proposals.map((p) => [p.name, p.valid])).toEqual([["pr-scale", true]]);

    // Errors are described too: an unknown commit, workload or endpoint (404), a limit out of range (400).
    for (const [path, status, pattern] of [
      ["/api/v1/commits/0123456789abcdef0123456789abcdef01234567", 404, "/api/v1/commits/{sha}"],
      ["/api/v1/workloads/Deployment/default/nothing", 404, "/api/v1/workloads/{kind}/{namespace}/{name}"],
      ["/api/v1/commits?limit=0", 400, "/api/v1/commits"],
      ["/api/v1/commits?limit=501", 400, "/api/v1/commits"],
    ] as const) {
      const res = await get(t, path);
      expect(res.status, path).toBe(status);
      api.check(api.responsePointer(pattern, status), res.body);
    }
    const unknown = await get(t, "/api/v1/nothing");
    expect([unknown.status, (unknown.body as { code: string }).code]).toEqual([404, "ApiNotFound"]);
    // Read-only: a write is refused.
    const post = await fetch(`${t.op.server!.url}/api/v1/commits`, { method: "POST" });
    expect(post.status).toBe(405);
  });

  it("streams commit phases, rollout steps, pod readiness and node health with increasing ids; resumes from Last-Event-ID; resets an old one; ends cleanly on stop", async () => {
    const work = await scope.work();
    const { gitdir } = await scope.bare(work);
    await work.write("nodes.yaml", NODES);
    await work.write("web.yaml", web("app:v1"));
    const v1 = await work.commit("web v1");
    await work.push("origin", "main");
    const t = await operator(scope, { repo: gitdir, listen: "127.0.0.1:0", webhookRate: RATE, apiHeartbeatMs: 200, nodeGraceMs: 1_000, evictionTimeoutMs: 600_000 });
    await waitFor("v1 Succeeded", () => t.op.store.getCommit(v1)?.phase === "Succeeded", 60_000, 50);
    const api = await openApi(t);

    const stream = await openSse(`${t.op.server!.url}/api/v1/events`);
    scope.defer(async () => stream.close());
    expect(stream.status).toBe(200);
    expect(stream.headers.get("content-type")).toBe("text/event-stream; charset=utf-8");
    expect(stream.headers.get("access-control-allow-origin")).toBeNull();
    await work.write("web.yaml", web("app:v2"));
    const v2 = await work.commit("web v2");
    await work.push("origin", "main");
    const succeeded = (e: SseEvent) => e.event === "commit" && (e.data as { sha: string; phase: string }).sha === v2 && (e.data as { phase: string }).phase === "Succeeded";
    await waitFor("v2 Succeeded on the stream", () => stream.events.some(succeeded), 60_000, 50);

    const events = [...stream.events];
    const ids = events.map((e) => Number(e.id));
    expect(ids.every((id, i) => i === 0 || id === ids[i - 1]! + 1)).toBe(true);
    const schemaOf: Record<string, string> = { commit: "CommitEvent", rollout: "RolloutEvent", pod: "PodEvent", node: "NodeEvent" };
    for (const e of events) api.check(api.schema(schemaOf[e.event]!), e.data);
    const kinds = new Set(events.map((e) => e.event));
    expect([...kinds].sort()).toEqual(expect.arrayContaining(["commit", "pod", "rollout"]));
    // v2 was seen (Pending/Progressing) before it Succeeded; new pods of v2 became ready before that.
    const v2Phases = events.filter((e) => e.event === "commit" && (e.data as { sha: string }).sha === v2).map((e) => (e.data as { phase: string }).phase);
    expect(v2Phases.at(-1)).toBe("Succeeded");
    expect(v2Phases.length).toBeGreaterThan(1);
    const readyV2 = events.findIndex(
      (e) => e.event === "pod" && (e.data as { ready: boolean; revision: string }).ready && (e.data as { revision: string }).revision === t.op.store.getWorkload("Deployment", "default", "web")!.revision,
    );
    expect(readyV2).toBeGreaterThanOrEqual(0);
    expect(readyV2).toBeLessThan(events.findIndex(succeeded));
    expect(events.some((e) => e.event === "rollout" && (e.data as { workload: string }).workload === "Deployment/default/web")).toBe(true);

    // Resuming after the fifth event gives exactly the events after it.
    const from = events[4]!;
    const resumed = await openSse(`${t.op.server!.url}/api/v1/events`, { "last-event-id": from.id! });
    scope.defer(async () => resumed.close());
    await waitFor("the replay", () => resumed.events.length >= events.length - 5, 30_000, 20);
    expect(resumed.events.slice(0, events.length - 5).map((e) => e.id)).toEqual(events.slice(5).map((e) => e.id));
    // An id older than the ring (or of another run) gets a reset first, with the last id to follow from.
    const old = await openSse(`${t.op.server!.url}/api/v1/events`, { "last-event-id": "1" });
    scope.defer(async () => old.close());
    const reset = await waitFor("a reset", () => old.events[0], 30_000, 20);
    expect(reset.event).toBe("reset");
    api.check(api.schema("ResetEvent"), reset.data);
    expect(Number(reset.id)).toBe(Number(stream.events.at(-1)!.id));
    await waitFor("a heartbeat", () => stream.comments.includes("heartbeat"), 30_000, 20);

    // Node health: n2 stops answering (NotReady after the grace period), then answers again.
    const nodeEvent = (condition: string) => (e: SseEvent) => e.event === "node" && (e.data as { node: string }).node === "n2" && (e.data as { condition: string }).condition === condition;
    t.runtimes.get("n2")!.setDown(true);
    const down = await waitFor("n2 NotReady on the stream", () => stream.events.find(nodeEvent("NotReady")), 60_000, 50);
    api.check(api.schema("NodeEvent"), down.data);
    t.runtimes.get("n2")!.setDown(false);
    await waitFor("n2 Ready again on the stream", () => stream.events.slice(stream.events.indexOf(down)).find(nodeEvent("Ready")), 60_000, 50);
    const head = await fetch(`${t.op.server!.url}/api/v1/events`, { method: "HEAD" });
    expect(head.status).toBe(405);

    await t.stop();
    expect(await stream.done).toBe("ended");
  });

  it("with --api-token-file: 401 with WWW-Authenticate without a valid token, 403 for a read token's write; webhooks and health unaffected; no token logged", async () => {
    const work = await scope.work();
    const { gitdir } = await scope.bare(work);
    await work.write("web.yaml", web("app:v1"));
    const v1 = await work.commit("web v1");
    await work.push("origin", "main");
    const tokens = parseApiTokens(`read ${READ} alice\nwrite ${WRITE} bob\n`, "tokens");
    const t = await operator(scope, { repo: gitdir, listen: "127.0.0.1:0", webhookRate: RATE, webhookSecret: SECRET, apiTokens: tokens });
    await waitFor("v1 Succeeded", () => t.op.store.getCommit(v1)?.phase === "Succeeded", 60_000, 50);
    const url = t.op.server!.url;

    for (const path of ["/api/v1/commits", "/api/v1/openapi.json", "/api/v1/events", "/api/v1/nodes"]) {
      const none = await fetch(`${url}${path}`);
      expect(none.status, path).toBe(401);
      expect(none.headers.get("www-authenticate")).toBe('Bearer realm="coxswain"');
      expect(((await none.json()) as { code: string }).code).toBe("ApiUnauthorized");
      const wrong = await fetch(`${url}${path}`, { headers: { authorization: `Bearer ${READ}-not` } });
      expect(wrong.status, path).toBe(401);
      expect(wrong.headers.get("www-authenticate")).toContain('error="invalid_token"');
    }
    const ok = await fetch(`${url}/api/v1/commits`, { headers: { authorization: `Bearer ${READ}`, origin: "https://evil.example" } });
    expect(ok.status).toBe(200);
    expect(ok.headers.get("access-control-allow-origin")).toBeNull();
    expect(((await ok.json()) as { commits: { sha: string }[] }).commits[0]!.sha).toBe(v1);
    const readWrite = await fetch(`${url}/api/v1/commits`, { method: "POST", headers: { authorization: `Bearer ${READ}` } });
    expect([readWrite.status, ((await readWrite.json()) as { code: string }).code]).toEqual([403, "ApiForbidden"]);
    const write = await fetch(`${url}/api/v1/commits`, { method: "POST", headers: { authorization: `Bearer ${WRITE}` } });
    expect(write.status).toBe(405);
    // Webhooks keep their own authentication; health stays open.
    const body = JSON.stringify({ ref: "refs/heads/main" });
    const hook = await fetch(`${url}/api/v1/webhooks/generic`, { method: "POST", headers: { "content-type": "application/json", "x-coxswain-signature-256": `sha256=${sign(SECRET, body)}` }, body });
    expect(hook.status).toBe(200);
    expect((await fetch(`${url}/healthz`)).status).toBe(200);

    await t.stop();
    expect(t.lines.some((l) => l.includes("2 bearer token(s)"))).toBe(true);
    expect(findSecrets([{ where: "operator log", text: t.lines.join("\n") }], [READ, WRITE])).toEqual([]);
  });

  it("refuses to serve the API without tokens anywhere but on loopback (ApiTokensRequired)", async () => {
    const source: ApiSource = { state: () => ({ commits: [], workloads: [], extra: [] }), nodes: () => ({ observed: [], snapshot: [] }), previews: () => [], authors: async () => new Map() };
    expect((await coxErrorOf(startServer({ listen: "0.0.0.0:0", onPush: () => undefined, api: { source } }))).code).toBe("ApiTokensRequired");
    const tokens = parseApiTokens(`read ${READ}`, "tokens");
    const server = await startServer({ listen: "0.0.0.0:0", onPush: () => undefined, api: { source, tokens } });
    scope.defer(() => server.close());
    expect((await fetch(`${server.url}/api/v1/workloads`, { headers: { authorization: `Bearer ${READ}` } })).status).toBe(200);
  });

  it("cuts off an event stream whose client stops reading once 1 MiB waits for it", async () => {
    const source: ApiSource = { state: () => ({ commits: [], workloads: [], extra: [] }), nodes: () => ({ observed: [], snapshot: [] }), previews: () => [], authors: async () => new Map() };
    const events = new EventFeed({ firstId: 1 });
    const server = await startServer({ listen: "127.0.0.1:0", onPush: () => undefined, api: { source, events } });
    scope.defer(() => server.close());
    const socket = connect(server.port, "127.0.0.1");
    scope.defer(async () => socket.destroy());
    let closed = false;
    let received = 0;
    socket.once("close", () => (closed = true));
    await new Promise<void>((resolve) => socket.once("connect", () => resolve()));
    socket.write("GET /api/v1/events HTTP/1.1\r\nHost: x\r\n\r\n");
    // The client reads the answer's head, then nothing while 16 MiB of events are published.
    await new Promise<void>((resolve) => socket.once("data", () => resolve()));
    socket.pause();
    const big = "x".repeat(64 * 1024);
    for (let i = 0; i < 256; i++) {
      events.publish("node", { node: big });
      await new Promise((r) => setImmediate(r));
    }
    // Reading again: what the server still had buffered arrives, then the end — not the 16 MiB.
    socket.on("data", (chunk: Buffer) => (received += chunk.length));
    socket.resume();
    await waitFor("the stream cut off", () => closed, 30_000, 20);
    expect(received).toBeLessThan((256 * big.length) / 2);
  });
});
