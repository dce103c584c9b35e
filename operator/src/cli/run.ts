/**
 * `coxswain run`: follow a branch and drive the fleet until interrupted (SIGINT/SIGTERM stop gracefully;
 * containers keep running, so a restart picks up where this one left off). Secrets (Git credentials, the
 * webhook secret) are read from files or the environment and never printed: only where they came from.
 */
import path from "node:path";
import { CoxError } from "../api/errors.js";
import type { Logger } from "../api/log.js";
import { DEFAULT_FORGE_URLS, FORGE_KINDS, type ForgeKind } from "../forge/client.js";
import { isLoopbackHost, parseListen, readApiTokenFile, readWebhookSecretFile } from "../server/index.js";
import { readSecretFile, refGlob, resolveGitCredentials } from "../source/index.js";
import { DEFAULT_FLEET_POLL_MS } from "../runtime/fleet.js";
import { startOperator, type DefaultRuntime, type OperatorOptions } from "../sync/operator.js";
import {
  MANIFEST_CACHE_FLAG,
  MANIFEST_CACHE_USAGE,
  MANIFEST_LIMIT_FLAGS,
  MANIFEST_LIMITS_USAGE,
  parse,
  parseBranch,
  parseDuration,
  parseInstance,
  parseRef,
  parseWholeNumber,
  parseManifestFlags,
  readAgeKeyFlag,
  parsePort,
  parsePortRange,
  parsePositiveNumber,
  parseSchedulerFlags,
  required,
  SCHEDULER_FLAGS,
  SCHEDULER_USAGE,
} from "./args.js";
import { createLogger, LOG_FLAGS, LOG_USAGE, parseLogFlags } from "./logger.js";

/** Where `--ui` alone listens: loopback only (without --api-token-file the API may only be served there). */
export const DEFAULT_UI_LISTEN = "127.0.0.1:8080";

/** The environment variable that holds the forge token when --forge-token-file is not given. */
export const FORGE_TOKEN_ENV = "COXSWAIN_FORGE_TOKEN";

