/**
 * Webhook verification and parsing per provider, with each provider's documented headers and sample
 * payloads: a valid signature or token is accepted, anything else (wrong secret, tampered body, missing
 * or malformed header, no secret configured) is refused; push, ping and other events are told apart.
 */
import { describe, expect, it } from "vitest";
import { parseWebhookEvent, sign, verifyWebhook, type Headers, type Provider } from "../../../operator/src/server/webhooks.js";

const SECRET = "s3cret-webhook-token-0123456789";
const AFTER = "bffeb74224043ba2feb48d137756c8a9331c449a";

/** The signature header a provider sends for `body` under `secret`. */
function signed(provider: Provider, body: string, secret = SECRET): Headers {
  const hex = sign(secret, body);
  switch (provider) {
    case "github":
      return { "x-hub-signature-256": `sha256=${hex}` };
    case "bitbucket":
      return { "x-hub-signature": `sha256=${hex}` };
    case "gitea":
      return { "x-gitea-signature": hex };
    case "generic":
      return { "x-coxswain-signature-256": `sha256=${hex}` };
    case "gitlab":
      return { "x-gitlab-token": secret };
  }
}

const ALL: Provider[] = ["github", "gitlab", "gitea", "bitbucket", "generic"];
const body = (text: string): Uint8Array => Buffer.from(text, "utf8");

describe("verifyWebhook", () => {
  it('accepts GitHub\'s documented test delivery (secret "It\'s a Secret to Everybody", body "Hello, World!")', () => {
    const headers = { "x-hub-signature-256": "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17" };
    expect(verifyWebhook("github", headers, body("Hello, World!"), "It's a Secret to Everybody")).toEqual({ ok: true });
    expect(verifyWebhook("github", headers, body("Hello, World?"), "It's a Secret to Everybody").ok).toBe(false);
  });

  it.each(ALL)("accepts a %s request signed with the secret", (provider) => {
    const text = JSON.stringify({ ref: "refs/heads/main", after: AFTER });
    expect(verifyWebhook(provider, signed(provider, text), body(text), SECRET)).toEqual({ ok: true });
  });

  it.each(ALL)("accepts upper-case hex and surrounding spaces in a %s signature", (provider) => {
    const text = "{}";
    const headers = Object.fromEntries(Object.entries(signed(provider, text)).map(([k, v]) => [k, provider === "gitlab" ? v : ` ${String(v).replace(/[0-9a-f]{64}/, (h) => h.toUpperCase())} `]));
    expect(verifyWebhook(provider, headers, body(text), SECRET)).toEqual({ ok: true });
  });

  const SIGNED: Provider[] = ["github", "gitea", "bitbucket", "generic"];
  const refusals: [string, (p: Provider, text: string) => Headers, Provider[]][] = [
    ["signed with another secret", (p, text) => signed(p, text, "another-secret"), ALL],
    ["whose body was changed after signing", (p, text) => signed(p, `${text} `), SIGNED],
    ["without the signature header", () => ({}), ALL],
    ["with a malformed signature header", (p) => Object.fromEntries(Object.keys(signed(p, "")).map((k) => [k, "sha1=abc"])), ALL],
  ];
  for (const [what, headers, providers] of refusals) {
    it.each(providers)(`refuses a %s request ${what}`, (provider) => {
      const text = '{"ref":"refs/heads/main"}';
      const v = verifyWebhook(provider, headers(provider, text), body(text), SECRET);
      expect(v.ok).toBe(false);
      if (!v.ok) expect(v.reason).not.toContain(SECRET);
    });
  }

  it.each(ALL)("refuses every %s request when no secret is configured", (provider) => {
    const text = "{}";
    expect(verifyWebhook(provider, signed(provider, text, ""), body(text), "").ok).toBe(false);
  });

  it("does not take GitHub's SHA-1 X-Hub-Signature for GitHub, nor GitHub's header for Bitbucket", () => {
    const text = "{}";
    expect(verifyWebhook("github", { "x-hub-signature": `sha256=${sign(SECRET, text)}` }, body(text), SECRET).ok).toBe(false);
    expect(verifyWebhook("bitbucket", { "x-hub-signature-256": `sha256=${sign(SECRET, text)}` }, body(text), SECRET).ok).toBe(false);
  });

  it("accepts Forgejo's X-Forgejo-Signature on the gitea endpoint", () => {
    const text = "{}";
    expect(verifyWebhook("gitea", { "x-forgejo-signature": sign(SECRET, text) }, body(text), SECRET)).toEqual({ ok: true });
  });

  it("accepts a GitLab request whatever its body: GitLab's token authenticates the sender, it does not sign the body", () => {
    expect(verifyWebhook("gitlab", { "x-gitlab-token": SECRET }, body("anything"), SECRET)).toEqual({ ok: true });
  });

  it("refuses a GitLab token that is a prefix or an extension of the secret", () => {
    for (const token of [SECRET.slice(0, -1), `${SECRET}x`, "", SECRET.toUpperCase()]) {
      expect(verifyWebhook("gitlab", { "x-gitlab-token": token }, body("{}"), SECRET).ok).toBe(false);
    }
  });
});

