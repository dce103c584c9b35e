/**
 * The forge client and publisher against the fake forge on 127.0.0.1, for each forge: a 503 is retried
 * until it answers, a 401 is not (the post is dropped, logged without the token, counted); one comment per
 * marker, edited and not posted anew, posted anew when it was deleted on the forge; of several queued
 * bodies of one marker only the newest goes out; a branch with no open request gets no comment. Closing
 * drops what is queued, and aborting the client's signal ends a request a hanging forge never answers.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { createForgeClient, FORGE_KINDS, type ForgeKind } from "../../../operator/src/forge/client.js";
import { ForgePublisher } from "../../../operator/src/forge/publisher.js";
import { startFakeForge, type FakeForge } from "../../support/forge-server.js";
import { lineLogger } from "../../support/log.js";

const TOKEN = "forge-token-0b7d3e9a1c";
const SHA = "c".repeat(40);
const opened: FakeForge[] = [];
afterEach(async () => {
  for (const f of opened.splice(0)) await f.close();
});

async function setup(kind: ForgeKind, token = TOKEN) {
  const forge = await startFakeForge(kind, "acme/deploy", TOKEN);
  opened.push(forge);
  const lines: string[] = [];
  const calls: string[] = [];
  const publisher = new ForgePublisher({
    client: createForgeClient({ kind, url: forge.url, repo: "acme/deploy", token }),
    log: lineLogger((l) => lines.push(l)),
    backoff: { initialMs: 5, maxMs: 20, jitter: 0.2 },
    onCall: (r) => calls.push(r),
  });
  return { forge, publisher, lines, calls };
}

describe.each(FORGE_KINDS)("%s", (kind) => {
  it("retries a 503 until the forge answers", async () => {
    const { forge, publisher, calls } = await setup(kind);
    forge.failNext(2, 503);
    publisher.status({ sha: SHA, state: "pending", context: "coxswain/plan", description: "x".repeat(200) });
    await publisher.idle();
    expect(forge.statuses).toEqual([{ sha: SHA, state: "pending", context: "coxswain/plan", description: `${"x".repeat(139)}…` }]);
    expect(forge.requests).toHaveLength(3);
    expect(calls).toEqual(["ok"]);
  });

  it("drops a post the forge refuses (401) at once, logs it without the token, counts it", async () => {
    const { forge, publisher, lines, calls } = await setup(kind, "wrong-token-5e6f7a8b");
    publisher.status({ sha: SHA, state: "failure", context: "coxswain/plan", description: "invalid" });
    await publisher.idle();
    expect(forge.requests).toHaveLength(1);
    expect(forge.statuses).toEqual([]);
    expect(calls).toEqual(["failed"]);
    expect(publisher.failed).toBe(1);
    expect(lines).toEqual([expect.stringMatching(new RegExp(`^forge ${kind}: status coxswain/plan failure on ccccccc not posted: ${kind}: POST \\S+/statuses/c{40}: HTTP 401 `))]);
    expect(lines.join("\n")).not.toMatch(/wrong-token/);
  });

  it("keeps one comment per marker: edited, posted anew once deleted; only the newest of queued bodies goes out", async () => {
    const { forge, publisher } = await setup(kind);
    forge.openRequest("pr/a", 4);
    const marker = "<!-- coxswain-plan pr-a -->";
    publisher.comment({ branch: "pr/a" }, marker, `${marker}\none`);
    await publisher.idle();
    publisher.comment({ branch: "pr/a" }, marker, `${marker}\ntwo`);
    publisher.comment({ branch: "pr/a" }, marker, `${marker}\nthree`);
    await publisher.idle();
    expect(forge.comments.get(4)!.map((c) => c.body)).toEqual([`${marker}\nthree`]);
    const edits = forge.requests.filter((r) => r.method === "PATCH" || r.method === "PUT");
    expect(edits).toHaveLength(1);
    // Deleted on the forge: the remembered id answers 404; the comment is posted anew.
    forge.comments.set(4, []);
    publisher.comment({ request: 4 }, marker, `${marker}\nfour`);
    await publisher.idle();
    expect(forge.comments.get(4)!.map((c) => c.body)).toEqual([`${marker}\nfour`]);
  });

  it("finds a comment it made before (a restart) by its marker among others", async () => {
    const { forge, publisher } = await setup(kind);
    forge.openRequest("pr/b", 9);
    forge.comments.set(9, [
      { id: 1, body: "LGTM" },
      { id: 2, body: "<!-- coxswain-plan pr-b -->\nold" },
    ]);
    publisher.comment({ branch: "pr/b" }, "<!-- coxswain-plan pr-b -->", "<!-- coxswain-plan pr-b -->\nnew");
    await publisher.idle();
    expect(forge.comments.get(9)).toEqual([
      { id: 1, body: "LGTM" },
      { id: 2, body: "<!-- coxswain-plan pr-b -->\nnew" },
    ]);
  });

  it("comments nothing for a branch without an open request, and says so once", async () => {
    const { forge, publisher, lines } = await setup(kind);
    publisher.comment({ branch: "pr/none" }, "<!-- m -->", "a");
    publisher.comment({ branch: "pr/none" }, "<!-- n -->", "b");
    await publisher.idle();
    expect([...forge.comments.values()].flat()).toEqual([]);
    expect(lines).toEqual([`forge ${kind}: no open pull/merge request from branch pr/none; its plan is not commented (statuses are set)`]);
  });
});

describe("stopping", () => {
  it("drops what is queued when closed", async () => {
    const { forge, publisher } = await setup("github");
    for (const state of ["pending", "success"] as const) publisher.status({ sha: SHA, state, context: "coxswain/plan", description: state });
    await publisher.close();
    expect(forge.requests).toEqual([]);
  });

  it("ends a request the forge never answers when the signal aborts", async () => {
    const server = createServer(() => undefined); // never answers
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const abort = new AbortController();
      const client = createForgeClient({ kind: "gitea", url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1`, repo: "acme/deploy", token: TOKEN, signal: abort.signal });
      const call = client.setStatus({ sha: SHA, state: "pending", context: "coxswain/plan", description: "x" });
      const outcome = call.then(
        () => "answered",
        (err: { code?: string }) => err.code,
      );
      await new Promise((resolve) => server.once("request", resolve)); // in flight
      abort.abort();
      expect(await outcome).toBe("ForgeRequestFailed");
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
