/**
 * The HTTP server with real requests on 127.0.0.1: each provider's signed push reaches onPush at once;
 * bad or missing signatures are 401 and reach nothing; bodies over the limit are 413 whether declared or
 * streamed; a client over its rate gets 429 with Retry-After; pings and other events are answered without
 * a push; /healthz reports and stays 200, /readyz answers 503 when not ready, /metrics serves text; each
 * webhook's provider and result are reported; unknown paths and methods are refused; nothing logged holds
 * the secret.
 */
import { chmod, rm, writeFile } from "node:fs/promises";
import http from "node:http";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { CoxError } from "../../../operator/src/api/errors.js";
import { readWebhookSecretFile, sign, startServer, type PushEvent, type RunningServer, type ServerOptions } from "../../../operator/src/server/index.js";
import { tempDir } from "../../support/git-repo.js";
import { waitFor } from "../../support/wait.js";
import { lineLogger } from "../../support/log.js";

const SECRET = "whsec-9f1c2e7a-coxswain-test";
const AFTER = "bffeb74224043ba2feb48d137756c8a9331c449a";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface Harness {
  server: RunningServer;
  pushes: PushEvent[];
  lines: string[];
}

async function serve(opts: Partial<ServerOptions> = {}): Promise<Harness> {
  const pushes: PushEvent[] = [];
  const lines: string[] = [];
  const server = await startServer({
    listen: "127.0.0.1:0",
    secrets: SECRET,
    onPush: (e) => pushes.push(e),
    rate: 1_000,
    log: lineLogger((l) => lines.push(l)),
    ...opts,
  });
  cleanups.push(() => server.close());
  return { server, pushes, lines };
}

/** A clock the test moves by hand (the rate limit and the refusal log both read it). */
function clock(): { now: () => number; advance: (ms: number) => void } {
  let t = 1_700_000_000_000;
  return { now: () => t, advance: (ms) => (t += ms) };
}

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Record<string, unknown>;
}

/** One real HTTP request; `chunks` sends the body chunked (no Content-Length); `from` is the client's loopback address. */
function request(url: string, opts: { method?: string; headers?: Record<string, string>; body?: string | Buffer; chunks?: Buffer[]; from?: string } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: opts.method ?? "POST", headers: opts.headers ?? {}, agent: false, ...(opts.from ? { localAddress: opts.from } : {}) }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => (text += d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} }));
      res.on("error", reject);
    });
    // The server may answer (413) and close before the whole body is written: the answer is what counts.
    req.on("error", (err) => (req.destroyed && (err as NodeJS.ErrnoException).code === "EPIPE" ? undefined : reject(err)));
    if (opts.chunks) {
      for (const c of opts.chunks) req.write(c);
      req.end();
    } else req.end(opts.body);
  });
}

/** Headers a provider sends with a push of `body`, signed with `secret`. */
function pushHeaders(provider: string, body: string, secret = SECRET): Record<string, string> {
  const hex = sign(secret, body);
  const json = { "content-type": "application/json" };
  switch (provider) {
    case "github":
      return { ...json, "x-github-event": "push", "x-github-delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958", "x-hub-signature-256": `sha256=${hex}`, "user-agent": "GitHub-Hookshot/044aadd" };
    case "gitlab":
      return { ...json, "x-gitlab-event": "Push Hook", "x-gitlab-token": secret, "x-gitlab-event-uuid": "13792a34-cac6-4fda-95a8-c58e00a3954e" };
    case "gitea":
      return { ...json, "x-gitea-event": "push", "x-gitea-delivery": "f6266f16-1bf3-46a5-9ea4-602e06ead473", "x-gitea-signature": hex };
    case "bitbucket":
      return { ...json, "x-event-key": "repo:push", "x-request-uuid": "d0a8b7a0-0e8a-4b8a-9d0a-3c5b3b0a1f2e", "x-hub-signature": `sha256=${hex}` };
    default:
      return { ...json, "x-coxswain-signature-256": `sha256=${hex}` };
  }
}

function pushBody(provider: string): string {
  switch (provider) {
    case "gitlab":
      return JSON.stringify({ object_kind: "push", ref: "refs/heads/main", before: "0".repeat(40), after: AFTER, checkout_sha: AFTER });
    case "bitbucket":
      return JSON.stringify({ push: { changes: [{ new: { type: "branch", name: "main", target: { hash: AFTER } } }] } });
    default:
      return JSON.stringify({ ref: "refs/heads/main", before: "0".repeat(40), after: AFTER });
  }
}