/** Help text of `coxswain run`. */
export const RUN_USAGE = `coxswain run --repo <path|url> [flags]

  --repo <path|url>             repository on disk (opened directly) or http(s) URL (mirrored under the state dir)
  --branch <name>               branch to follow (default main)
  --path <dir>                  directory of the manifests in the repository (default: the root)
  --state-dir <dir>             mirrors and process-runtime state (default .coxswain)
  --runtime <r>                 default node when the repository declares no Node: auto | docker | process (default auto:
                                docker when a Docker socket exists, waiting for it if it does not answer; process only
                                when there is none, with a warning: manifests then run as local processes, unisolated)
  --port-range <a-b>            host ports of the default node (default 30000-32767)
  --proxy-image <image>         HAProxy image of the default node's Service proxy when it is a Docker
                                engine (default haproxy:2.6; Nodes in Git name theirs in spec.proxyImage)
  --ingress-http-port <port>    serve Ingresses (class coxswain or none) over HTTP at this port on every node's address
  --ingress-https-port <port>   and over HTTPS, with the certificates of the Ingresses' TLS Secrets; without
                                either flag, Ingresses are validated but not served
  --instance <name>             owner label value, to run several operators on one engine (default coxswain)
  --poll-interval <d>           how often to poll the repository (default 5s; a local repository is also watched)
  --node-grace <d>              a node silent this long is NotReady (default 10s)
  --eviction-timeout <d>        then its pods are replaced elsewhere after this much longer (default 30s)
  --status-branch <name>        where status is written (default coxswain/status)
  --notes-ref <ref>             per-commit notes (default refs/notes/coxswain)
  --git-credentials-file <f>    username=/password= file for an http(s) repository
                                (else COXSWAIN_GIT_USERNAME / COXSWAIN_GIT_PASSWORD; a token goes in the password)
  --git-timeout <d>             deadline of each request to the remote (default 30s)
  --listen <host:port>          serve POST /api/v1/webhooks/{github,gitlab,gitea,bitbucket,generic}, GET /healthz
                                (liveness), GET /readyz (readiness), GET /metrics (Prometheus) and the read API
                                GET /api/v1/… (commits, workloads, nodes, services, proposals, events; openapi.json),
                                and its writes, each a commit in Git: POST …/promote, …/cordon, …/uncordon, …/retry
  --ui                          serve the web dashboard at / of the listener (commits, workloads and their rollouts,
                                nodes, proposals; live from the event stream); without --listen it listens on ${DEFAULT_UI_LISTEN}
  --api-token-file <f>          bearer tokens of the API (write: also its writes), one a line: "read <token> [user]" or "write <token> [user]";
                                without it the API is open, so --listen must then be a loopback address (127.0.0.1, ::1)
  --ready-fetch-failures <n>    /readyz fails from this many failed fetches of the remote in a row on (default 3)
  --webhook-secret-file <f>     the webhook secret (HMAC key, or GitLab's token); without it every webhook gets 401
  --webhook-rate <n>            webhook requests per second per client (default 10)
  --auto-revert                 after a failed commit was rolled back, commit a revert of it to the branch (and push it)
  --preview-branches <glob>     plan proposals: branches like 'pr/*', pull requests as 'pull/*' or 'merge-requests/*'
                                (repeatable); the plan goes to plans/<name>.yaml on the status branch and a note
  --preview-envs <glob>         plan these proposals and also run them as previews in namespaces of their own (repeatable)
  --preview-ttl <d>             remove a preview whose proposal got no new head for this long (default 24h)
  --forge <github|gitlab|gitea> also post each proposal's plan as one pull/merge request comment (edited on every new
                                head) and commit statuses: coxswain/plan on its head, coxswain/rollout on its merge
  --forge-url <url>             the forge's API base (default https://api.github.com for github, https://gitlab.com/api/v4
                                for gitlab; required for gitea, e.g. https://gitea.example/api/v1)
  --forge-repo <owner/name>     the repository on the forge (GitLab: the project's path; default: the path of an
                                http(s) --repo, without .git)
  --forge-token-file <f>        the forge token (else ${FORGE_TOKEN_ENV}); required with --forge
${LOG_USAGE}
${MANIFEST_LIMITS_USAGE}
${MANIFEST_CACHE_USAGE}
${SCHEDULER_USAGE}`;

/** The flags of `coxswain run` (test/unit/cli/flag-values.test.ts checks a nonsense value of each is refused). */
export const RUN_FLAGS = {
  repo: { type: "string" },
  branch: { type: "string" },
  path: { type: "string" },
  "state-dir": { type: "string" },
  runtime: { type: "string" },
  "port-range": { type: "string" },
  "proxy-image": { type: "string" },
  "ingress-http-port": { type: "string" },
  "ingress-https-port": { type: "string" },
  instance: { type: "string" },
  "poll-interval": { type: "string" },
  "node-grace": { type: "string" },
  "eviction-timeout": { type: "string" },
  "status-branch": { type: "string" },
  "notes-ref": { type: "string" },
  "git-credentials-file": { type: "string" },
  "git-timeout": { type: "string" },
  listen: { type: "string" },
  ui: { type: "boolean" },
  "webhook-secret-file": { type: "string" },
  "api-token-file": { type: "string" },
  "webhook-rate": { type: "string" },
  "ready-fetch-failures": { type: "string" },
  "auto-revert": { type: "boolean" },
  "preview-branches": { type: "string", multiple: true },
  "preview-envs": { type: "string", multiple: true },
  "preview-ttl": { type: "string" },
  forge: { type: "string" },
  "forge-url": { type: "string" },
  "forge-repo": { type: "string" },
  "forge-token-file": { type: "string" },
  seed: { type: "string" },
  ...LOG_FLAGS,
  ...MANIFEST_LIMIT_FLAGS,
  ...MANIFEST_CACHE_FLAG,
  ...SCHEDULER_FLAGS,
} as const;

