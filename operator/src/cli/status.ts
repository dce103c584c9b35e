/**
 * `coxswain status --repo <path|url> [--branch main] [--status-branch coxswain/status] [--output json]`:
 * what runs, read from the status branch of any clone (or of a remote, through a throw-away mirror) —
 * never from the operator. Prints the summary (head commit and phase, applied commit, whether the
 * branch's current head was processed yet), each workload's revision, replicas and conditions, each
 * PodDisruptionBudget's figures (as kubectl get pdb, with Kubernetes' status fields), each
 * HorizontalPodAutoscaler's counts, metrics and last scaling (autoscalers/…), and the nodes. Human output is aligned and sorted; JSON has a fixed shape and order.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import type { Condition } from "../api/conditions.js";
import { CoxError } from "../api/errors.js";
import { openRepository, resolveGitCredentials } from "../source/index.js";
import type { Repository } from "../source/types.js";
import { readBudgetRecord, type BudgetRecord } from "../status/disruption-budgets.js";
import { readAutoscalerStatus, type AutoscalerRecord } from "../status/autoscalers.js";
import { readCronJobRecord, type CronJobRecord } from "../status/cronjobs.js";
import { readRecords, type RecordedStatus } from "../status/reader.js";
import type { WorkloadRecord } from "../status/types.js";
import { parse, parseBranch, parseRef } from "./args.js";

/** Help text of `coxswain status`. */
export const STATUS_USAGE = `coxswain status --repo <path|url> [flags]

  --repo <path|url>             a clone or bare repository on disk, or an http(s) URL
  --branch <name>               the deploy branch, to tell whether its head was processed (default main)
  --status-branch <name>        where coxswain writes status (default coxswain/status)
  --notes-ref <ref>             per-commit notes (default refs/notes/coxswain)
  --state-dir <dir>             keep the mirror of a URL there (default: a temporary directory, removed after)
  --git-credentials-file <f>    username=/password= file for a URL (else COXSWAIN_GIT_USERNAME/PASSWORD)
  --output json                 machine-readable output`;

/** Flags shared by status and history. */
export const READ_FLAGS = {
  repo: { type: "string" },
  branch: { type: "string" },
  "status-branch": { type: "string" },
  "notes-ref": { type: "string" },
  "state-dir": { type: "string" },
  "git-credentials-file": { type: "string" },
  output: { type: "string" },
} as const;

/** A repository opened for reading records, and how to let it go. */
export interface OpenedForReading {
  repo: Repository;
  /** Warnings to print (credentials file mode); never secrets. */
  warnings: string[];
  close(): Promise<void>;
}

/**
 * Opens --repo for reading: a path in place; a URL through a mirror in --state-dir, or in a temporary
 * directory removed by close(). Credentials for a URL: --git-credentials-file, else the environment.
 * InvalidArgument for a --branch, --status-branch or --notes-ref git would refuse.
 */
export async function openForReading(values: {
  repo?: string | undefined;
  "state-dir"?: string | undefined;
  "git-credentials-file"?: string | undefined;
  branch?: string | undefined;
  "status-branch"?: string | undefined;
  "notes-ref"?: string | undefined;
  /** Also mirror pull/merge request heads (a URL's refs/pull/<n>/head). */
  pullRequests?: boolean;
}): Promise<OpenedForReading> {
  if (!values.repo) throw new CoxError("InvalidArgument", "--repo is required");
  // Names git would refuse are usage errors, before anything is opened or fetched.
  if (values.branch !== undefined) parseBranch("--branch", values.branch);
  if (values["status-branch"] !== undefined) parseBranch("--status-branch", values["status-branch"]);
  if (values["notes-ref"] !== undefined) parseRef("--notes-ref", values["notes-ref"]);
  const remote = /^https?:\/\//i.test(values.repo);
  if (!remote) {
    const repo = await openRepository({ repo: path.resolve(values.repo), stateDir: path.resolve(values["state-dir"] ?? ".coxswain") });
    return { repo, warnings: [], close: () => repo.close() };
  }
  const creds = await resolveGitCredentials(values["git-credentials-file"] ? { file: values["git-credentials-file"] } : {});
  const temp = values["state-dir"] ? undefined : await mkdtemp(path.join(tmpdir(), "coxswain-read-"));
  try {
    const repo = await openRepository({
      repo: values.repo,
      stateDir: temp ?? path.resolve(values["state-dir"]!),
      ...(creds ? { auth: creds.credentials } : {}),
      ...(values.pullRequests ? { pullRequests: true } : {}),
    });
    // A reused mirror may be old: bring it up to date (a fresh one was just cloned).
    if (!temp) await repo.refresh();
    return {
      repo,
      warnings: creds?.warnings ?? [],
      async close() {
        await repo.close();
        if (temp) await rm(temp, { recursive: true, force: true });
      },
    };
  } catch (err) {
    if (temp) await rm(temp, { recursive: true, force: true });
    throw err;
  }
}