const PROVIDERS = ["github", "gitlab", "gitea", "bitbucket", "generic"];

describe("webhooks", () => {
  it.each(PROVIDERS)("turns a signed %s push into one onPush call with its ref and commit, answered 200", async (provider) => {
    const h = await serve();
    const body = pushBody(provider);
    const r = await request(`${h.server.url}/api/v1/webhooks/${provider}`, { headers: pushHeaders(provider, body), body });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ result: "triggered", ref: "refs/heads/main", after: AFTER });
    expect(h.pushes).toHaveLength(1);
    expect(h.pushes[0]).toMatchObject({ provider, ref: "refs/heads/main", after: AFTER });
  });

  it.each(PROVIDERS)("refuses a %s push signed with another secret with 401 WebhookUnauthorized and calls nothing", async (provider) => {
    const h = await serve();
    const body = pushBody(provider);
    const r = await request(`${h.server.url}/api/v1/webhooks/${provider}`, { headers: pushHeaders(provider, body, "not-the-secret"), body });
    expect(r.status).toBe(401);
    expect(r.body.code).toBe("WebhookUnauthorized");
    expect(h.pushes).toEqual([]);
  });

  it.each(PROVIDERS)("refuses an unsigned %s push with 401", async (provider) => {
    const h = await serve();
    const body = pushBody(provider);
    const headers = Object.fromEntries(Object.entries(pushHeaders(provider, body)).filter(([k]) => !/signature|token/.test(k)));
    const r = await request(`${h.server.url}/api/v1/webhooks/${provider}`, { headers, body });
    expect(r.status).toBe(401);
    expect(h.pushes).toEqual([]);
  });

  it("refuses a provider that has no secret of its own when secrets are given per provider", async () => {
    const h = await serve({ secrets: { github: SECRET } });
    const body = pushBody("gitlab");
    const refused = await request(`${h.server.url}/api/v1/webhooks/gitlab`, { headers: pushHeaders("gitlab", body), body });
    expect(refused.status).toBe(401);
    const gh = pushBody("github");
    const accepted = await request(`${h.server.url}/api/v1/webhooks/github`, { headers: pushHeaders("github", gh), body: gh });
    expect(accepted.status).toBe(200);
    expect(h.pushes.map((p) => p.provider)).toEqual(["github"]);
  });

  it("answers a GitHub ping 200 and a pull_request event 202 without calling onPush", async () => {
    const h = await serve();
    const ping = JSON.stringify({ zen: "Keep it logically awesome.", hook_id: 1 });
    const r1 = await request(`${h.server.url}/api/v1/webhooks/github`, {
      headers: { "content-type": "application/json", "x-github-event": "ping", "x-hub-signature-256": `sha256=${sign(SECRET, ping)}` },
      body: ping,
    });
    expect([r1.status, r1.body.result]).toEqual([200, "pong"]);
    const pr = JSON.stringify({ action: "opened" });
    const r2 = await request(`${h.server.url}/api/v1/webhooks/github`, {
      headers: { "content-type": "application/json", "x-github-event": "pull_request", "x-hub-signature-256": `sha256=${sign(SECRET, pr)}` },
      body: pr,
    });
    expect([r2.status, r2.body.result, r2.body.event]).toEqual([202, "ignored", "pull_request"]);
    expect(h.pushes).toEqual([]);
  });

  it("answers a signed push whose body is not JSON with 400 and calls nothing", async () => {
    const h = await serve();
    const body = "ref=refs/heads/main";
    const r = await request(`${h.server.url}/api/v1/webhooks/github`, { headers: pushHeaders("github", body), body });
    expect(r.status).toBe(400);
    expect(h.pushes).toEqual([]);
  });

  it("calls onPush before answering", async () => {
    let answered = false;
    let pushedBeforeAnswer: boolean | undefined;
    const h = await serve({ onPush: () => (pushedBeforeAnswer = !answered) });
    const body = pushBody("generic");
    await request(`${h.server.url}/api/v1/webhooks/generic`, { headers: pushHeaders("generic", body), body });
    answered = true;
    expect(pushedBeforeAnswer).toBe(true);
  });
});

