/**
 * `coxswain status` and `coxswain history` read what coxswain recorded from Git alone: a repository
 * written by the StatusWriter, a fresh `git clone` of it (status branch under refs/remotes/origin, notes
 * fetched or not), a URL through a mirror (with credentials from a file), and a repository written by
 * the real operator. Human output is aligned and sorted; JSON is stable.
 */
import { readdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { CoxError } from "../../../operator/src/api/errors.js";
import { historyCommand } from "../../../operator/src/cli/history.js";
import { statusCommand, type StatusReport } from "../../../operator/src/cli/status.js";
import { FakeRuntime } from "../../../operator/src/runtime/fake/index.js";
import { openRepository } from "../../../operator/src/source/index.js";
import type { HistoryEntry } from "../../../operator/src/status/reader.js";
import type { CommitPhase, CommitRecord, SummaryRecord, WorkloadRecord } from "../../../operator/src/status/types.js";
import { StatusWriter } from "../../../operator/src/status/writer.js";
import { startOperator } from "../../../operator/src/sync/operator.js";
import { makeRepo, runGit, tempDir, type TestRepo } from "../../support/git-repo.js";
import { createBareRepo, startGitServer } from "../../support/git-server.js";
import { deploymentYaml } from "../../support/manifests.js";
import { waitFor } from "../../support/wait.js";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Runs a command in-process like main.ts does: lines printed, exit code, or the CoxError it raised. */
async function run(cmd: typeof statusCommand, argv: string[]): Promise<{ code: number; lines: string[]; error?: CoxError }> {
  const lines: string[] = [];
  try {
    return { code: await cmd(argv, (l) => lines.push(l)), lines };
  } catch (err) {
    if (!(err instanceof CoxError)) throw err;
    return { code: err.code === "InvalidArgument" ? 2 : 1, lines, error: err };
  }
}

function record(c: string, phase: CommitPhase, seen: string, message: string, subject: string): CommitRecord {
  return {
    commit: c,
    branch: "main",
    subject,
    phase,
    message,
    changes: [],
    errors: [],
    timings: { seen, ...(phase === "Pending" || phase === "Progressing" ? {} : { finished: seen, durationMs: 1200 }) },
  };
}

function workload(name: string, commit: string, ready: number, failing = false): WorkloadRecord {
  return {
    kind: "Deployment",
    namespace: "default",
    name,
    revision: name === "api" ? "7c4f1e2a90" : "2498b34314",
    commit,
    replicas: { desired: 3, current: 3, updated: 3, ready, available: ready },
    pods: [{ name: `${name}-2498b34314-a`, node: "node-1", revision: "2498b34314", ready: true, endpoints: ["http=127.0.0.1:30001"] }],
    conditions: [
      { type: "Available", status: ready >= 2 ? "True" : "False", reason: ready >= 2 ? "MinimumReplicasAvailable" : "MinimumReplicasUnavailable", message: "", lastTransitionTime: "2024-05-01T10:00:00.000Z" },
      failing
        ? { type: "Progressing", status: "False", reason: "ProgressDeadlineExceeded", message: "", lastTransitionTime: "2024-05-01T10:00:00.000Z" }
        : { type: "Progressing", status: "True", reason: "NewReplicaSetAvailable", message: "", lastTransitionTime: "2024-05-01T10:00:00.000Z" },
    ],
    events: [],
  };
}

interface Written {
  work: TestRepo;
  commits: string[];
}

/** A work repository with four deploy commits and a status branch and notes written by the StatusWriter. */
async function written(): Promise<Written> {
  const work = await makeRepo();
  cleanups.push(() => work.cleanup());
  const commits: string[] = [];
  for (const [i, subject] of ["web v1", "api v1", "web v2 (broken)", "revert web v2"].entries()) {
    await work.write("app.yaml", `n: ${i}\n`);
    commits.push(await work.commit(subject));
  }
  const repo = await openRepository({ repo: work.dir, stateDir: work.dir });
  cleanups.push(() => repo.close());
  const w = new StatusWriter({ writer: repo.writer, remote: false, debounceMs: 10 });
  const [c1, c2, c3, c4] = commits as [string, string, string, string];
  w.store.setCommit(record(c1, "Succeeded", "2024-05-01T10:00:00.000Z", "Deployment/default/web revision 2498b34314: 3/3 ready", "web v1"));
  w.store.setCommit(record(c2, "Succeeded", "2024-05-01T10:05:00.000Z", "Deployment/default/api revision 7c4f1e2a90: 3/3 ready", "api v1"));
  w.store.setCommit(record(c3, "Failed", "2024-05-01T10:10:00.000Z", "Deployment/default/web: progress deadline exceeded", "web v2 (broken)"));
  w.store.setCommit(record(c4, "Progressing", "2024-05-01T10:15:00.000Z", "1 change(s) applied", "revert web v2"));
  w.store.setWorkload(workload("web", c4, 1));
  w.store.setWorkload(workload("api", c2, 3));
  const summary: SummaryRecord = {
    repository: work.dir,
    branch: "main",
    path: ".",
    head: { commit: c4, phase: "Progressing" },
    applied: c4,
    stable: c2,
    quarantined: [c3],
    workloads: { total: 2, ready: 1, progressing: 1, failed: 0 },
    nodes: [
      { name: "node-2", ready: false, pods: 0, message: "NodeUnreachable: connect ENOENT" },
      { name: "node-1", ready: true, pods: 4 },
    ],
  };
  w.store.setSummary(summary);
  await w.close();
  return { work, commits };
}

describe("coxswain status", () => {
  it("prints the summary, each workload aligned in a table, and the nodes sorted", async () => {
    const { work, commits } = await written();
    const r = await run(statusCommand, ["--repo", work.dir]);
    expect(r.error).toBeUndefined();
    expect(r.code).toBe(0);
    const c4 = commits[3]!.slice(0, 7);
    expect(r.lines[0]).toBe(`repository  ${work.dir}`);
    expect(r.lines).toContain(`head        ${c4} Progressing "revert web v2"`);
    expect(r.lines).toContain(`            1 change(s) applied`);
    expect(r.lines).toContain(`applied     ${c4}`);
    expect(r.lines).toContain(`now         main is at ${c4}: processed (Progressing)`);
    expect(r.lines).toContain("workloads   2 total: 1 ready, 1 progressing, 0 failed");
    expect(r.lines).toContain(`stable      ${commits[1]!.slice(0, 7)} (what an automatic rollback goes back to)`);
    expect(r.lines).toContain(`quarantined ${commits[2]!.slice(0, 7)}`);
    const header = r.lines.findIndex((l) => l.startsWith("WORKLOAD"));
    const rows = r.lines.slice(header, header + 3);
    expect(rows.map((l) => l.split(/\s{2,}/)[0])).toEqual(["WORKLOAD", "Deployment/default/api", "Deployment/default/web"]);
    // Columns line up: every row has its REVISION at the header's column.
    const col = rows[0]!.indexOf("REVISION");
    expect(rows.slice(1).map((l) => l.slice(col, col + 10))).toEqual(["7c4f1e2a90", "2498b34314"]);
    expect(rows[2]).toMatch(/Available=False\(MinimumReplicasUnavailable\) Progressing=True$/);
    const nodes = r.lines.slice(r.lines.findIndex((l) => l.startsWith("NODE")));
    expect(nodes).toEqual(["NODE    READY  PODS  MESSAGE", "node-1  yes    4", "node-2  no     0     NodeUnreachable: connect ENOENT"]);
  });

  it("prints stable JSON", async () => {
    const { work, commits } = await written();
    const a = await run(statusCommand, ["--repo", work.dir, "--output", "json"]);
    const b = await run(statusCommand, ["--repo", work.dir, "--output", "json"]);
    expect(a.lines).toEqual(b.lines);
    const report = JSON.parse(a.lines.join("\n")) as StatusReport;
    expect(Object.keys(report)).toEqual(["repository", "statusBranch", "summary", "head", "branchHead", "workloads", "budgets", "autoscalers", "cronJobs", "problems"]);
    expect(report.branchHead).toEqual({ branch: "main", commit: commits[3], processed: true, phase: "Progressing" });
    expect(report.head).toEqual({ commit: commits[3], subject: "revert web v2", phase: "Progressing", message: "1 change(s) applied" });
    expect(report.summary?.nodes.map((n) => n.name)).toEqual(["node-1", "node-2"]);
    expect(report.workloads.map((w) => w.name)).toEqual(["api", "web"]);
    expect(report.statusBranch?.ref).toBe("refs/heads/coxswain/status");
  });

  it("says when the branch head has not been processed yet", async () => {
    const { work } = await written();
    const next = await work.commit("not yet seen");
    const r = await run(statusCommand, ["--repo", work.dir]);
    expect(r.lines).toContain(`now         main is at ${next.slice(0, 7)}: not processed yet`);
  });

  it("reads a fresh git clone, whose status branch is under refs/remotes/origin", async () => {
    const { work, commits } = await written();
    const dir = await tempDir("coxswain-clone-");
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    await runGit(["clone", "--quiet", work.dir, join(dir, "c")]);
    const r = await run(statusCommand, ["--repo", join(dir, "c"), "--output", "json"]);
    expect(r.error).toBeUndefined();
    const report = JSON.parse(r.lines.join("\n")) as StatusReport;
    expect(report.statusBranch?.ref).toBe("refs/remotes/origin/coxswain/status");
    expect(report.summary?.applied).toBe(commits[3]);
  });

  it("fails with BranchNotFound, saying how to fetch, where coxswain never wrote", async () => {
    const work = await makeRepo();
    cleanups.push(() => work.cleanup());
    await work.commit("nothing");
    const r = await run(statusCommand, ["--repo", work.dir]);
    expect(r.code).toBe(1);
    expect(r.error?.code).toBe("BranchNotFound");
    expect(r.error?.message).toMatch(/git fetch origin coxswain\/status/);
  });

  it("refuses an unknown --output with a usage error", async () => {
    const { work } = await written();
    expect((await run(statusCommand, ["--repo", work.dir, "--output", "yaml"])).code).toBe(2);
    expect((await run(statusCommand, [])).code).toBe(2);
  });
});

describe("coxswain history", () => {
  it("prints one aligned line per processed commit, newest first", async () => {
    const { work, commits } = await written();
    const r = await run(historyCommand, ["--repo", work.dir]);
    expect(r.code).toBe(0);
    const s = (i: number) => commits[i]!.slice(0, 7);
    expect(r.lines).toEqual([
      "COMMIT   DATE                  PHASE        SUBJECT          RESULT",
      `${s(3)}  2024-05-01T10:15:00Z  Progressing  revert web v2    1 change(s) applied`,
      `${s(2)}  2024-05-01T10:10:00Z  Failed       web v2 (broken)  Deployment/default/web: progress deadline exceeded`,
      `${s(1)}  2024-05-01T10:05:00Z  Succeeded    api v1           Deployment/default/api revision 7c4f1e2a90: 3/3 ready`,
      `${s(0)}  2024-05-01T10:00:00Z  Succeeded    web v1           Deployment/default/web revision 2498b34314: 3/3 ready`,
    ]);
  });

  it("honours --limit and --branch, and prints stable JSON", async () => {
    const { work, commits } = await written();
    const r = await run(historyCommand, ["--repo", work.dir, "--limit", "2", "--output", "json"]);
    const entries = JSON.parse(r.lines.join("\n")) as HistoryEntry[];
    expect(entries.map((e) => [e.commit, e.phase, e.source])).toEqual([
      [commits[3], "Progressing", "record"],
      [commits[2], "Failed", "record"],
    ]);
    expect(entries[1]).toEqual({
      commit: commits[2],
      date: "2024-05-01T10:10:00.000Z",
      subject: "web v2 (broken)",
      phase: "Failed",
      message: "Deployment/default/web: progress deadline exceeded",
      branch: "main",
      finished: "2024-05-01T10:10:00.000Z",
      durationMs: 1200,
      source: "record",
    });
    expect((await run(historyCommand, ["--repo", work.dir, "--branch", "release"])).lines).toEqual(["no processed commits recorded"]);
    expect((await run(historyCommand, ["--repo", work.dir, "--limit", "many"])).code).toBe(2);
  });

  it("lists a commit known only from its coxswain note, with the commit's subject and date, and skips other notes", async () => {
    const { work } = await written();
    await work.git(["checkout", "--quiet", "-b", "old"]);
    await work.write("legacy.yaml", "x: 1\n");
    const legacy = await work.commit("legacy deploy");
    await work.git(["notes", "--ref=coxswain", "add", "-m", "coxswain: RolledBack — rolled back to 2498b34314", legacy]);
    const remarked = await work.commit("remarked");
    await work.git(["notes", "--ref=coxswain", "add", "-m", "a person's remark", remarked]);
    const r = await run(historyCommand, ["--repo", work.dir, "--output", "json"]);
    const entries = JSON.parse(r.lines.join("\n")) as HistoryEntry[];
    const fromNote = entries.find((e) => e.commit === legacy)!;
    expect(fromNote).toMatchObject({ source: "note", phase: "RolledBack", message: "rolled back to 2498b34314", subject: "legacy deploy" });
    expect(fromNote.date).toMatch(/^20\d\d-/);
    expect(entries.filter((e) => e.source === "note")).toHaveLength(1);
  });

  it("reads history from the notes alone in a clone that fetched only the notes", async () => {
    const { work, commits } = await written();
    const dir = await tempDir("coxswain-clone-");
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const clone = join(dir, "c");
    await runGit(["clone", "--quiet", "--single-branch", "--branch", "main", work.dir, clone]);
    await runGit(["fetch", "--quiet", "origin", "refs/notes/coxswain:refs/notes/coxswain"], { cwd: clone });
    const r = await run(historyCommand, ["--repo", clone, "--output", "json"]);
    expect(r.error).toBeUndefined();
    const entries = JSON.parse(r.lines.join("\n")) as HistoryEntry[];
    expect(entries.map((e) => [e.commit, e.phase, e.source])).toEqual([3, 2, 1, 0].map((i) => [commits[i], ["Succeeded", "Succeeded", "Failed", "Progressing"][i], "note"]));
  });
});

describe("reading a remote repository", () => {
  it("works through a mirror with credentials from a file, and leaves no temporary mirror behind", async () => {
    const { work, commits } = await written();
    const root = await tempDir("coxswain-server-");
    cleanups.push(() => rm(root, { recursive: true, force: true }));
    await createBareRepo(root, "app.git");
    const server = await startGitServer({ root, auth: { username: "reader", password: "r3ad-0nly-T0ken" } });
    cleanups.push(() => server.close());
    const authed = server.urlWithCredentials("app.git", "reader", "r3ad-0nly-T0ken");
    await work.git(["push", "--quiet", authed, "main", "coxswain/status", "refs/notes/coxswain:refs/notes/coxswain"]);
    const dir = await tempDir("coxswain-creds-");
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const file = join(dir, "creds");
    await writeFile(file, "username=reader\npassword=r3ad-0nly-T0ken\n", { mode: 0o600 });

    const status = await run(statusCommand, ["--repo", server.url("app.git"), "--git-credentials-file", file, "--output", "json"]);
    expect(status.error).toBeUndefined();
    const report = JSON.parse(status.lines.join("\n")) as StatusReport;
    expect(report.statusBranch?.ref).toBe("refs/remotes/origin/coxswain/status");
    expect(report.branchHead).toMatchObject({ commit: commits[3], processed: true });

    const state = join(dir, "state");
    const history = await run(historyCommand, ["--repo", server.url("app.git"), "--git-credentials-file", file, "--state-dir", state]);
    expect(history.lines).toHaveLength(5);
    expect(history.lines[1]).toContain(commits[3]!.slice(0, 7));
    expect(await readdir(join(state, "mirrors"))).toHaveLength(1); // kept when --state-dir is given
    const again = await run(historyCommand, ["--repo", server.url("app.git"), "--git-credentials-file", file, "--state-dir", state]);
    expect(again.lines).toEqual(history.lines);

    const refused = await run(statusCommand, ["--repo", server.url("app.git")]);
    expect(refused.error?.code).toBe("GitAuthFailed");
  });
});

describe("a repository written by the real operator", () => {
  it("reads back what the operator recorded", async () => {
    const work = await makeRepo();
    cleanups.push(() => work.cleanup());
    await work.write("web.yaml", deploymentYaml({ replicas: 2, image: "app:v1" }));
    const c1 = await work.commit("web v1");
    const state = await tempDir("coxswain-state-");
    cleanups.push(() => rm(state, { recursive: true, force: true }));
    const op = await startOperator({
      repo: work.dir,
      stateDir: state,
      runtime: "process",
      pollMs: 100,
      fleetPollMs: 100,
      statusDebounceMs: 20,
      seed: 1,
      runtimeFactory: (node) => new FakeRuntime({ name: node.name, cpuMillis: 4000, memoryBytes: 8 * 2 ** 30 }),
    });
    let stopped = false;
    cleanups.push(async () => {
      if (!stopped) await op.stop();
    });
    const phase = async (c: string): Promise<string | undefined> => {
      await op.flushStatus();
      return /^phase: (\w+)/m.exec(await runGit(["show", `coxswain/status:commits/${c.slice(0, 2)}/${c}.yaml`], { cwd: work.dir }).catch(() => ""))?.[1];
    };
    await waitFor("web v1 Succeeded", async () => (await phase(c1)) === "Succeeded", 30_000, 50);
    await work.write("web.yaml", deploymentYaml({ replicas: 2, image: "app:v2" }));
    const c2 = await work.commit("web v2");
    await waitFor("web v2 Succeeded", async () => (await phase(c2)) === "Succeeded", 30_000, 50);
    await op.stop();
    stopped = true;

    const h = await run(historyCommand, ["--repo", work.dir, "--output", "json"]);
    const entries = JSON.parse(h.lines.join("\n")) as HistoryEntry[];
    expect(entries.map((e) => [e.commit, e.subject, e.phase])).toEqual([
      [c2, "web v2", "Succeeded"],
      [c1, "web v1", "Succeeded"],
    ]);
    const s = await run(statusCommand, ["--repo", work.dir, "--output", "json"]);
    const report = JSON.parse(s.lines.join("\n")) as StatusReport;
    expect(report.summary?.applied).toBe(c2);
    expect(report.branchHead).toMatchObject({ commit: c2, processed: true, phase: "Succeeded" });
    expect(report.workloads).toHaveLength(1);
    expect(report.workloads[0]).toMatchObject({ kind: "Deployment", namespace: "default", name: "web", commit: c2, replicas: { desired: 2, ready: 2 } });
  });
});
