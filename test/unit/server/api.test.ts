/**
 * The read API's pure parts: the token file and each request's decision, the event ring and its resumption
 * (ids, the bound, reset), what counts as a rollout step, and the views' order (commits newest first,
 * bounded; workloads by namespace, kind, name) — including `--api-token-file` and the loopback rule of
 * `coxswain run`, asserted by code.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runOptions } from "../../../operator/src/cli/run.js";
import { authorize, EventFeed, isLoopbackHost, parseApiTokens, RING_SIZE, rolloutEvent } from "../../../operator/src/server/index.js";
import { commitsView, findCommit, findWorkload, workloadsView } from "../../../operator/src/server/api/views.js";
import { readServiceRecord, renderServiceRecord, type ServiceRecord } from "../../../operator/src/status/services.js";
import type { StatusState } from "../../../operator/src/status/store.js";
import type { CommitRecord, WorkloadRecord } from "../../../operator/src/status/types.js";
import { codeOf, coxErrorOf } from "../../support/errors.js";

const READ = "read-token-0123456789abcdef";
const WRITE = "write-token-0123456789abcdef";

describe("--api-token-file", () => {
  it("reads scopes, tokens and users, skipping blank lines and comments", () => {
    const tokens = parseApiTokens(`# the API's tokens\n\nread ${READ} alice\nwrite ${WRITE}\n`, "tokens");
    expect(tokens.map((t) => [t.scope, t.user])).toEqual([
      ["read", "alice"],
      ["write", "token-4"],
    ]);
  });

  it.each([
    ["an unknown scope", `admin ${READ}`],
    ["no token", "read"],
    ["a short token", "read short-token"],
    ["a token with odd characters", `read ${READ}"`],
    ["more than a user after the token", `read ${READ} alice bob`],
    ["the same token twice", `read ${READ}\nwrite ${READ}`],
    ["no line at all", "# nothing\n"],
  ])("refuses %s with InvalidArgument, never quoting the line", (_what, text) => {
    let message = "";
    expect(
      codeOf(() => {
        try {
          parseApiTokens(text, "tokens");
        } catch (err) {
          message = (err as Error).message;
          throw err;
        }
      }),
    ).toBe("InvalidArgument");
    expect(message).not.toContain(READ);
  });

  it("decides each request: open without tokens, 401 without or with a wrong token, 403 for a read token's write", () => {
    const tokens = parseApiTokens(`read ${READ} alice\nwrite ${WRITE} bob`, "tokens");
    expect(authorize(undefined, undefined, "GET")).toEqual({ ok: true });
    expect(authorize(tokens, undefined, "GET")).toMatchObject({ ok: false, status: 401, code: "ApiUnauthorized", challenge: 'Bearer realm="coxswain"' });
    expect(authorize(tokens, `Bearer ${READ}x`, "GET")).toMatchObject({ ok: false, status: 401, challenge: 'Bearer realm="coxswain", error="invalid_token"' });
    expect(authorize(tokens, `Basic ${READ}`, "GET")).toMatchObject({ ok: false, status: 401 });
    expect(authorize(tokens, `Bearer ${READ}`, "GET")).toEqual({ ok: true, user: "alice", scope: "read" });
    expect(authorize(tokens, `bearer ${READ}`, "HEAD")).toMatchObject({ ok: true });
    expect(authorize(tokens, `Bearer ${READ}`, "POST")).toMatchObject({ ok: false, status: 403, code: "ApiForbidden" });
    expect(authorize(tokens, `Bearer ${WRITE}`, "POST")).toEqual({ ok: true, user: "bob", scope: "write" });
  });

  it("tells loopback hosts from others", () => {
    for (const h of ["127.0.0.1", "127.1.2.3", "::1", "localhost"]) expect(isLoopbackHost(h)).toBe(true);
    for (const h of ["0.0.0.0", "::", "10.0.0.1", "192.168.1.1", "example.com"]) expect(isLoopbackHost(h)).toBe(false);
  });

  it("coxswain run: a non-loopback --listen needs tokens (ApiTokensRequired); with the file, the tokens reach the operator", async () => {
    const dir = await mkdtemp(join(tmpdir(), "coxswain-tokens-"));
    try {
      const file = join(dir, "tokens");
      await writeFile(file, `read ${READ} alice\n`, { mode: 0o600 });
      const lines: string[] = [];
      const run = (...flags: string[]) => runOptions(["--repo", "/srv/repo", ...flags], (l) => lines.push(l));
      expect((await coxErrorOf(run("--listen", "0.0.0.0:8080"))).code).toBe("ApiTokensRequired");
      expect((await coxErrorOf(run("--listen", ":8080"))).code).toBe("ApiTokensRequired");
      expect((await coxErrorOf(run("--api-token-file", file))).code).toBe("InvalidArgument");
      expect((await run("--listen", "127.0.0.1:8080")).apiTokens).toBeUndefined();
      const opts = await run("--listen", "0.0.0.0:8080", "--api-token-file", file);
      expect(opts.apiTokens?.map((t) => t.user)).toEqual(["alice"]);
      expect(lines.join("\n")).not.toContain(READ);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("event ring", () => {
  it("numbers events one more than the last, replays what a Last-Event-ID missed, and resets a client older than the ring", () => {
    const feed = new EventFeed({ capacity: 3, firstId: 100 });
    const seen: number[] = [];
    const unsubscribe = feed.subscribe((e) => seen.push(e.id));
    for (let i = 0; i < 5; i++) feed.publish("node", { i });
    unsubscribe();
    feed.publish("node", { i: 5 });
    expect(seen).toEqual([100, 101, 102, 103, 104]);
    expect(feed.lastId).toBe(105);
    // The ring holds 103..105: from 102 on, resumable.
    expect(feed.since(102)).toEqual({ events: expect.arrayContaining([expect.objectContaining({ id: 103 })]) });
    expect((feed.since(103) as { events: { id: number }[] }).events.map((e) => e.id)).toEqual([104, 105]);
    expect(feed.since(105)).toEqual({ events: [] });
    expect(feed.since(undefined)).toEqual({ events: [] });
    expect(feed.since(101)).toEqual({ reset: { lastEventId: 105, oldestEventId: 103 } });
    // An id of another run (above this one's last) is not trusted either.
    expect(feed.since(106)).toEqual({ reset: { lastEventId: 105, oldestEventId: 103 } });
  });

  it(`keeps the last ${RING_SIZE} events by default`, () => {
    const feed = new EventFeed({ firstId: 1 });
    for (let i = 0; i <= RING_SIZE; i++) feed.publish("pod", { i });
    // Event 1 fell out of the ring: resuming after 0 misses it (reset); after 1, nothing is missed.
    expect(feed.since(0)).toMatchObject({ reset: { lastEventId: RING_SIZE + 1, oldestEventId: 2 } });
    expect((feed.since(1) as { events: unknown[] }).events).toHaveLength(RING_SIZE);
  });

  it("a rollout step is a new revision, other counts, another canary step, pause or Progressing reason; not new events", () => {
    const w = workload("web", { revision: "r1" });
    expect(rolloutEvent(undefined, w)).toMatchObject({ workload: "Deployment/default/web", revision: "r1", canary: null, progressing: null });
    expect(rolloutEvent(w, { ...w, events: [{ time: "t", type: "Normal", reason: "ScalingReplicaSet", message: "m" }] })).toBeUndefined();
    expect(rolloutEvent(w, { ...w, replicas: { ...w.replicas, ready: 2 } })).toMatchObject({ replicas: { ready: 2 } });
    expect(rolloutEvent(w, { ...w, revision: "r2" })).toMatchObject({ revision: "r2" });
    expect(rolloutEvent(w, { ...w, canary: { step: 1, steps: 3, weight: 20 } })).toMatchObject({ canary: { step: 1, steps: 3, weight: 20 } });
  });
});

describe("views", () => {
  it("lists commits newest first (ties by sha), bounded by the limit, marking the applied and the stable one", () => {
    const state: StatusState = {
      summary: { repository: "r", branch: "main", path: "", applied: sha("c"), stable: sha("b"), workloads: { total: 0, ready: 0, progressing: 0, failed: 0 }, nodes: [] },
      commits: [commit("a", "2026-12-06T10:00:00.000Z"), commit("c", "2026-12-06T10:02:00.000Z"), commit("b", "2026-12-06T10:01:00.000Z"), commit("d", "2026-12-06T10:01:00.000Z")],
      workloads: [],
      extra: [],
    };
    const page = commitsView(state, 3, new Map([[sha("c"), { name: "Ann", email: "ann@example.com", time: "2026-12-06T09:59:00.000Z" }]]));
    expect(page.total).toBe(4);
    expect(page.commits.map((c) => c.sha[0])).toEqual(["c", "b", "d"]);
    expect(page.commits[0]).toMatchObject({ applied: true, stable: false, author: { name: "Ann" } });
    expect(page.commits[1]).toMatchObject({ applied: false, stable: true, author: null });
    expect(findCommit(state, sha("b").slice(0, 7))?.commit).toBe(sha("b"));
    expect(findCommit(state, "bb")).toBeUndefined();
  });

  it("lists workloads by namespace, kind and name; finds one by kind in any case, _cluster for the cluster scope", () => {
    const state: StatusState = { commits: [], workloads: [workload("b", { namespace: "shop" }), workload("z"), workload("a", { kind: "StatefulSet" }), workload("a")], extra: [] };
    expect(workloadsView(state).workloads.map((w) => `${w.namespace}/${w.kind}/${w.name}`)).toEqual(["default/Deployment/a", "default/Deployment/z", "default/StatefulSet/a", "shop/Deployment/b"]);
    expect(findWorkload(state, "deployment", "shop", "b")?.name).toBe("b");
    expect(findWorkload({ ...state, workloads: [workload("d", { kind: "DaemonSet", namespace: "" })] }, "DaemonSet", "_cluster", "d")?.name).toBe("d");
  });
});

describe("Service status files", () => {
  it("read back as the record they were rendered from", () => {
    const record: ServiceRecord = {
      namespace: "shop",
      name: "web",
      type: "NodePort",
      ports: [{ name: "http", port: 80, targetPort: "http", nodePort: 30080, ready: [{ pod: "web-a", node: "n1", address: "127.0.0.1:40001" }], notReady: [], terminating: [] }],
      nodes: [{ node: "n1", address: "127.77.0.2", serving: true }],
      rollout: { name: "web", role: "split", stable: "r1", canary: "r2", weight: 20 },
    };
    expect(readServiceRecord(renderServiceRecord(record))).toEqual(record);
    expect(readServiceRecord("not: a service\n")).toBeUndefined();
  });
});

function sha(c: string): string {
  return c.repeat(40);
}

function commit(c: string, seen: string): CommitRecord {
  return { commit: sha(c), branch: "main", subject: c, phase: "Succeeded", message: "", changes: [], errors: [], timings: { seen } };
}

function workload(name: string, o: { kind?: string; namespace?: string; revision?: string } = {}): WorkloadRecord {
  return {
    kind: o.kind ?? "Deployment",
    namespace: o.namespace ?? "default",
    name,
    revision: o.revision ?? "r1",
    commit: sha("a"),
    replicas: { desired: 2, current: 2, updated: 2, ready: 1, available: 1 },
    pods: [],
    conditions: [],
    events: [],
  };
}