/** Checks a proposal glob: not empty, no whitespace. */
function glob(flag: string, value: string): string {
  if (value.trim() === "" || /\s/.test(value)) throw new CoxError("InvalidArgument", `${flag}: expected a glob like 'pr/*' (got ${JSON.stringify(value)})`);
  refGlob(value);
  return value;
}

/**
 * Turns `coxswain run` flags into operator options, with the logger (--log-format, --log-level) that writes
 * its lines to `out`; logs where secrets come from and their warnings.
 */
export async function runOptions(argv: string[], out: (line: string) => void): Promise<OperatorOptions & { log: Logger }> {
  const { values } = parse(argv, RUN_FLAGS);
  const log = createLogger(parseLogFlags(values), out);
  const runtime = (values.runtime ?? "auto") as DefaultRuntime;
  if (!["auto", "docker", "process"].includes(runtime)) {
    throw new CoxError("InvalidArgument", `--runtime: expected auto, docker or process (got ${JSON.stringify(values.runtime)})`);
  }
  const repo = required("--repo", values.repo);
  const remote = /^https?:\/\//i.test(repo);
  const opts: OperatorOptions & { log: Logger } = {
    repo: remote ? repo : path.resolve(repo),
    branch: values.branch !== undefined ? parseBranch("--branch", values.branch) : "main",
    path: values.path ?? "",
    stateDir: path.resolve(values["state-dir"] ?? ".coxswain"),
    runtime,
    instance: values.instance !== undefined ? parseInstance("--instance", values.instance) : "coxswain",
    log,
  };
  if (values["port-range"] !== undefined) opts.defaultPortRange = parsePortRange("--port-range", values["port-range"]);
  if (values["proxy-image"] !== undefined) {
    if (!/^[^\s]+$/.test(values["proxy-image"])) throw new CoxError("InvalidArgument", `--proxy-image: expected an image reference like haproxy:2.6 (got ${JSON.stringify(values["proxy-image"])})`);
    opts.defaultProxyImage = values["proxy-image"];
  }
  const httpPort = values["ingress-http-port"] !== undefined ? parsePort("--ingress-http-port", values["ingress-http-port"]) : undefined;
  const httpsPort = values["ingress-https-port"] !== undefined ? parsePort("--ingress-https-port", values["ingress-https-port"]) : undefined;
  if (httpPort !== undefined && httpPort === httpsPort) throw new CoxError("InvalidArgument", `--ingress-http-port and --ingress-https-port: expected two different ports (got ${httpPort} for both)`);
  if (httpPort !== undefined || httpsPort !== undefined) opts.ingress = { ...(httpPort !== undefined ? { httpPort } : {}), ...(httpsPort !== undefined ? { httpsPort } : {}) };
  // A poll faster than 100 ms would only load the remote. A node grace shorter than the fleet's heartbeat (it
  // lists every node every 2 s) would call answering nodes NotReady between two listings; an eviction or a
  // Git request given less than a second is no timeout but a failure.
  if (values["poll-interval"] !== undefined) opts.pollMs = parseDuration("--poll-interval", values["poll-interval"], 100);
  if (values["node-grace"] !== undefined) opts.nodeGraceMs = parseDuration("--node-grace", values["node-grace"], DEFAULT_FLEET_POLL_MS);
  if (values["eviction-timeout"] !== undefined) opts.evictionTimeoutMs = parseDuration("--eviction-timeout", values["eviction-timeout"], 1000);
  if (values["status-branch"] !== undefined) opts.statusBranch = parseBranch("--status-branch", values["status-branch"]);
  if (values["notes-ref"] !== undefined) opts.notesRef = parseRef("--notes-ref", values["notes-ref"]);
  if (values["git-timeout"] !== undefined) opts.gitTimeoutMs = parseDuration("--git-timeout", values["git-timeout"], 1000);
  if (values.seed !== undefined) opts.seed = parseWholeNumber("--seed", values.seed, 0);
  const scheduler = parseSchedulerFlags(values);
  if (scheduler) opts.scheduler = scheduler;
  const manifests = parseManifestFlags(values);
  const age = await readAgeKeyFlag(values);
  if (age) {
    manifests.age = age;
    log.info(`age keys: ${age.recipients.length} identit${age.recipients.length === 1 ? "y" : "ies"} from ${age.source} (for SOPS-encrypted Secrets)`);
  }
  if (Object.keys(manifests).length > 0) opts.manifests = manifests;

  const creds = await resolveGitCredentials(values["git-credentials-file"] ? { file: values["git-credentials-file"] } : {});
  if (creds) {
    for (const w of creds.warnings) log.warn(w);
    if (remote) {
      opts.gitCredentials = creds.credentials;
      log.info(`git credentials: from ${creds.source}`);
    } else log.warn(`git credentials from ${creds.source} are not used: ${repo} is a repository on disk`);
  }

  // --ui alone: the dashboard needs a listener, and one only this machine reaches is the safe default.
  if (values.ui) {
    opts.ui = true;
    values.listen ??= DEFAULT_UI_LISTEN;
  }
  if (values["ready-fetch-failures"] !== undefined) {
    const n = parseWholeNumber("--ready-fetch-failures", values["ready-fetch-failures"], 1, 1_000_000);
    if (!values.listen) throw new CoxError("InvalidArgument", "--ready-fetch-failures needs --listen <host:port> (or --ui)");
    opts.readyFetchFailures = n;
  }
  if (values["webhook-secret-file"] && !values.listen) throw new CoxError("InvalidArgument", "--webhook-secret-file needs --listen <host:port> (or --ui)");
  if (values["api-token-file"] && !values.listen) throw new CoxError("InvalidArgument", "--api-token-file needs --listen <host:port> (or --ui)");
  if (values.listen) {
    const { host } = parseListen(values.listen); // a bad address is a usage error before anything starts
    opts.listen = values.listen;
    if (values["api-token-file"]) {
      const { tokens, warnings } = await readApiTokenFile(values["api-token-file"]);
      for (const w of warnings) log.warn(w);
      opts.apiTokens = tokens;
      log.info(`api tokens: ${tokens.length} from file ${values["api-token-file"]} (${tokens.filter((t) => t.scope === "write").length} write)`);
    } else if (!isLoopbackHost(host)) {
      // Argo CD and Flux users expect a deploy system's API to need credentials: an open one only where nobody else can reach it.
      throw new CoxError("ApiTokensRequired", `--listen ${values.listen}: other machines could read the API without a token; give --api-token-file, or listen on 127.0.0.1 or ::1`);
    }
    if (values["webhook-secret-file"]) {
      const { secret, warnings } = await readWebhookSecretFile(values["webhook-secret-file"]);
      for (const w of warnings) log.warn(w);
      opts.webhookSecret = secret;
      log.info(`webhook secret: from file ${values["webhook-secret-file"]}`);
    } else log.warn("--listen without --webhook-secret-file: every webhook is refused (401); /healthz, /readyz and /metrics are served");
    if (values["webhook-rate"] !== undefined) {
      opts.webhookRate = parsePositiveNumber("--webhook-rate", values["webhook-rate"], 10_000);
    }
  }
  if (values["auto-revert"]) opts.autoRevert = true;
  // parseArgs gives arrays for `multiple` flags (the helper's type does not know).
  const list = (v: unknown): string[] => (Array.isArray(v) ? (v as string[]) : typeof v === "string" ? [v] : []);
  const branches = list(values["preview-branches"]).map((g) => glob("--preview-branches", g));
  const envs = list(values["preview-envs"]).map((g) => glob("--preview-envs", g));
  if (branches.length) opts.previewBranches = branches;
  if (envs.length) opts.previewEnvs = envs;
  if (values["preview-ttl"] !== undefined) {
    if (!envs.length) throw new CoxError("InvalidArgument", "--preview-ttl needs --preview-envs <glob>");
    // A preview removed within a minute of its head would never be looked at; a year is longer than any proposal lives.
    opts.previewTtlMs = parseDuration("--preview-ttl", values["preview-ttl"], 60_000, 365 * 24 * 3_600_000);
  }
  const forge = await forgeOptions(values, repo, branches.length + envs.length > 0, log);
  if (forge) opts.forge = forge;
  return opts;
}