describe("limits", () => {
  it("refuses a body whose Content-Length is over the limit with 413 before reading it", async () => {
    const h = await serve({ maxBodyBytes: 1024 });
    const body = JSON.stringify({ ref: "refs/heads/main", pad: "x".repeat(4096) });
    const r = await request(`${h.server.url}/api/v1/webhooks/generic`, { headers: pushHeaders("generic", body), body });
    expect(r.status).toBe(413);
    expect(r.body.code).toBe("RequestTooLarge");
    expect(h.pushes).toEqual([]);
  });

  it("refuses a chunked body that grows over the limit with 413", async () => {
    const h = await serve({ maxBodyBytes: 64 * 1024 });
    const chunk = Buffer.alloc(16 * 1024, 0x61);
    const r = await request(`${h.server.url}/api/v1/webhooks/generic`, {
      headers: { "x-coxswain-signature-256": `sha256=${"0".repeat(64)}` },
      chunks: Array.from({ length: 64 }, () => chunk), // 1 MiB
    });
    expect(r.status).toBe(413);
    expect(h.pushes).toEqual([]);
  });

  it("accepts a body of exactly the limit", async () => {
    const h = await serve({ maxBodyBytes: 512 });
    const base = JSON.stringify({ ref: "refs/heads/main", pad: "" });
    const body = JSON.stringify({ ref: "refs/heads/main", pad: "y".repeat(512 - base.length) });
    expect(body.length).toBe(512);
    const r = await request(`${h.server.url}/api/v1/webhooks/generic`, { headers: pushHeaders("generic", body), body });
    expect(r.status).toBe(200);
  });

  it("answers 429 RateLimited with Retry-After once a client exceeds its rate, and serves it again later", async () => {
    // On the test's clock: on the real one a loaded machine could refill a token between two requests.
    const c = clock();
    const h = await serve({ rate: 2, burst: 2, now: c.now });
    const body = pushBody("generic");
    const send = () => request(`${h.server.url}/api/v1/webhooks/generic`, { headers: pushHeaders("generic", body), body });
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await send()).status);
    expect(statuses.slice(0, 2)).toEqual([200, 200]);
    expect(statuses.slice(2)).toEqual([429, 429]);
    const limited = await send();
    expect(limited.body.code).toBe("RateLimited");
    expect(Number(limited.headers["retry-after"])).toBeGreaterThanOrEqual(1);
    expect(h.pushes).toHaveLength(2);
    c.advance(499);
    expect((await send()).status).toBe(429);
    c.advance(1); // 2 per second: one token 500 ms after the last one was taken
    expect((await send()).status).toBe(200);
  });
});

