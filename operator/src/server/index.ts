/**
 * server/: coxswain's HTTP surface — webhooks that trigger a fetch at once, /healthz, /readyz and
 * /metrics. startServer (server.ts) serves; webhooks.ts verifies and parses each provider's requests
 * (pure); rate.ts limits requests per client; refusals.ts counts refused requests and rations their log
 * lines; metrics.ts defines every Prometheus metric; readiness.ts decides /readyz (pure); readWebhookSecretFile reads `--webhook-secret-file`.
 * api/: the API — routes.ts (path → answer; the writes' routes to an ApiWriter), views.ts (the JSON, pure), events.ts (the event ring and
 * what becomes an event), openapi.ts (the document), tokens.ts (`--api-token-file` and each request's decision).
 * ui/: the web dashboard's files (page.ts), served at / with startServer's `ui`.
 */
import { CoxError } from "../api/errors.js";
import { readSecretFile } from "../source/credentials.js";

export { parseListen, startServer } from "./server.js";
export { commitEvent, EventFeed, FleetEvents, RING_SIZE, rolloutEvent } from "./api/events.js";
export type { ApiSource } from "./api/routes.js";
export type { CommitAuthor } from "./api/views.js";
export { authorize, isLoopbackHost, parseApiTokens, readApiTokenFile } from "./api/tokens.js";
export type { ApiToken } from "./api/tokens.js";
export type { RunningServer, ServerOptions, WebhookSecrets } from "./server.js";
export { OperatorMetrics } from "./metrics.js";
export { DEFAULT_READY_FETCH_FAILURES, readiness } from "./readiness.js";
export type { Readiness } from "./readiness.js";
export { sign } from "./webhooks.js";
export type { PushEvent } from "./webhooks.js";

/** A secret shorter than this gets a warning (GitHub suggests a random string of high entropy). */
const SHORT_SECRET = 16;

/**
 * Reads `--webhook-secret-file`: the whole file is one secret shared by every provider; surrounding
 * whitespace and newlines are ignored. Empty → InvalidArgument. Warnings (safe to print, no secret in
 * them): the file is readable by group or others; the secret is shorter than 16 characters. Errors never
 * quote the content.
 */
export async function readWebhookSecretFile(path: string): Promise<{ secret: string; warnings: string[] }> {
  const { text, warnings } = await readSecretFile(path, "webhook secret file");
  const secret = text.trim();
  if (secret === "") throw new CoxError("InvalidArgument", `webhook secret file ${path} is empty; expected one line with the secret`);
  if (/[\r\n]/.test(secret)) {
    throw new CoxError("InvalidArgument", `webhook secret file ${path} has more than one line; expected one line with the secret`);
  }
  if (secret.length < SHORT_SECRET) warnings.push(`webhook secret in ${path} is shorter than ${SHORT_SECRET} characters; use a long random string`);
  return { secret, warnings };
}
