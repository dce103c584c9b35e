/**
 * The status writer against real repositories: records become files on the status branch, unchanged
 * state makes no commit, updates within the debounce window coalesce, notes read with the git CLI, a
 * restart reads the records back, failures are reported and retried, and the deploy branch is never
 * touched. Remote cases run against the smart-HTTP server, including someone else moving the remote refs.
 */
import { chmod, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { parse } from "yaml";
import type { CoxError } from "../../../operator/src/api/errors.js";
import { openRepository } from "../../../operator/src/source/index.js";
import type { Repository } from "../../../operator/src/source/types.js";
import { commitPath, workloadPath } from "../../../operator/src/status/store.js";
import type { CommitPhase, CommitRecord, SummaryRecord, WorkloadRecord } from "../../../operator/src/status/types.js";
import { StatusWriter, type StatusWriterOptions } from "../../../operator/src/status/writer.js";
import { makeRepo, runGit, tempDir, type TestRepo } from "../../support/git-repo.js";
import { createBareRepo, startGitServer, type GitServer } from "../../support/git-server.js";
import { waitFor } from "../../support/wait.js";

const BRANCH = "refs/heads/coxswain/status";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

// ---------------------------------------------------------------- fixtures

function commitRecord(oid: string, phase: CommitPhase, message = `${phase.toLowerCase()} rollout`): CommitRecord {
  return {
    commit: oid,
    branch: "main",
    subject: "deploy web",
    phase,
    message,
    changes: ["create Deployment/default/web"],
    errors: [],
    timings: { seen: "2024-05-01T10:00:00.000Z" },
  };
}
function workload(name: string, ready: number, commit: string): WorkloadRecord {
  return {
    kind: "Deployment",
    namespace: "default",
    name,
    revision: "5d8f7c9b6",
    commit,
    replicas: { desired: 3, current: 3, updated: 3, ready, available: ready },
    pods: [],
    conditions: [],
    events: [],
  };
}
function summary(head: string, phase: CommitPhase): SummaryRecord {
  return {
    repository: "test",
    branch: "main",
    path: "",
    head: { commit: head, phase },
    applied: head,
    workloads: { total: 1, ready: 1, progressing: 0, failed: 0 },
    nodes: [{ name: "local", ready: true, pods: 3 }],
  };
}

interface Env {
  work: TestRepo;
  repo: Repository;
  deploy: string;
  errors: CoxError[];
  writer(opts?: Partial<StatusWriterOptions>): StatusWriter;
}

async function localEnv(): Promise<Env> {
  const work = await makeRepo();
  cleanups.push(() => work.cleanup());
  await work.write("app/deployment.yaml", "kind: Deployment\n");
  const deploy = await work.commit("deploy web");
  const state = await tempDir("coxswain-state-");
  cleanups.push(() => rm(state, { recursive: true, force: true }));
  const repo = await openRepository({ repo: work.dir, stateDir: state });
  cleanups.push(() => repo.close());
  const errors: CoxError[] = [];
  return {
    work,
    repo,
    deploy,
    errors,
    writer(opts = {}) {
      const w = new StatusWriter({ writer: repo.writer, remote: repo.remote, debounceMs: 50, retryMs: 50, onError: (e) => errors.push(e), ...opts });
      cleanups.push(() => w.close());
      return w;
    },
  };
}

const count = (work: TestRepo, ref: string): Promise<number> => work.git(["rev-list", "--count", ref]).then(Number, () => 0);

// ---------------------------------------------------------------- a repository on disk

describe("the status writer on a repository on disk", () => {
  it("writes each record as a YAML file on the status branch", async () => {
    const env = await localEnv();
    const w = env.writer();
    w.store.setCommit(commitRecord(env.deploy, "Succeeded"));
    w.store.setWorkload(workload("web", 3, env.deploy));
    w.store.setSummary(summary(env.deploy, "Succeeded"));
    await w.flush();
    const files = (await env.work.git(["ls-tree", "-r", "--name-only", BRANCH])).split("\n");
    expect(files).toEqual([commitPath(env.deploy), "summary.yaml", workloadPath("Deployment", "default", "web")].sort());
    const record = parse(await env.work.git(["show", `${BRANCH}:${commitPath(env.deploy)}`]));
    expect(record).toEqual(commitRecord(env.deploy, "Succeeded"));
    const wl = parse(await env.work.git(["show", `${BRANCH}:${workloadPath("Deployment", "default", "web")}`]));
    expect(wl).toEqual(workload("web", 3, env.deploy));
    expect(await env.work.git(["log", "-1", "--format=%s|%an", BRANCH])).toBe(`status: ${env.deploy.slice(0, 9)} Succeeded|coxswain`);
    expect(env.errors).toEqual([]);
  });

  it("makes one commit for two flushes of the same state", async () => {
    const env = await localEnv();
    const w = env.writer();
    w.store.setCommit(commitRecord(env.deploy, "Succeeded"));
    await w.flush();
    await w.flush();
    w.store.setCommit(commitRecord(env.deploy, "Succeeded")); // same data again
    await w.flush();
    expect(await count(env.work, BRANCH)).toBe(1);
  });

  it("coalesces many updates within the debounce window into one commit", async () => {
    const env = await localEnv();
    const w = env.writer({ debounceMs: 200 });
    for (let ready = 0; ready <= 30; ready++) {
      w.store.setWorkload(workload("web", ready % 4, env.deploy));
      w.schedule();
    }
    await waitFor("the debounced write", async () => (await count(env.work, BRANCH)) >= 1, 30_000, 20);
    // Nothing was left for a second commit: the one write already held the last state.
    await w.flush();
    expect(await count(env.work, BRANCH)).toBe(1);
    const wl = parse(await env.work.git(["show", `${BRANCH}:${workloadPath("Deployment", "default", "web")}`]));
    expect(wl.replicas.ready).toBe(30 % 4);
  });

  it("runs one flush at a time and ends with the latest state", async () => {
    const env = await localEnv();
    const w = env.writer();
    const flushes: Promise<void>[] = [];
    for (let ready = 0; ready < 10; ready++) {
      w.store.setWorkload(workload("web", ready, env.deploy));
      flushes.push(w.flush());
    }
    await Promise.all(flushes);
    // The first flush and at most one follow-up per burst: far fewer commits than calls, none lost.
    expect(await count(env.work, BRANCH)).toBeLessThanOrEqual(3);
    const wl = parse(await env.work.git(["show", `${BRANCH}:${workloadPath("Deployment", "default", "web")}`]));
    expect(wl.replicas.ready).toBe(9);
  });

  it("writes notes that git notes show and git log --notes=coxswain read, and rewrites them when the phase changes", async () => {
    const env = await localEnv();
    const w = env.writer();
    w.store.setCommit(commitRecord(env.deploy, "Progressing", "1/3 pods of Deployment/default/web ready"));
    await w.flush();
    expect(await env.work.git(["notes", "--ref=coxswain", "show", env.deploy])).toBe("coxswain: Progressing — 1/3 pods of Deployment/default/web ready");
    w.store.setCommit(commitRecord(env.deploy, "Succeeded", "3/3 pods of Deployment/default/web ready (revision 5d8f7c9b6)"));
    await w.flush();
    const log = await env.work.git(["log", "--notes=coxswain", "-1", "main"]);
    expect(log).toContain("Notes (coxswain):\n    coxswain: Succeeded — 3/3 pods of Deployment/default/web ready (revision 5d8f7c9b6)");
    const notesCommits = await count(env.work, "refs/notes/coxswain");
    await w.flush();
    expect(await count(env.work, "refs/notes/coxswain")).toBe(notesCommits);
  });

  it("removes the file of a removed workload", async () => {
    const env = await localEnv();
    const w = env.writer();
    w.store.setWorkload(workload("web", 3, env.deploy));
    w.store.setWorkload(workload("api", 1, env.deploy));
    await w.flush();
    w.store.removeWorkload("Deployment", "default", "api");
    await w.flush();
    expect(await env.work.git(["ls-tree", "-r", "--name-only", BRANCH])).toBe(workloadPath("Deployment", "default", "web"));
  });

  it("reads its records back after a restart and makes no commit for the same state", async () => {
    const env = await localEnv();
    const first = env.writer();
    first.store.setCommit(commitRecord(env.deploy, "Succeeded"));
    first.store.setWorkload(workload("web", 3, env.deploy));
    first.store.setSummary(summary(env.deploy, "Succeeded"));
    await first.close();
    const commits = await count(env.work, BRANCH);
    const notes = await count(env.work, "refs/notes/coxswain");

    const reopened = await openRepository({ repo: env.work.dir, stateDir: env.work.dir });
    cleanups.push(() => reopened.close());
    const second = new StatusWriter({ writer: reopened.writer, remote: false, debounceMs: 10, onError: (e) => env.errors.push(e) });
    cleanups.push(() => second.close());
    await second.load();
    expect(second.store.getCommit(env.deploy)).toEqual(commitRecord(env.deploy, "Succeeded"));
    expect(second.store.getWorkload("Deployment", "default", "web")).toEqual(workload("web", 3, env.deploy));
    expect(second.store.summary()?.applied).toBe(env.deploy);
    await second.flush();
    expect(await count(env.work, BRANCH)).toBe(commits);
    expect(await count(env.work, "refs/notes/coxswain")).toBe(notes);
    expect(env.errors).toEqual([]);
  });

  it("flushes what is pending on close", async () => {
    const env = await localEnv();
    const w = env.writer({ debounceMs: 60_000 });
    w.store.setCommit(commitRecord(env.deploy, "Failed"));
    w.schedule();
    await w.close();
    expect(await count(env.work, BRANCH)).toBe(1);
  });

  it("never writes the deploy branch or the work tree", async () => {
    const env = await localEnv();
    const w = env.writer();
    w.store.setCommit(commitRecord(env.deploy, "Succeeded"));
    w.store.setSummary(summary(env.deploy, "Succeeded"));
    await w.flush();
    expect(await env.work.git(["rev-parse", "main"])).toBe(env.deploy);
    expect(await env.work.git(["status", "--porcelain"])).toBe("");
    expect((await env.work.git(["for-each-ref", "--format=%(refname)"])).split("\n").sort()).toEqual(["refs/heads/coxswain/status", "refs/heads/main", "refs/notes/coxswain"]);
  });

  it("reports a failed write as StatusWriteFailed and retries it by itself", async () => {
    const env = await localEnv();
    const w = env.writer({ retryMs: 100 });
    w.store.setCommit(commitRecord(env.deploy, "Succeeded"));
    await w.flush();
    // Another process holds the ref's lock: the next write fails.
    const lock = join(env.work.gitdir, "refs/heads/coxswain/status.lock");
    await writeFile(lock, "");
    w.store.setWorkload(workload("web", 2, env.deploy));
    await w.flush();
    expect(env.errors.map((e) => e.code)).toEqual(["StatusWriteFailed"]);
    expect(await count(env.work, BRANCH)).toBe(1);
    await rm(lock);
    // Retried by itself (no flush from here): the second commit appears.
    await waitFor("the retried write", async () => (await count(env.work, BRANCH)) >= 2, 30_000, 20);
    expect(await count(env.work, BRANCH)).toBe(2);
  });
});

// ---------------------------------------------------------------- a remote repository

interface RemoteEnv extends Env {
  server: GitServer;
  bare: string;
  root: string;
  url: string;
}

async function remoteEnv(): Promise<RemoteEnv> {
  const root = await tempDir("coxswain-server-");
  cleanups.push(() => rm(root, { recursive: true, force: true }));
  const bare = await createBareRepo(root, "app.git");
  const server = await startGitServer({ root, auth: { username: "u", password: "pw" } });
  cleanups.push(() => server.close());
  const url = server.urlWithCredentials("app.git", "u", "pw");
  const work = await makeRepo();
  cleanups.push(() => work.cleanup());
  await work.write("app/deployment.yaml", "kind: Deployment\n");
  const deploy = await work.commit("deploy web");
  await work.push(url, "main");
  const state = await tempDir("coxswain-state-");
  cleanups.push(() => rm(state, { recursive: true, force: true }));
  const repo = await openRepository({ repo: url, stateDir: state, timeoutMs: 10_000 });
  cleanups.push(() => repo.close());
  const errors: CoxError[] = [];
  return {
    server,
    bare,
    root,
    url,
    work,
    repo,
    deploy,
    errors,
    writer(opts = {}) {
      const w = new StatusWriter({ writer: repo.writer, remote: true, debounceMs: 50, retryMs: 60_000, onError: (e) => errors.push(e), ...opts });
      cleanups.push(() => w.close());
      return w;
    },
  };
}

const serverGit = (env: RemoteEnv, ...args: string[]): Promise<string> => runGit(["--git-dir", env.bare, ...args]);

/** Someone else commits `file` on the remote status branch (cloning it with the git CLI). */
async function otherCommit(env: RemoteEnv, file: string): Promise<string> {
  const other = await makeRepo();
  try {
    await other.git(["fetch", "--quiet", env.url, `${BRANCH}:${BRANCH}`]);
    await other.git(["checkout", "--quiet", "coxswain/status"]);
    await other.write(file, "someone else\n");
    const oid = await other.commit("someone else");
    await other.push(env.url, "coxswain/status");
    return oid;
  } finally {
    await other.cleanup();
  }
}

describe("the status writer on a remote repository", () => {
  it("pushes the branch and notes so that they are visible in the server's repository", async () => {
    const env = await remoteEnv();
    const w = env.writer();
    await w.load();
    w.store.setCommit(commitRecord(env.deploy, "Succeeded", "3/3 pods ready"));
    w.store.setSummary(summary(env.deploy, "Succeeded"));
    await w.flush();
    expect(env.errors).toEqual([]);
    expect(await serverGit(env, "ls-tree", "-r", "--name-only", BRANCH)).toBe([commitPath(env.deploy), "summary.yaml"].join("\n"));
    expect(await serverGit(env, "notes", "--ref=coxswain", "show", env.deploy)).toBe("coxswain: Succeeded — 3/3 pods ready");
    expect(await serverGit(env, "log", "--notes=coxswain", "-1", "main")).toContain("coxswain: Succeeded — 3/3 pods ready");
    expect(await serverGit(env, "rev-parse", "main")).toBe(env.deploy);
  });

  it("reads the records back from the remote with a fresh state dir", async () => {
    const env = await remoteEnv();
    const w = env.writer();
    await w.load();
    w.store.setCommit(commitRecord(env.deploy, "Succeeded"));
    w.store.setWorkload(workload("web", 3, env.deploy));
    await w.close();
    const pushed = await serverGit(env, "rev-parse", BRANCH);

    const state = await tempDir("coxswain-state-");
    cleanups.push(() => rm(state, { recursive: true, force: true }));
    const repo = await openRepository({ repo: env.url, stateDir: state });
    cleanups.push(() => repo.close());
    const again = new StatusWriter({ writer: repo.writer, remote: true, debounceMs: 10, onError: (e) => env.errors.push(e) });
    cleanups.push(() => again.close());
    await again.load();
    expect(again.store.getCommit(env.deploy)).toEqual(commitRecord(env.deploy, "Succeeded"));
    expect(again.store.getWorkload("Deployment", "default", "web")?.replicas.ready).toBe(3);
    await again.flush();
    expect(await serverGit(env, "rev-parse", BRANCH)).toBe(pushed);
    expect(env.errors).toEqual([]);
  });

  it("rebuilds on the remote tip when someone else moved the status branch, keeping their commit in history", async () => {
    const env = await remoteEnv();
    const w = env.writer();
    await w.load();
    w.store.setCommit(commitRecord(env.deploy, "Progressing"));
    await w.flush();
    const theirs = await otherCommit(env, "theirs.txt");
    w.store.setCommit(commitRecord(env.deploy, "Succeeded"));
    await w.flush();
    expect(env.errors).toEqual([]);
    const tip = await serverGit(env, "rev-parse", BRANCH);
    expect(await serverGit(env, "rev-parse", `${tip}^`)).toBe(theirs);
    const record = parse(await serverGit(env, "show", `${BRANCH}:${commitPath(env.deploy)}`));
    expect(record.phase).toBe("Succeeded");
  });

  it("re-applies its notes on the remote notes when someone else added a note there", async () => {
    const env = await remoteEnv();
    const w = env.writer();
    await w.load();
    w.store.setCommit(commitRecord(env.deploy, "Progressing"));
    await w.flush();
    // Someone else notes another commit on the server's notes ref.
    const other = await makeRepo();
    let humanNotes: string;
    try {
      await other.git(["fetch", "--quiet", env.url, "main:refs/remotes/server/main", "refs/notes/coxswain:refs/notes/coxswain"]);
      await other.git(["notes", "--ref=coxswain", "add", "-f", "-m", "a human note", env.deploy]);
      await other.git(["push", "--quiet", env.url, "refs/notes/coxswain:refs/notes/coxswain"]);
      humanNotes = await other.git(["rev-parse", "refs/notes/coxswain"]);
    } finally {
      await other.cleanup();
    }
    const second = await env.work.commit("second deploy");
    await env.work.push(env.url, "main");
    w.store.setCommit(commitRecord(second, "Succeeded"));
    await w.flush();
    expect(env.errors).toEqual([]);
    expect(await serverGit(env, "notes", "--ref=coxswain", "show", second)).toBe("coxswain: Succeeded — succeeded rollout");
    // Our own note on the first commit wins over the human's replacement, and the human's commit stays in history.
    expect(await serverGit(env, "notes", "--ref=coxswain", "show", env.deploy)).toBe("coxswain: Progressing — progressing rollout");
    await serverGit(env, "merge-base", "--is-ancestor", humanNotes, "refs/notes/coxswain");
  });

  it("reports a push the server keeps refusing as StatusWriteFailed caused by GitPushRejected, then succeeds on a later flush", async () => {
    const env = await remoteEnv();
    const w = env.writer();
    await w.load();
    w.store.setCommit(commitRecord(env.deploy, "Progressing"));
    await w.flush();
    // A pre-receive hook on the server declines updates of the status branch while a marker file exists.
    const marker = join(env.root, "decline");
    const hook = join(env.bare, "hooks", "pre-receive");
    await writeFile(hook, `#!/bin/sh\nwhile read old new ref; do\n  if [ "$ref" = "${BRANCH}" ] && [ -e "${marker}" ]; then echo "status branch frozen" >&2; exit 1; fi\ndone\nexit 0\n`);
    await chmod(hook, 0o755);
    await writeFile(marker, "");
    w.store.setCommit(commitRecord(env.deploy, "Succeeded"));
    await w.flush();
    expect(env.errors).toHaveLength(1);
    const err = env.errors[0]!;
    expect(err.code).toBe("StatusWriteFailed");
    expect((err.cause as CoxError).code).toBe("GitPushRejected");
    expect(err.details?.cause).toBe("GitPushRejected");
    const refused = parse(await serverGit(env, "show", `${BRANCH}:${commitPath(env.deploy)}`));
    expect(refused.phase).toBe("Progressing");
    await rm(marker);
    await w.flush();
    const accepted = parse(await serverGit(env, "show", `${BRANCH}:${commitPath(env.deploy)}`));
    expect(accepted.phase).toBe("Succeeded");
    expect(env.errors).toHaveLength(1);
  });
});