describe("refused requests", () => {
  const refusedLines = (h: Harness, client: string) => h.lines.filter((l) => l.startsWith(`webhook: refused a request from ${client}:`));

  it("counts every refused request per reason in /healthz, and logs at most one line a minute per client", async () => {
    const c = clock();
    const h = await serve({ now: c.now, maxBodyBytes: 1024 });
    const body = pushBody("github");
    const forged = () => request(`${h.server.url}/api/v1/webhooks/github`, { headers: pushHeaders("github", body, "not-the-secret"), body });
    const big = JSON.stringify({ pad: "x".repeat(2048) });
    for (let i = 0; i < 5; i++) expect((await forged()).status).toBe(401);
    for (let i = 0; i < 2; i++) expect((await request(`${h.server.url}/api/v1/webhooks/generic`, { headers: pushHeaders("generic", big), body: big })).status).toBe(413);
    expect(refusedLines(h, "127.0.0.1")).toHaveLength(1);
    // Another client has a line of its own.
    expect((await request(`${h.server.url}/api/v1/webhooks/github`, { headers: pushHeaders("github", body, "not-the-secret"), body, from: "127.0.0.2" })).status).toBe(401);
    expect(refusedLines(h, "127.0.0.2")).toHaveLength(1);

    const health = await request(`${h.server.url}/healthz`, { method: "GET" });
    expect(health.body.webhooks).toEqual({ refused: { incomplete: 0, rateLimited: 0, tooLarge: 2, unauthorized: 6 } });
    expect(h.server.refused()).toEqual({ incomplete: 0, rateLimited: 0, tooLarge: 2, unauthorized: 6 });

    c.advance(59_999);
    await forged();
    expect(refusedLines(h, "127.0.0.1")).toHaveLength(1);
    c.advance(1);
    await forged();
    const lines = refusedLines(h, "127.0.0.1");
    expect(lines).toHaveLength(2);
    // What went unlogged since the first line: 4 + 1 forged, 2 too large.
    expect(lines[1]).toMatch(/and 7 more from 127\.0\.0\.1 since its last line \(tooLarge 2, unauthorized 5\)/);
    expect(h.pushes).toEqual([]);
    expect(h.lines.join("\n")).not.toContain("not-the-secret");
  });

  it("counts requests over the rate and logs them like other refusals", async () => {
    const c = clock();
    const h = await serve({ now: c.now, rate: 1, burst: 1 });
    const body = pushBody("generic");
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await request(`${h.server.url}/api/v1/webhooks/generic`, { headers: pushHeaders("generic", body), body })).status);
    expect(statuses).toEqual([200, 429, 429, 429]);
    expect(refusedLines(h, "127.0.0.1")).toHaveLength(1);
    // /healthz from another client (this one is over its rate).
    const health = await request(`${h.server.url}/healthz`, { method: "GET", from: "127.0.0.3" });
    expect(health.body.webhooks).toEqual({ refused: { incomplete: 0, rateLimited: 3, tooLarge: 0, unauthorized: 0 } });
    // The clock, not the wall, refills the bucket.
    c.advance(1_000);
    expect((await request(`${h.server.url}/api/v1/webhooks/generic`, { headers: pushHeaders("generic", body), body })).status).toBe(200);
  });

  it("counts a body the client abandons, without a line per request", async () => {
    const c = clock();
    const h = await serve({ now: c.now });
    for (let i = 0; i < 3; i++) {
      await new Promise<void>((resolve) => {
        const req = http.request(`${h.server.url}/api/v1/webhooks/generic`, { method: "POST", headers: { "content-length": "1000" }, agent: false });
        req.on("error", () => resolve());
        req.on("close", () => resolve());
        req.write("{", () => req.destroy());
      });
    }
    await waitFor("three abandoned bodies counted", () => h.server.refused().incomplete === 3);
    expect(refusedLines(h, "127.0.0.1")).toHaveLength(1);
    expect(h.lines.filter((l) => l.startsWith("http:"))).toEqual([]);
  });
});

