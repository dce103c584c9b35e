/**
 * `coxswain run --listen … --webhook-secret-file …` in-process, following a remote over the real smart-HTTP
 * Git server (fake runtime): a signed webhook makes the operator fetch and reconcile at once (the poll is
 * set to ten minutes), an unsigned one is refused and fetches nothing, /healthz tells the source state, the
 * applied and stable commits and the nodes, a force-push is reconciled and recorded as rewritten history,
 * a remote that goes away and comes back is picked up without touching what runs, credentials come from
 * the options and never show, and a second operator on the same repository is refused by the writer lock.
 */
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { type CoxError, isCoxError } from "../../../operator/src/api/errors.js";
import { sign } from "../../../operator/src/server/index.js";
import type { WatchState } from "../../../operator/src/source/types.js";
import { deploymentYaml } from "../../support/manifests.js";
import { waitFor } from "../../support/wait.js";
import { operator, record, Scope, type TestOperator } from "../proposals/harness.js";

const SECRET = "whsec-0123456789abcdef0123456789";
const scope = new Scope();
afterEach(() => scope.cleanup());

async function hook(url: string, body: string, secret = SECRET): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${url}/api/v1/webhooks/generic`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-coxswain-signature-256": `sha256=${sign(secret, body)}` },
    body,
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

const web = (image: string) => deploymentYaml({ name: "web", replicas: 2, image });
/** The fetch loop's state as /healthz tells it. */
const source = (t: TestOperator) => t.op.health().source as WatchState;

describe("webhooks trigger the operator", () => {
  it("a signed push is fetched and reconciled at once, before the poll is due", async () => {
    const work = await scope.work();
    const { url } = await scope.served(work);
    await work.write("web.yaml", web("app:v1"));
    const v1 = await work.commit("v1");
    await work.push("origin", "main");
    const t = await operator(scope, { repo: url, pollMs: 600_000, listen: "127.0.0.1:0", webhookSecret: SECRET });
    await t.line(new RegExp(`commit ${v1.slice(0, 7)} .*: valid`));
    await work.write("web.yaml", web("app:v2"));
    const v2 = await work.commit("v2");
    await work.push("origin", "main");
    const pollDue = source(t).nextAttemptAt!;
    const r = await hook(t.op.server!.url, JSON.stringify({ ref: "refs/heads/main", after: v2 }));
    expect(r.status).toBe(200);
    expect(r.body.result).toBe("triggered");
    await t.line(new RegExp(`commit ${v2.slice(0, 7)} .*: valid`));
    // The fetch that brought v2 was the hook's: it succeeded before the next poll (ten minutes away) was due.
    // How fast a hook turns into a reconcile is a figure of `npm run bench:latency`, not a test.
    expect(Date.parse(source(t).lastSuccessAt!)).toBeLessThan(Date.parse(pollDue));
  });

  it("refuses a push signed with another secret with 401 and fetches nothing", async () => {
    const work = await scope.work();
    const { url, server } = await scope.served(work);
    await work.write("web.yaml", web("app:v1"));
    const v1 = await work.commit("v1");
    await work.push("origin", "main");
    const t = await operator(scope, { repo: url, pollMs: 600_000, listen: "127.0.0.1:0", webhookSecret: SECRET });
    await t.line(new RegExp(`commit ${v1.slice(0, 7)} .*: valid`));
    await work.write("web.yaml", web("app:v2"));
    const v2 = await work.commit("v2");
    await work.push("origin", "main");
    // Fetches only: the operator may still be pushing the status branch (receive-pack) of v1.
    const before = { fetches: server.fetches, source: source(t) };
    const r = await hook(t.op.server!.url, JSON.stringify({ ref: "refs/heads/main" }), "wrong-secret-wrong-secret");
    expect(r.status).toBe(401);
    expect(r.body.code).toBe("WebhookUnauthorized");
    // The server decides before it answers, and a trigger starts the fetch at once (it drops the next poll
    // time): with the 401 in hand, an unchanged next poll time means no fetch was started.
    expect(source(t)).toEqual(before.source);
    expect(server.fetches).toBe(before.fetches);
    expect(t.lines.some((l) => l.includes(v2.slice(0, 7)))).toBe(false);
    expect(t.lines.join("\n")).not.toContain(SECRET);
    const health = (await (await fetch(`${t.op.server!.url}/healthz`)).json()) as Record<string, unknown>;
    expect(health.webhooks).toEqual({ refused: { incomplete: 0, rateLimited: 0, tooLarge: 0, unauthorized: 1 } });
    // The same push with the right signature is fetched: the refusal above was the secret's doing.
    expect((await hook(t.op.server!.url, JSON.stringify({ ref: "refs/heads/main" }))).status).toBe(200);
    await t.line(new RegExp(`commit ${v2.slice(0, 7)} .*: valid`));
  });

  it("/healthz reports the source, the applied and stable commits and the nodes; the server closes on stop", async () => {
    const work = await scope.work();
    const { url } = await scope.served(work);
    await work.write("web.yaml", web("app:v1"));
    const v1 = await work.commit("v1");
    await work.push("origin", "main");
    const t = await operator(scope, { repo: url, listen: "127.0.0.1:0", webhookSecret: SECRET });
    await waitFor("v1 Succeeded", () => t.op.store.getCommit(v1)?.phase === "Succeeded", 30_000, 50);
    const base = t.op.server!.url;
    const res = await fetch(`${base}/healthz`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ ok: true, branch: "main", applied: v1, stable: v1, source: { remote: true, failures: 0 } });
    expect(body.nodes).toEqual([{ name: "local", ready: true, pods: 2 }]);
    expect(String(body.repository)).toBe(url);
    await t.stop();
    await expect(fetch(`${base}/healthz`)).rejects.toThrow();
  });
});

describe("the remote as the whole interface", () => {
  it("reconciles a force-pushed branch to its new head and records that history was rewritten", async () => {
    const work = await scope.work();
    const { url, gitdir } = await scope.served(work);
    await work.write("web.yaml", web("app:v1"));
    const v1 = await work.commit("v1");
    await work.push("origin", "main");
    const t = await operator(scope, { repo: url, listen: "127.0.0.1:0", webhookSecret: SECRET, pollMs: 600_000 });
    await waitFor("v1 Succeeded", () => t.op.store.getCommit(v1)?.phase === "Succeeded", 30_000, 50);
    await work.write("web.yaml", web("app:v2"));
    const v2 = await work.commit("v2");
    await work.push("origin", "main");
    await hook(t.op.server!.url, "{}");
    await waitFor("v2 Succeeded", () => t.op.store.getCommit(v2)?.phase === "Succeeded", 30_000, 50);
    // Rewrite: drop v2, commit v3 on v1, force-push.
    await work.git(["reset", "--quiet", "--hard", v1]);
    await work.write("web.yaml", web("app:v3"));
    const v3 = await work.commit("v3 on a rewritten branch");
    await work.git(["push", "--quiet", "--force", "origin", "main:main"]);
    await hook(t.op.server!.url, "{}");
    await waitFor("v3 Succeeded", () => t.op.store.getCommit(v3)?.phase === "Succeeded", 30_000, 50);
    expect(t.op.store.getCommit(v3)!.historyRewritten).toBe(true);
    expect(t.op.store.getCommit(v2)!.historyRewritten).toBeUndefined();
    expect(await record(t, gitdir, v3)).toMatch(/^historyRewritten: true$/m);
    expect(t.lines.some((l) => l.includes(`branch main was rewritten: ${v3.slice(0, 7)} does not descend from ${v2.slice(0, 7)}`))).toBe(true);
    expect((await t.containers()).map((c) => c.image)).toEqual(["app:v3", "app:v3"]);
  });

  it("leaves what runs alone while the remote is down, and picks it up again when it returns", async () => {
    const work = await scope.work();
    const { url, server } = await scope.served(work);
    await work.write("web.yaml", web("app:v1"));
    const v1 = await work.commit("v1");
    await work.push("origin", "main");
    const t = await operator(scope, { repo: url, pollMs: 100, fetchBackoff: { initialMs: 100, maxMs: 200 }, gitTimeoutMs: 2_000 });
    await waitFor("v1 Succeeded", () => t.op.store.getCommit(v1)?.phase === "Succeeded", 30_000, 50);
    const running = (await t.containers()).map((c) => c.pod);
    server.stall("reset");
    await t.line(/^source: GitFetchFailed: .*retrying \(\d+ failure\(s\) in a row\), what runs is left as it is$/);
    await waitFor("several failures", () => (t.op.health().source as { failures: number }).failures >= 2, 30_000, 50);
    expect((await t.containers()).map((c) => c.pod)).toEqual(running);
    server.stall(false);
    await work.write("web.yaml", web("app:v2"));
    const v2 = await work.commit("v2");
    await work.push("origin", "main");
    await t.line(/^source: .* answers again after \d+ failed fetch\(es\)$/);
    await waitFor("v2 Succeeded", () => t.op.store.getCommit(v2)?.phase === "Succeeded", 30_000, 50);
  });

  it("uses credentials given as options and keeps them out of every log line and file", async () => {
    const work = await scope.work();
    const auth = { username: "deployer", password: "pa55-W0RD-for-the-test" };
    const { url } = await scope.served(work, auth);
    await work.write("web.yaml", web("app:v1"));
    const v1 = await work.commit("v1");
    await work.push("origin", "main");
    const stateDir = await scope.dir("coxswain-state-");
    const t = await operator(scope, { repo: url, stateDir, gitCredentials: auth });
    await waitFor("v1 Succeeded", () => t.op.store.getCommit(v1)?.phase === "Succeeded", 30_000, 50);
    await t.op.flushStatus();
    await t.stop();
    expect(t.lines.join("\n")).not.toContain(auth.password);
    const files: string[] = [];
    const walk = async (d: string): Promise<void> => {
      for (const e of await readdir(d, { withFileTypes: true })) {
        if (e.isDirectory()) await walk(join(d, e.name));
        else if (!/\.(pack|idx)$/.test(e.name) && !d.includes(`${join("objects", "")}`)) files.push(join(d, e.name));
      }
    };
    await walk(stateDir);
    for (const f of files) expect(await readFile(f, "utf8"), f).not.toContain(auth.password);
  });

  it("refuses a second operator on the same repository, and lets one start again after a stop", async () => {
    const work = await scope.work();
    const { url } = await scope.served(work);
    await work.write("web.yaml", web("app:v1"));
    await work.commit("v1");
    await work.push("origin", "main");
    const stateDir = await scope.dir("coxswain-state-");
    const first = await operator(scope, { repo: url, stateDir });
    const err = await operator(scope, { repo: url, stateDir }).catch((e: unknown) => e);
    expect(isCoxError(err, "InvalidArgument")).toBe(true);
    // Same process here: "already locked by this process"; from another process: "another coxswain writes this repository: pid …".
    expect((err as CoxError).message).toMatch(/is already locked by this process \(coxswain run/);
    await first.stop();
    const again = await operator(scope, { repo: url, stateDir });
    await again.stop();
  });
});