/** The JSON shape of `coxswain status --output json`. */
export interface StatusReport {
  repository: string;
  statusBranch: { ref: string; commit: string; writtenAt: string } | null;
  summary: RecordedStatus["state"]["summary"] | null;
  /** The record of the last processed commit (summary.head): its subject and one-line result. */
  head: { commit: string; subject: string; phase: string; message: string } | null;
  /** The deploy branch's head in this clone and whether coxswain has processed it. */
  branchHead: { branch: string; commit: string; processed: boolean; phase: string | null } | null;
  workloads: WorkloadRecord[];
  /** PodDisruptionBudgets (disruptionbudgets/<ns>/<name>.yaml), sorted by namespace/name. */
  budgets: BudgetRecord[];
  /** The HorizontalPodAutoscalers' status files (autoscalers/<ns>/<name>.yaml), sorted by autoscaler. */
  autoscalers: AutoscalerRecord[];
  /** CronJobs (cronjobs/<ns>/<name>.yaml), sorted by namespace and name; their runs are Jobs among the workloads. */
  cronJobs: CronJobRecord[];
  /** Files on the status branch that could not be read. */
  problems: { path: string; message: string }[];
}

/** Prints the status; resolves with the exit code (0; a missing status branch throws BranchNotFound → 1). */
export async function statusCommand(argv: string[], out: (line: string) => void): Promise<number> {
  const { values } = parse(argv, READ_FLAGS);
  const output = values.output ?? "text";
  if (output !== "text" && output !== "json") throw new CoxError("InvalidArgument", `--output: expected json (got ${JSON.stringify(values.output)})`);
  const opened = await openForReading(values);
  try {
    for (const w of opened.warnings) process.stderr.write(`warning: ${w}\n`);
    const report = await buildStatusReport(opened.repo, {
      branch: values.branch ?? "main",
      statusBranch: values["status-branch"] ?? "coxswain/status",
      notesRef: values["notes-ref"] ?? "refs/notes/coxswain",
    });
    if (output === "json") out(JSON.stringify(report, null, 2));
    else for (const line of formatStatus(report)) out(line);
    return 0;
  } finally {
    await opened.close();
  }
}

/** Reads the records and the deploy branch head into a StatusReport. */
export async function buildStatusReport(repo: Repository, opts: { branch: string; statusBranch: string; notesRef: string }): Promise<StatusReport> {
  const rec = await readRecords(repo, opts);
  const head = (await repo.head(opts.branch)) ?? (repo.remote ? undefined : await repo.reader.resolve(`refs/remotes/origin/${opts.branch}`));
  const headRecord = head ? rec.state.commits.find((c) => c.commit === head) : undefined;
  const last = rec.state.summary?.head ? rec.state.commits.find((c) => c.commit === rec.state.summary!.head!.commit) : undefined;
  return {
    repository: rec.state.summary?.repository ?? repo.location,
    statusBranch: rec.statusCommit ? { ref: rec.statusRef!, commit: rec.statusCommit, writtenAt: rec.statusWrittenAt! } : null,
    summary: rec.state.summary ?? null,
    head: last ? { commit: last.commit, subject: last.subject, phase: last.phase, message: last.message } : null,
    branchHead: head ? { branch: opts.branch, commit: head, processed: headRecord !== undefined, phase: headRecord?.phase ?? null } : null,
    workloads: rec.state.workloads,
    budgets: rec.state.extra
      .filter((f) => f.path.startsWith("disruptionbudgets/"))
      .flatMap((f) => readBudgetRecord(f.content) ?? [])
      .sort((a, b) => (a.budget < b.budget ? -1 : a.budget > b.budget ? 1 : 0)),
    autoscalers: rec.state.extra
      .flatMap((f) => (f.path.startsWith("autoscalers/") ? [readAutoscalerStatus(f.content)].filter((a): a is AutoscalerRecord => a !== undefined) : []))
      .sort((a, b) => (a.autoscaler < b.autoscaler ? -1 : 1)),
    cronJobs: readCronJobs(rec.state.extra),
    problems: rec.problems,
  };
}

/** The CronJob records among the status branch's other files, sorted by path (namespace, then name). */
function readCronJobs(files: readonly { path: string; content: string }[]): CronJobRecord[] {
  return files
    .filter((f) => /^cronjobs\/[^/]+\/[^/]+\.yaml$/.test(f.path))
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
    .map((f) => readCronJobRecord(f.content))
    .filter((r): r is CronJobRecord => r !== undefined);
}

