/**
 * `coxswain run`: follow a branch and drive the fleet until interrupted (SIGINT/SIGTERM stop gracefully;
 * containers keep running, so a restart picks up where this one left off).
 */
import path from "node:path";
import { CoxError } from "../api/errors.js";
import { startOperator, type DefaultRuntime } from "../sync/operator.js";
import { parse, parseDuration, parsePortRange, required } from "./args.js";

/** Help text of `coxswain run`. */
export const RUN_USAGE = `coxswain run --repo <path|url> [flags]

  --repo <path|url>       repository on disk (opened directly) or http(s) URL (mirrored under the state dir)
  --branch <name>         branch to follow (default main)
  --path <dir>            directory of the manifests in the repository (default: the root)
  --state-dir <dir>       mirrors and process-runtime state (default .coxswain)
  --runtime <r>           default node when the repository declares no Node: auto | docker | process (default auto)
  --port-range <a-b>      host ports of the default node (default 30000-32767)
  --instance <name>       owner label value, to run several operators on one engine (default coxswain)
  --poll-interval <d>     how often to poll the repository (default 5s; a local repository is also watched)
  --node-grace <d>        a node silent this long is NotReady (default 10s)
  --eviction-timeout <d>  then its pods are replaced elsewhere after this much longer (default 30s)
  --status-branch <name>  where status is written (default coxswain/status)
  --notes-ref <ref>       per-commit notes (default refs/notes/coxswain)`;

/** Runs the operator until a signal arrives; resolves with the exit code. */
export async function runCommand(argv: string[], out: (line: string) => void): Promise<number> {
  const { values } = parse(argv, {
    repo: { type: "string" },
    branch: { type: "string" },
    path: { type: "string" },
    "state-dir": { type: "string" },
    runtime: { type: "string" },
    "port-range": { type: "string" },
    instance: { type: "string" },
    "poll-interval": { type: "string" },
    "node-grace": { type: "string" },
    "eviction-timeout": { type: "string" },
    "status-branch": { type: "string" },
    "notes-ref": { type: "string" },
    seed: { type: "string" },
  });
  const runtime = (values.runtime ?? "auto") as DefaultRuntime;
  if (!["auto", "docker", "process"].includes(runtime)) {
    throw new CoxError("InvalidArgument", `--runtime: expected auto, docker or process (got ${JSON.stringify(values.runtime)})`);
  }
  const repo = required("--repo", values.repo);
  const op = await startOperator({
    repo: /^https?:\/\//.test(repo) ? repo : path.resolve(repo),
    branch: values.branch ?? "main",
    path: values.path ?? "",
    stateDir: path.resolve(values["state-dir"] ?? ".coxswain"),
    runtime,
    ...(values["port-range"] ? { defaultPortRange: parsePortRange("--port-range", values["port-range"]) } : {}),
    instance: values.instance ?? "coxswain",
    ...(values["poll-interval"] ? { pollMs: parseDuration("--poll-interval", values["poll-interval"]) } : {}),
    ...(values["node-grace"] ? { nodeGraceMs: parseDuration("--node-grace", values["node-grace"]) } : {}),
    ...(values["eviction-timeout"] ? { evictionTimeoutMs: parseDuration("--eviction-timeout", values["eviction-timeout"]) } : {}),
    ...(values["status-branch"] ? { statusBranch: values["status-branch"] } : {}),
    ...(values["notes-ref"] ? { notesRef: values["notes-ref"] } : {}),
    ...(values.seed ? { seed: Number(values.seed) } : {}),
    log: out,
  });
  await new Promise<void>((resolve) => {
    const stop = (sig: string) => {
      out(`${sig}: stopping (containers keep running)`);
      resolve();
    };
    process.once("SIGINT", () => stop("SIGINT"));
    process.once("SIGTERM", () => stop("SIGTERM"));
  });
  await op.stop();
  return 0;
}
