/**
 * Webhook verification and event parsing, per provider, as each documents it. Pure: headers and the raw
 * body in, a decision out. Every comparison of a secret or signature is constant-time.
 *
 * | provider  | authenticity                                                  | push event                              | ping                     |
 * |-----------|---------------------------------------------------------------|-----------------------------------------|--------------------------|
 * | github    | X-Hub-Signature-256: sha256=<hex HMAC-SHA256(secret, body)>    | X-GitHub-Event: push                     | X-GitHub-Event: ping      |
 * | gitlab    | X-Gitlab-Token: <secret> (the token itself)                   | X-Gitlab-Event: Push Hook (or System Hook with object_kind push) | —  |
 * | gitea     | X-Gitea-Signature: <hex HMAC-SHA256(secret, body)> (Forgejo: X-Forgejo-Signature) | X-Gitea-Event: push (X-Forgejo-/X-Gogs-Event) | —      |
 * | bitbucket | X-Hub-Signature: sha256=<hex HMAC-SHA256(secret, body)>        | X-Event-Key: repo:push (Cloud), repo:refs_changed (Data Center) | X-Event-Key: diagnostics:ping |
 * | generic   | X-Coxswain-Signature-256: sha256=<hex HMAC-SHA256(secret, body)> | always (X-Coxswain-Event absent or push) | X-Coxswain-Event: ping |
 *
 * A push's ref and new head are read from the body when present (GitHub/Gitea/GitLab/generic: `ref`,
 * `after`; Bitbucket Cloud: push.changes[0].new; Data Center: changes[0].refId/toHash); they are advisory —
 * the operator fetches and reads the refs itself.
 */
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";

/** The webhook endpoints served: POST /api/v1/webhooks/<provider>. */
export const PROVIDERS = ["bitbucket", "generic", "gitea", "github", "gitlab"] as const;
/** A webhook provider. */
export type Provider = (typeof PROVIDERS)[number];

/** Request headers by lower-case name, as node:http gives them. */
export type Headers = Record<string, string | string[] | undefined>;

/** A verified push: what the operator is told. */
export interface PushEvent {
  provider: Provider;
  /** Full ref that moved, e.g. "refs/heads/main", when the body says. */
  ref?: string;
  /** Its new commit, when the body says (40 zeros for a deleted branch, as providers send). */
  after?: string;
  /** The provider's delivery id, for logs. */
  delivery?: string;
}

/** What a verified request asks for. */
export type WebhookEvent = { kind: "push"; ref?: string; after?: string } | { kind: "ping" } | { kind: "ignored"; event: string } | { kind: "invalid"; message: string };

/** The outcome of verifyWebhook: ok, or why not (the reason never contains the secret or the signature). */
export type Verification = { ok: true } | { ok: false; reason: string };

/** hex HMAC-SHA256 of body under secret: what GitHub, Gitea, Bitbucket and the generic endpoint send. */
export function sign(secret: string, body: Uint8Array | string): string {
  return createHmac("sha256", secret).update(body).digest("hex");
}

/** Checks a request's signature or token for `provider` against `secret`. Constant-time comparisons. */
export function verifyWebhook(provider: Provider, headers: Headers, body: Uint8Array, secret: string): Verification {
  if (secret === "") return { ok: false, reason: `no secret is configured for ${provider} webhooks` };
  switch (provider) {
    case "github":
      return verifyPrefixed(header(headers, "x-hub-signature-256"), "X-Hub-Signature-256", secret, body);
    case "bitbucket":
      return verifyPrefixed(header(headers, "x-hub-signature"), "X-Hub-Signature", secret, body);
    case "generic":
      return verifyPrefixed(header(headers, "x-coxswain-signature-256"), "X-Coxswain-Signature-256", secret, body);
    case "gitea": {
      const name = header(headers, "x-gitea-signature") !== undefined ? "X-Gitea-Signature" : "X-Forgejo-Signature";
      const value = header(headers, name.toLowerCase());
      if (value === undefined) return { ok: false, reason: "missing X-Gitea-Signature header" };
      if (!/^[0-9a-fA-F]{64}$/.test(value.trim())) return { ok: false, reason: `${name} is not a hex HMAC-SHA256` };
      return hexEqual(value.trim(), sign(secret, body)) ? { ok: true } : { ok: false, reason: `${name} does not match the body` };
    }
    case "gitlab": {
      const token = header(headers, "x-gitlab-token");
      if (token === undefined) return { ok: false, reason: "missing X-Gitlab-Token header" };
      return secretEqual(token, secret) ? { ok: true } : { ok: false, reason: "X-Gitlab-Token does not match the secret" };
    }
  }
}