/** The human form of a StatusReport: aligned, sorted. Pure. */
export function formatStatus(r: StatusReport): string[] {
  const lines: string[] = [];
  const s = r.summary;
  const field = (name: string, value: string): void => void lines.push(`${name.padEnd(12)}${value}`.trimEnd());
  field("repository", r.repository);
  if (r.statusBranch) field("written", `${r.statusBranch.writtenAt.replace(/\.\d+Z$/, "Z")} (${r.statusBranch.ref.replace(/^refs\/(heads|remotes)\//, "")} at ${r.statusBranch.commit.slice(0, 7)})`);
  else field("written", "no status branch (notes only)");
  if (s) {
    field("branch", `${s.branch}${s.path && s.path !== "." ? ` (path ${s.path})` : ""}`);
    field("head", s.head ? `${s.head.commit.slice(0, 7)} ${s.head.phase}${r.head ? ` ${JSON.stringify(r.head.subject)}` : ""}` : "none processed yet");
    if (r.head?.message) field("", r.head.message);
    field("applied", s.applied ? s.applied.slice(0, 7) : "nothing applied");
    if (s.stable) field("stable", `${s.stable.slice(0, 7)} (what an automatic rollback goes back to)`);
    if (s.quarantined?.length) field("quarantined", s.quarantined.map((q) => q.slice(0, 7)).join(", "));
    for (const f of s.faults ?? []) field("fault", `${f.where}: ${f.code}: ${f.message} (since ${f.since.replace(/\.\d+Z$/, "Z")})`);
  }
  if (r.branchHead) {
    const b = r.branchHead;
    field("now", `${b.branch} is at ${b.commit.slice(0, 7)}: ${b.processed ? `processed (${b.phase})` : "not processed yet"}`);
  }
  if (s) field("workloads", `${s.workloads.total} total: ${s.workloads.ready} ready, ${s.workloads.progressing} progressing, ${s.workloads.failed} failed`);

  // Jobs run to completion: a table of their own, as `kubectl get jobs` shows them.
  const jobs = r.workloads.filter((w) => w.job !== undefined);
  const workloads = r.workloads.filter((w) => w.job === undefined);
  if (workloads.length > 0) {
    lines.push("");
    lines.push(
      ...table(
        ["WORKLOAD", "REVISION", "COMMIT", "DESIRED", "CURRENT", "UPDATED", "READY", "AVAILABLE", "CONDITIONS"],
        workloads.map((w) => [
          `${w.kind}/${w.namespace}/${w.name}`,
          w.revision,
          w.commit.slice(0, 7),
          String(w.replicas.desired),
          String(w.replicas.current),
          String(w.replicas.updated),
          String(w.replicas.ready),
          String(w.replicas.available),
          w.conditions.map(formatCondition).join(" ") || "-",
        ]),
      ),
    );
  }
  // StatefulSets: how they order and update, the revision below the partition, their claims.
  const sets = r.workloads.filter((w) => w.statefulSet !== undefined);
  if (sets.length > 0) {
    lines.push("");
    lines.push(
      ...table(
        ["STATEFULSET", "POLICY", "UPDATE", "PARTITION", "CURRENT", "SERVICE", "CLAIMS"],
        sets.map((w) => {
          const st = w.statefulSet!;
          return [
            `${w.namespace}/${w.name}`,
            st.podManagementPolicy,
            w.strategy ?? "-",
            st.partition === undefined ? "-" : String(st.partition),
            st.currentRevision ?? "-",
            st.serviceName ?? "-",
            st.claims.join(",") || "-",
          ];
        }),
      ),
    );
  }
  // Bare Pods: as `kubectl get pods` shows them, with the phase (Succeeded, Failed once one with restartPolicy
  // OnFailure or Never ended), the restarts in place, the node and the policy.
  const barePods = r.workloads.filter((w) => w.pod !== undefined);
  if (barePods.length > 0) {
    lines.push("");
    lines.push(
      ...table(
        ["POD", "STATUS", "RESTARTS", "NODE", "RESTART POLICY"],
        barePods.map((w) => {
          const p = w.pods.find((x) => x.revision === w.revision) ?? w.pods[0];
          return [`${w.namespace}/${w.name}`, w.pod!.phase, String(p?.restarts ?? 0), p?.node ?? w.placed?.node ?? "-", w.pod!.restartPolicy];
        }),
      ),
    );
  }
  if (jobs.length > 0) {
    lines.push("");
    lines.push(
      ...table(
        ["JOB", "REVISION", "COMMIT", "STATUS", "COMPLETIONS", "ACTIVE", "FAILED", "DURATION"],
        jobs.map((w) => {
          const j = w.job!;
          const duration = j.completionTime !== undefined ? formatSeconds((Date.parse(j.completionTime) - Date.parse(j.startTime)) / 1000) : "-";
          const failed = w.conditions.find((c) => c.type === "Failed" && c.status === "True");
          return [`${w.kind}/${w.namespace}/${w.name}`, w.revision, w.commit.slice(0, 7), failed ? `Failed(${failed.reason})` : j.phase, j.completions, String(j.active), String(j.failed), duration];
        }),
      ),
    );
  }
  if (r.budgets.length > 0) {
    lines.push("");
    lines.push(
      ...table(
        ["BUDGET", "MIN AVAILABLE", "MAX UNAVAILABLE", "ALLOWED DISRUPTIONS", "HEALTHY", "DESIRED", "EXPECTED"],
        r.budgets.map((b) => [
          b.budget,
          b.minAvailable !== undefined ? String(b.minAvailable) : "N/A",
          b.maxUnavailable !== undefined ? String(b.maxUnavailable) : "N/A",
          String(b.status.disruptionsAllowed),
          String(b.status.currentHealthy),
          String(b.status.desiredHealthy),
          String(b.status.expectedPods),
        ]),
      ),
    );
  }
  if (r.autoscalers.length > 0) {
    lines.push("");
    lines.push(
      ...table(
        ["AUTOSCALER", "TARGET", "MIN", "MAX", "CURRENT", "DESIRED", "METRICS", "LAST SCALE", "CONDITIONS"],
        r.autoscalers.map((a) => [
          a.autoscaler.replace(/^HorizontalPodAutoscaler\//, ""),
          a.target,
          String(a.minReplicas),
          String(a.maxReplicas),
          String(a.currentReplicas),
          String(a.desiredReplicas),
          a.currentMetrics.map((m) => `${m.resource} ${m.averageUtilization !== undefined ? `${m.averageUtilization}%` : (m.averageValue ?? "<unknown>")}/${m.target.replace(/^\S+ /, "")}`).join(", ") || "-",
          a.lastScaleTime ? `${a.lastScaleTime.replace(/\.\d+Z$/, "Z")} ${a.lastScaleReason ?? ""}`.trim() : "-",
          a.conditions.map(formatCondition).join(" ") || "-",
        ]),
      ),
    );
  }
  // CronJobs: as `kubectl get cronjobs` shows them, with the last success and the next time.
  if (r.cronJobs.length > 0) {
    lines.push("");
    lines.push(
      ...table(
        ["CRONJOB", "SCHEDULE", "TIMEZONE", "SUSPEND", "ACTIVE", "LAST SCHEDULE", "LAST SUCCESS", "NEXT"],
        r.cronJobs.map((c) => [
          `CronJob/${c.namespace}/${c.name}`,
          c.schedule,
          c.timeZone ?? "-",
          c.suspend ? "True" : "False",
          String(c.runs.filter((x) => x.phase === "Running").length),
          shortTime(c.lastScheduleTime),
          shortTime(c.lastSuccessfulTime),
          c.suspend ? "-" : shortTime(c.nextRunAt),
        ]),
      ),
    );
  }
  const nodes = s?.nodes ?? [];
  if (nodes.length > 0) {
    lines.push("");
    lines.push(
      ...table(
        ["NODE", "READY", "PODS", "MESSAGE"],
        nodes.map((n) => [n.name, n.ready ? "yes" : "no", String(n.pods), n.message ?? ""]),
      ),
    );
  }
  for (const p of r.problems) lines.push(`warning: ${p.path} could not be read: ${p.message}`);
  return lines;
}

/** An ISO time to the second ("2026-12-06T10:00:00Z"), or "-". */
function shortTime(iso: string | undefined): string {
  return iso === undefined ? "-" : iso.replace(/\.\d+Z$/, "Z");
}

/** "Available=True", or with a reason when it matters: "Progressing=False(ProgressDeadlineExceeded)". */
function formatCondition(c: Condition): string {
  return c.status === "True" && !/Deadline|Fail|Error/i.test(c.reason) ? `${c.type}=True` : `${c.type}=${c.status}(${c.reason})`;
}

/** A duration as kubectl shows it: "45s", "3m12s", "2h5m". */
function formatSeconds(total: number): string {
  const t = Math.max(0, Math.round(total));
  if (t < 60) return `${t}s`;
  if (t < 3600) return `${Math.floor(t / 60)}m${t % 60}s`;
  return `${Math.floor(t / 3600)}h${Math.floor((t % 3600) / 60)}m`;
}

/** Left-aligned columns separated by two spaces; trailing spaces trimmed. Pure. */
export function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  return [line(header), ...rows.map(line)];
}