describe("other endpoints", () => {
  it("serves /healthz 200 with the health callback's information and the refusal counts, whatever it says", async () => {
    let failures = 0;
    const h = await serve({ health: () => ({ ok: failures === 0, source: { failures } }) });
    const good = await request(`${h.server.url}/healthz`, { method: "GET" });
    expect(good).toMatchObject({ status: 200, body: { ok: true, source: { failures: 0 }, webhooks: { refused: { unauthorized: 0 } } } });
    // Liveness: a fault outside the process is information, never a reason to be restarted.
    failures = 3;
    const still = await request(`${h.server.url}/healthz`, { method: "GET" });
    expect(still).toMatchObject({ status: 200, body: { ok: true, source: { failures: 3 } } });
  });

  it("serves /readyz 200 or 503 as the ready callback says, with its body", async () => {
    let ready = true;
    const h = await serve({ ready: () => ({ ready, checks: { git: ready ? { ok: true } : { ok: false, code: "GitFetchFailed" } } }) });
    expect(await request(`${h.server.url}/readyz`, { method: "GET" })).toMatchObject({ status: 200, body: { ready: true } });
    ready = false;
    expect(await request(`${h.server.url}/readyz`, { method: "GET" })).toMatchObject({ status: 503, body: { ready: false, checks: { git: { ok: false, code: "GitFetchFailed" } } } });
    expect((await request(`${h.server.url}/healthz`, { method: "GET" })).status).toBe(200);
  });

  it("serves /metrics as text with the callback's content type, and 404 without one", async () => {
    const h = await serve({ metrics: async () => ({ contentType: "text/plain; version=0.0.4; charset=utf-8", text: "# TYPE up gauge\nup 1\n" }) });
    const res = await fetch(`${h.server.url}/metrics`);
    expect([res.status, res.headers.get("content-type"), await res.text()]).toEqual([200, "text/plain; version=0.0.4; charset=utf-8", "# TYPE up gauge\nup 1\n"]);
    const bare = await serve();
    expect((await request(`${bare.server.url}/metrics`, { method: "GET" })).status).toBe(404);
  });

  it("reports each webhook request's provider and result", async () => {
    const seen: string[] = [];
    const h = await serve({ onWebhook: (provider, result) => seen.push(`${provider} ${result}`) });
    const body = pushBody("github");
    await request(`${h.server.url}/api/v1/webhooks/github`, { headers: pushHeaders("github", body), body });
    await request(`${h.server.url}/api/v1/webhooks/gitlab`, { headers: pushHeaders("gitlab", body, "not-the-secret"), body });
    await request(`${h.server.url}/api/v1/webhooks/svn`, { headers: pushHeaders("github", body), body });
    expect(seen).toEqual(["github triggered", "gitlab unauthorized"]);
  });

  it.each([
    ["GET", "/api/v1/webhooks/github", 405],
    ["POST", "/api/v1/webhooks/svn", 404],
    ["POST", "/api/v2/webhooks/github", 404],
    ["POST", "/healthz", 405],
    ["POST", "/readyz", 405],
    ["GET", "/", 404],
  ])("answers %s %s with %i", async (method, path, status) => {
    const h = await serve();
    expect((await request(`${h.server.url}${path}`, { method })).status).toBe(status);
  });

  it("never logs or answers with the secret", async () => {
    const h = await serve();
    const replies: Reply[] = [];
    for (const p of PROVIDERS) {
      const body = pushBody(p);
      replies.push(await request(`${h.server.url}/api/v1/webhooks/${p}`, { headers: pushHeaders(p, body, `${SECRET}-wrong`), body }));
      replies.push(await request(`${h.server.url}/api/v1/webhooks/${p}`, { headers: pushHeaders(p, body), body }));
    }
    const text = JSON.stringify(replies) + h.lines.join("\n");
    expect(text).not.toContain(SECRET);
    expect(h.lines.length).toBeGreaterThan(0);
  });

  it("refuses a listen address it cannot parse or bind", async () => {
    await expect(startServer({ listen: "localhost", onPush: () => undefined })).rejects.toMatchObject({ code: "InvalidArgument" });
    const h = await serve();
    await expect(startServer({ listen: `127.0.0.1:${h.server.port}`, onPush: () => undefined })).rejects.toMatchObject({ code: "InvalidArgument" });
  });
});

describe("readWebhookSecretFile", () => {
  it("reads one line, ignoring surrounding whitespace, and warns about a file others can read", async () => {
    const dir = await tempDir("coxswain-secret-");
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const file = join(dir, "secret");
    await writeFile(file, `  ${SECRET}\n`);
    await chmod(file, 0o644);
    const loose = await readWebhookSecretFile(file);
    expect(loose.secret).toBe(SECRET);
    expect(loose.warnings).toHaveLength(1);
    expect(loose.warnings[0]).toMatch(/0644/);
    expect(loose.warnings.join()).not.toContain(SECRET);
    await chmod(file, 0o600);
    expect((await readWebhookSecretFile(file)).warnings).toEqual([]);
  });

  it.each([
    ["an empty file", "\n\n"],
    ["two lines", "line-a-Zq81\nline-b-Zq82\n"],
  ])("refuses %s with InvalidArgument without quoting it", async (_what, content) => {
    const dir = await tempDir("coxswain-secret-");
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const file = join(dir, "secret");
    await writeFile(file, content, { mode: 0o600 });
    const err = (await readWebhookSecretFile(file).catch((e: unknown) => e)) as CoxError;
    expect(err.code).toBe("InvalidArgument");
    expect(err.message).not.toContain("Zq8");
  });

  it("refuses a missing file with InvalidArgument", async () => {
    await expect(readWebhookSecretFile("/nonexistent/coxswain-secret")).rejects.toMatchObject({ code: "InvalidArgument" });
  });

  it("warns about a short secret", async () => {
    const dir = await tempDir("coxswain-secret-");
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const file = join(dir, "secret");
    await writeFile(file, "short\n", { mode: 0o600 });
    expect((await readWebhookSecretFile(file)).warnings.join()).toMatch(/shorter than 16/);
  });
});