/** What a verified request asks for, from its event header and body. */
export function parseWebhookEvent(provider: Provider, headers: Headers, body: Uint8Array): WebhookEvent {
  switch (provider) {
    case "github": {
      const event = header(headers, "x-github-event") ?? "";
      if (event === "ping") return { kind: "ping" };
      if (event !== "push") return { kind: "ignored", event: event || "(no X-GitHub-Event)" };
      return pushFromBody(githubBody(headers, body), (b) => ({ ref: str(b.ref), after: str(b.after) }));
    }
    case "gitea": {
      const event = header(headers, "x-gitea-event") ?? header(headers, "x-forgejo-event") ?? header(headers, "x-gogs-event") ?? "";
      if (event !== "push") return { kind: "ignored", event: event || "(no X-Gitea-Event)" };
      return pushFromBody(body, (b) => ({ ref: str(b.ref), after: str(b.after) }));
    }
    case "gitlab": {
      const event = header(headers, "x-gitlab-event") ?? "";
      if (event !== "Push Hook" && event !== "System Hook") return { kind: "ignored", event: event || "(no X-Gitlab-Event)" };
      const parsed = parseJson(body);
      if (!parsed.ok) return { kind: "invalid", message: parsed.message };
      const b = parsed.value;
      // System hooks carry every kind of event; only object_kind push moves a branch (tag_push does not).
      if (str(b.object_kind) !== undefined && b.object_kind !== "push") return { kind: "ignored", event: `${event} ${String(b.object_kind)}` };
      return push({ ref: str(b.ref), after: str(b.after) ?? str(b.checkout_sha) });
    }
    case "bitbucket": {
      const event = header(headers, "x-event-key") ?? "";
      if (event === "diagnostics:ping") return { kind: "ping" };
      if (event === "repo:push") {
        return pushFromBody(body, (b) => {
          const change = firstOf((b.push as Record<string, unknown> | undefined)?.changes);
          const next = (change?.new ?? undefined) as Record<string, unknown> | undefined;
          const name = str(next?.name);
          const type = str(next?.type);
          const ref = name === undefined ? undefined : type === "tag" ? `refs/tags/${name}` : `refs/heads/${name}`;
          return { ref, after: str((next?.target as Record<string, unknown> | undefined)?.hash) };
        });
      }
      if (event === "repo:refs_changed") {
        return pushFromBody(body, (b) => {
          const change = firstOf(b.changes);
          return { ref: str(change?.refId) ?? str((change?.ref as Record<string, unknown> | undefined)?.id), after: str(change?.toHash) };
        });
      }
      return { kind: "ignored", event: event || "(no X-Event-Key)" };
    }
    case "generic": {
      const event = header(headers, "x-coxswain-event") ?? "push";
      if (event === "ping") return { kind: "ping" };
      if (event !== "push") return { kind: "ignored", event };
      if (body.length === 0) return { kind: "push" };
      return pushFromBody(body, (b) => ({ ref: str(b.ref), after: str(b.after) }));
    }
  }
}

/** The provider's delivery id (for logs), when it sends one. */
export function deliveryId(provider: Provider, headers: Headers): string | undefined {
  const name = {
    github: "x-github-delivery",
    gitea: "x-gitea-delivery",
    gitlab: "x-gitlab-event-uuid",
    bitbucket: "x-request-uuid",
    generic: "x-coxswain-delivery",
  }[provider];
  const v = header(headers, name) ?? (provider === "bitbucket" ? header(headers, "x-request-id") : undefined);
  return v === undefined ? undefined : v.slice(0, 100);
}

// ---------------------------------------------------------------- helpers

function header(headers: Headers, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function verifyPrefixed(value: string | undefined, name: string, secret: string, body: Uint8Array): Verification {
  if (value === undefined) return { ok: false, reason: `missing ${name} header` };
  const m = /^sha256=([0-9a-fA-F]{64})$/.exec(value.trim());
  if (!m) return { ok: false, reason: `${name} is not of the form sha256=<64 hex digits>` };
  return hexEqual(m[1]!, sign(secret, body)) ? { ok: true } : { ok: false, reason: `${name} does not match the body` };
}

/** Equal hex digests, compared in constant time (both are 32 bytes by the callers' checks). */
function hexEqual(a: string, b: string): boolean {
  const x = Buffer.from(a.toLowerCase(), "hex");
  const y = Buffer.from(b.toLowerCase(), "hex");
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Key for secretEqual: random per process, so the digests compared reveal nothing reusable. */
const EQUAL_KEY = randomBytes(32);

/** Equal strings in time independent of where they differ and of their lengths (compares HMACs of both). */
function secretEqual(given: string, secret: string): boolean {
  const a = createHmac("sha256", EQUAL_KEY).update(given, "utf8").digest();
  const b = createHmac("sha256", EQUAL_KEY).update(secret, "utf8").digest();
  return timingSafeEqual(a, b);
}

type Json = Record<string, unknown>;

function parseJson(body: Uint8Array): { ok: true; value: Json } | { ok: false; message: string } {
  try {
    const v: unknown = JSON.parse(Buffer.from(body).toString("utf8"));
    if (!v || typeof v !== "object" || Array.isArray(v)) return { ok: false, message: "the body is not a JSON object" };
    return { ok: true, value: v as Json };
  } catch {
    return { ok: false, message: "the body is not valid JSON" };
  }
}

/** GitHub sends JSON, or with content type application/x-www-form-urlencoded a `payload=<json>` form. */
function githubBody(headers: Headers, body: Uint8Array): Uint8Array {
  const type = header(headers, "content-type") ?? "";
  if (!type.startsWith("application/x-www-form-urlencoded")) return body;
  const payload = new URLSearchParams(Buffer.from(body).toString("utf8")).get("payload");
  return Buffer.from(payload ?? "", "utf8");
}

function pushFromBody(body: Uint8Array, pick: (b: Json) => { ref?: string | undefined; after?: string | undefined }): WebhookEvent {
  const parsed = parseJson(body);
  if (!parsed.ok) return { kind: "invalid", message: parsed.message };
  return push(pick(parsed.value));
}

function push(p: { ref?: string | undefined; after?: string | undefined }): WebhookEvent {
  const out: { kind: "push"; ref?: string; after?: string } = { kind: "push" };
  if (p.ref !== undefined) out.ref = p.ref.slice(0, 300);
  if (p.after !== undefined && /^[0-9a-f]{40}([0-9a-f]{24})?$/i.test(p.after)) out.after = p.after.toLowerCase();
  return out;
}

function str(v: unknown): string | undefined {
  return typeof v === "string" && v !== "" ? v : undefined;
}

function firstOf(v: unknown): Json | undefined {
  return Array.isArray(v) && v.length > 0 && v[0] && typeof v[0] === "object" ? (v[0] as Json) : undefined;
}
