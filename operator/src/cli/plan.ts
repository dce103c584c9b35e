/**
 * `coxswain plan --repo <path|url> [--from REF] [--to REF]`: what applying a commit would create, change
 * and delete, which workloads roll to which revision, and where each new pod would go on the fleet as it
 * runs now. --to defaults to the followed branch's head and may name any ref (a proposal branch,
 * refs/pull/<n>/head); --from defaults to the commit the operator last applied (read from the status
 * branch), or nothing when there is none. The plan is the one the operator writes for proposals
 * (sync/plan.ts), printed by the same function; `--output json` prints the same Plan object.
 *
 * Placements: the nodes of the --from commit (or the default local node) are listed read-only (cli/fleet.ts)
 * and the scheduler is asked; nodes that do not answer are named and left out. --offline skips it.
 */
import path from "node:path";
import { CoxError } from "../api/errors.js";
import { StatusStore } from "../status/store.js";
import { StatusWriter } from "../status/writer.js";
import { loadCommit } from "../sync/load.js";
import { realRuntimeFactory, resolveDefaultNode, type DefaultRuntime } from "../sync/operator.js";
import { buildPlan, formatPlan, type Plan } from "../sync/plan.js";
import { MANIFEST_LIMIT_FLAGS, MANIFEST_LIMITS_USAGE, parse, parseInstance, parseManifestFlags, parsePortRange, readAgeKeyFlag, parseSchedulerFlags, SCHEDULER_FLAGS, SCHEDULER_USAGE } from "./args.js";
import { observeFleet } from "./fleet.js";
import { openForReading } from "./status.js";

/** Help text of `coxswain plan`. */
export const PLAN_USAGE = `coxswain plan --repo <path|url> [flags]

  --repo <path|url>             repository on disk, or an http(s) URL (mirrored in a temporary directory)
  --to <ref>                    what to plan: a branch, a proposal, refs/pull/<n>/head, an oid (default: --branch's head)
  --from <ref>                  what it applies after (default: the commit the operator last applied)
  --branch <name>               the deploy branch (default main)
  --path <dir>                  directory of the manifests (default: the root)
  --status-branch <name>        where the applied commit is read from (default coxswain/status)
  --state-dir <dir>             keep a URL's mirror there; the process runtime's state (default .coxswain)
  --git-credentials-file <f>    username=/password= file for a URL (else COXSWAIN_GIT_USERNAME/PASSWORD)
  --runtime <r>                 the default node when the commit declares no Node: auto | docker | process
  --port-range <a-b>            host ports of the default node (default 30000-32767)
  --instance <name>             the operator's owner label, to recognise its pods (default coxswain)
  --offline                     do not contact the nodes: no placements
  --output json                 machine-readable output
${MANIFEST_LIMITS_USAGE}
${SCHEDULER_USAGE}`;

/** The flags of `coxswain plan`. */
export const PLAN_FLAGS = {
  repo: { type: "string" },
  branch: { type: "string" },
  path: { type: "string" },
  from: { type: "string" },
  to: { type: "string" },
  "state-dir": { type: "string" },
  "status-branch": { type: "string" },
  "git-credentials-file": { type: "string" },
  runtime: { type: "string" },
  "port-range": { type: "string" },
  instance: { type: "string" },
  offline: { type: "boolean" },
  output: { type: "string" },
  ...MANIFEST_LIMIT_FLAGS,
  ...SCHEDULER_FLAGS,
} as const;

/** Prints a plan; resolves with the exit code (1 when the target commit is invalid or a pod does not fit). */
export async function planCommand(argv: string[], out: (line: string) => void): Promise<number> {
  const { values } = parse(argv, PLAN_FLAGS);
  const scheduler = parseSchedulerFlags(values);
  const manifests = parseManifestFlags(values);
  const age = await readAgeKeyFlag(values);
  if (age) manifests.age = age;
  const output = values.output ?? "text";
  if (output !== "text" && output !== "json") throw new CoxError("InvalidArgument", `--output: expected json (got ${JSON.stringify(values.output)})`);
  const runtime = (values.runtime ?? "auto") as DefaultRuntime;
  if (!["auto", "docker", "process"].includes(runtime)) throw new CoxError("InvalidArgument", `--runtime: expected auto, docker or process (got ${JSON.stringify(values.runtime)})`);
  // Checked before the repository is opened: a nonsense value is a usage error whatever the repository holds.
  const portRange = values["port-range"] !== undefined ? parsePortRange("--port-range", values["port-range"]) : undefined;
  const instance = values.instance !== undefined ? parseInstance("--instance", values.instance) : "coxswain";
  const toRef = values.to ?? values.branch ?? "main";
  const opened = await openForReading({ ...values, pullRequests: /^refs\/(pull|merge-requests)\//.test(toRef) || /^refs\/(pull|merge-requests)\//.test(values.from ?? "") });
  const repo = opened.repo;
  try {
    for (const w of opened.warnings) process.stderr.write(`warning: ${w}\n`);
    const to = await repo.reader.resolve(toRef);
    if (!to) throw new CoxError("InvalidArgument", `--to: ${toRef} does not name a commit in ${repo.location}`);
    let from: string | undefined;
    if (values.from) {
      from = await repo.reader.resolve(values.from);
      if (!from) throw new CoxError("InvalidArgument", `--from: ${values.from} does not name a commit in ${repo.location}`);
    } else {
      const store = new StatusStore();
      const status = new StatusWriter({ writer: repo.writer, store, branch: values["status-branch"] ?? "coxswain/status", notesRef: "refs/notes/coxswain", remote: repo.remote, debounceMs: 0, onError: () => undefined });
      await status.load();
      from = store.summary()?.applied;
    }
    const dir = (values.path ?? "").replace(/^\.\/?$/, "");
    const target = await loadCommit(repo, to, dir, manifests);
    const base = from ? await loadCommit(repo, from, dir, manifests) : undefined;
    let plan: Plan;
    let unreachable: string[] = [];
    if (values.offline || !target.graph) {
      plan = buildPlan({ ...(from ? { from } : {}), ...(base?.graph ? { fromGraph: base.graph } : {}), target });
    } else {
      const stateDir = path.resolve(values["state-dir"] ?? ".coxswain");
      const defaultNode = await resolveDefaultNode(runtime, instance, portRange);
      const fleet = await observeFleet(base?.graph, defaultNode, realRuntimeFactory(stateDir, instance));
      try {
        unreachable = fleet.unreachable;
        plan = buildPlan({ ...(from ? { from } : {}), ...(base?.graph ? { fromGraph: base.graph } : {}), target, fleet: fleet.view, ...(scheduler ? { scheduler } : {}) });
      } finally {
        await fleet.close();
      }
    }
    if (output === "json") out(JSON.stringify(unreachable.length ? { ...plan, unreachable } : plan, null, 2));
    else {
      for (const line of formatPlan(plan)) out(line);
      if (unreachable.length) out(`node(s) not answering, left out of the placements: ${unreachable.join(", ")}`);
    }
    const unfit = plan.changes.some((c) => c.placements?.some((p) => !p.fits));
    return plan.valid && !unfit ? 0 : 1;
  } finally {
    await opened.close();
  }
}