describe("parseWebhookEvent", () => {
  const cases: [string, Provider, Headers, unknown, ReturnType<typeof parseWebhookEvent>][] = [
    // GitHub: X-GitHub-Event names the event; push bodies carry ref and after.
    ["a GitHub push", "github", { "x-github-event": "push", "content-type": "application/json" }, { ref: "refs/heads/main", before: "0".repeat(40), after: AFTER }, { kind: "push", ref: "refs/heads/main", after: AFTER }],
    ["a GitHub ping", "github", { "x-github-event": "ping" }, { zen: "Encourage flow.", hook_id: 2472869 }, { kind: "ping" }],
    ["a GitHub pull_request event", "github", { "x-github-event": "pull_request" }, { action: "opened" }, { kind: "ignored", event: "pull_request" }],
    ["a GitHub delivery without an event header", "github", {}, {}, { kind: "ignored", event: "(no X-GitHub-Event)" }],
    // GitLab: Push Hook; Tag Push Hook is not a branch move; System Hook carries object_kind.
    [
      "a GitLab Push Hook",
      "gitlab",
      { "x-gitlab-event": "Push Hook" },
      {
        object_kind: "push",
        event_name: "push",
        before: "a08b7d82ceaabc27394f526f35c22ff581a18a39",
        after: "787ef6aa092e4b9ed30fe29c7fc5c9cf4ac194d8",
        ref: "refs/heads/main",
        checkout_sha: "787ef6aa092e4b9ed30fe29c7fc5c9cf4ac194d8",
      },
      { kind: "push", ref: "refs/heads/main", after: "787ef6aa092e4b9ed30fe29c7fc5c9cf4ac194d8" },
    ],
    ["a GitLab System Hook for a push", "gitlab", { "x-gitlab-event": "System Hook" }, { object_kind: "push", ref: "refs/heads/main", after: AFTER }, { kind: "push", ref: "refs/heads/main", after: AFTER }],
    ["a GitLab System Hook for a tag push", "gitlab", { "x-gitlab-event": "System Hook" }, { object_kind: "tag_push", ref: "refs/tags/v1" }, { kind: "ignored", event: "System Hook tag_push" }],
    ["a GitLab Tag Push Hook", "gitlab", { "x-gitlab-event": "Tag Push Hook" }, { object_kind: "tag_push" }, { kind: "ignored", event: "Tag Push Hook" }],
    ["a GitLab Merge Request Hook", "gitlab", { "x-gitlab-event": "Merge Request Hook" }, { object_kind: "merge_request" }, { kind: "ignored", event: "Merge Request Hook" }],
    // Gitea: the documented sample (X-Gitea-Event: push, ref refs/heads/develop).
    [
      "Gitea's documented push sample",
      "gitea",
      { "x-gitea-event": "push", "x-gitea-delivery": "f6266f16-1bf3-46a5-9ea4-602e06ead473", "x-github-event": "push", "x-gogs-event": "push" },
      { ref: "refs/heads/develop", before: "28e1879d029cb852e4844d9c718537df08844e03", after: AFTER },
      { kind: "push", ref: "refs/heads/develop", after: AFTER },
    ],
    ["a Gitea create event", "gitea", { "x-gitea-event": "create" }, {}, { kind: "ignored", event: "create" }],
    // Bitbucket Cloud repo:push and Data Center repo:refs_changed; diagnostics:ping.
    [
      "a Bitbucket Cloud repo:push",
      "bitbucket",
      { "x-event-key": "repo:push" },
      { push: { changes: [{ new: { type: "branch", name: "main", target: { type: "commit", hash: AFTER } }, old: null }] } },
      { kind: "push", ref: "refs/heads/main", after: AFTER },
    ],
    [
      "a Bitbucket Cloud tag push",
      "bitbucket",
      { "x-event-key": "repo:push" },
      { push: { changes: [{ new: { type: "tag", name: "v1", target: { hash: AFTER } } }] } },
      { kind: "push", ref: "refs/tags/v1", after: AFTER },
    ],
    ["a Bitbucket branch deletion (new: null)", "bitbucket", { "x-event-key": "repo:push" }, { push: { changes: [{ new: null, old: { type: "branch", name: "gone" } }] } }, { kind: "push" }],
    [
      "a Bitbucket Data Center repo:refs_changed",
      "bitbucket",
      { "x-event-key": "repo:refs_changed" },
      { changes: [{ ref: { id: "refs/heads/main", displayId: "main", type: "BRANCH" }, refId: "refs/heads/main", fromHash: "0".repeat(40), toHash: AFTER, type: "UPDATE" }] },
      { kind: "push", ref: "refs/heads/main", after: AFTER },
    ],
    ["a Bitbucket diagnostics:ping", "bitbucket", { "x-event-key": "diagnostics:ping" }, { test: true }, { kind: "ping" }],
    ["a Bitbucket pullrequest:created", "bitbucket", { "x-event-key": "pullrequest:created" }, {}, { kind: "ignored", event: "pullrequest:created" }],
    // generic: push unless told otherwise.
    ["a generic push with ref and after", "generic", {}, { ref: "refs/heads/main", after: AFTER.toUpperCase() }, { kind: "push", ref: "refs/heads/main", after: AFTER }],
    ["a generic push with an invalid after (ignored)", "generic", {}, { after: "not-a-sha" }, { kind: "push" }],
    ["a generic ping", "generic", { "x-coxswain-event": "ping" }, {}, { kind: "ping" }],
    ["a generic other event", "generic", { "x-coxswain-event": "build" }, {}, { kind: "ignored", event: "build" }],
  ];
  it.each(cases)("reads %s", (_what, provider, headers, payload, expected) => {
    expect(parseWebhookEvent(provider, headers, body(JSON.stringify(payload)))).toEqual(expected);
  });

  it("reads a GitHub push sent as application/x-www-form-urlencoded (payload=<json>)", () => {
    const form = new URLSearchParams({ payload: JSON.stringify({ ref: "refs/heads/main", after: AFTER }) }).toString();
    expect(parseWebhookEvent("github", { "x-github-event": "push", "content-type": "application/x-www-form-urlencoded" }, body(form))).toEqual({
      kind: "push",
      ref: "refs/heads/main",
      after: AFTER,
    });
  });

  it("reads a generic push with an empty body", () => {
    expect(parseWebhookEvent("generic", {}, new Uint8Array())).toEqual({ kind: "push" });
  });

  it.each([["not json"], ["[1,2]"], ['"text"']])("calls a push body %j invalid", (text) => {
    expect(parseWebhookEvent("github", { "x-github-event": "push" }, body(text)).kind).toBe("invalid");
    expect(parseWebhookEvent("generic", {}, body(text)).kind).toBe("invalid");
  });
});