/**
 * Reads the --forge flags: the forge, its API base, the repository on it and the token (from the file, else
 * FORGE_TOKEN_ENV; only where it came from is printed). Any of them without --forge, --forge with no
 * proposals to follow or without a token, an unknown forge: InvalidArgument.
 */
async function forgeOptions(values: Record<string, unknown>, repo: string, following: boolean, log: Logger): Promise<OperatorOptions["forge"]> {
  const str = (k: string) => (typeof values[k] === "string" ? (values[k] as string) : undefined);
  const kind = str("forge");
  if (kind === undefined) {
    const stray = ["forge-url", "forge-repo", "forge-token-file"].find((k) => str(k) !== undefined);
    if (stray) throw new CoxError("InvalidArgument", `--${stray} needs --forge <github|gitlab|gitea>`);
    return undefined;
  }
  if (!(FORGE_KINDS as readonly string[]).includes(kind)) throw new CoxError("InvalidArgument", `--forge: expected one of ${FORGE_KINDS.join(", ")} (got ${JSON.stringify(kind)})`);
  const forge = kind as ForgeKind;
  if (!following) throw new CoxError("InvalidArgument", "--forge needs --preview-branches or --preview-envs: it posts the plans of proposals");
  const url = str("forge-url") ?? DEFAULT_FORGE_URLS[forge];
  if (url === undefined) throw new CoxError("InvalidArgument", `--forge ${forge} needs --forge-url <API base>, e.g. https://gitea.example/api/v1`);
  const parsed = URL.canParse(url) && /^https?:\/\/[^\s/]+/i.test(url) ? new URL(url) : undefined;
  if (!parsed) throw new CoxError("InvalidArgument", `--forge-url: expected an http(s) URL (got ${JSON.stringify(url)})`);
  // Credentials in the URL would be printed with it; the token has its own flag.
  if (parsed.username || parsed.password) throw new CoxError("InvalidArgument", "--forge-url: expected a URL without credentials; give the token with --forge-token-file or " + FORGE_TOKEN_ENV);
  let target = str("forge-repo");
  if (target === undefined && /^https?:\/\//i.test(repo)) target = new URL(repo).pathname.replace(/^\/+|\/+$/g, "").replace(/\.git$/, "");
  if (target === undefined || !/^[^\s/]+(\/[^\s/]+)+$/.test(target)) {
    throw new CoxError("InvalidArgument", `--forge-repo: expected owner/name (the repository on the forge)${target === undefined ? "; it cannot be read from a --repo on disk" : ` (got ${JSON.stringify(target)})`}`);
  }
  let token: string;
  const file = str("forge-token-file");
  if (file !== undefined) {
    const read = await readSecretFile(file, "forge token file");
    for (const w of read.warnings) log.warn(w);
    token = read.text.trim();
    if (token === "" || /\s/.test(token)) throw new CoxError("InvalidArgument", `forge token file ${file}: expected one line with the token`);
    log.info(`forge token: from file ${file}`);
  } else {
    token = (process.env[FORGE_TOKEN_ENV] ?? "").trim();
    if (token === "") throw new CoxError("InvalidArgument", `--forge ${forge} needs a token: --forge-token-file <f> or ${FORGE_TOKEN_ENV}`);
    log.info(`forge token: from environment (${FORGE_TOKEN_ENV})`);
  }
  return { kind: forge, url, repo: target, token };
}

/** Runs the operator until a signal arrives, its log written line by line to `out`; resolves with the exit code. */
export async function runCommand(argv: string[], out: (line: string) => void): Promise<number> {
  const opts = await runOptions(argv, out);
  const op = await startOperator(opts);
  await new Promise<void>((resolve) => {
    const stop = (sig: string) => {
      opts.log.info(`${sig}: stopping (containers keep running)`);
      resolve();
    };
    process.once("SIGINT", () => stop("SIGINT"));
    process.once("SIGTERM", () => stop("SIGTERM"));
  });
  await op.stop();
  return 0;
}
