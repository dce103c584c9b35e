/**
 * Shared by the Git-interface integration tests (proposals, webhook, status): the operator in-process with
 * the fake runtime (which records every launch), a bare repository on disk or behind the smart-HTTP Git
 * server, and readers of what the operator wrote to Git (with the git CLI).
 */
import { rm } from "node:fs/promises";
import type { ContainerLaunch } from "../../../operator/src/runtime/types.js";
import { FakeRuntime } from "../../../operator/src/runtime/fake/index.js";
import { LABELS } from "../../../operator/src/runtime/labels.js";
import { startOperator, type OperatorOptions, type RunningOperator } from "../../../operator/src/sync/operator.js";
import { makeRepo, runGit, tempDir, type TestRepo } from "../../support/git-repo.js";
import { createBareRepo, startGitServer, type GitServer } from "../../support/git-server.js";
import { waitFor } from "../../support/wait.js";
import { lineLogger } from "../../support/log.js";

export const GiB = 2 ** 30;

/** The fake runtime, remembering every container it was asked to run. */
export class RecordingRuntime extends FakeRuntime {
  readonly launched: ContainerLaunch[] = [];
  override async run(launch: ContainerLaunch) {
    this.launched.push(launch);
    return super.run(launch);
  }
}

/** A place for a test's resources, released in reverse order by cleanup(). */
export class Scope {
  private readonly cleanups: (() => Promise<unknown>)[] = [];
  defer(fn: () => Promise<unknown>): void {
    this.cleanups.push(fn);
  }
  async cleanup(): Promise<void> {
    for (const c of this.cleanups.splice(0).reverse()) await c().catch(() => undefined);
  }
  async dir(prefix: string): Promise<string> {
    const d = await tempDir(prefix);
    this.defer(() => rm(d, { recursive: true, force: true }));
    return d;
  }
  async work(): Promise<TestRepo> {
    const r = await makeRepo();
    this.defer(() => r.cleanup());
    return r;
  }
  /** A bare repository `deploy.git` on disk, the work tree's remote "origin". */
  async bare(work: TestRepo): Promise<{ root: string; gitdir: string }> {
    const root = await this.dir("coxswain-bare-");
    const gitdir = await createBareRepo(root, "deploy.git");
    await work.git(["remote", "add", "origin", gitdir]);
    return { root, gitdir };
  }
  /** The same bare repository behind the smart-HTTP server; the work tree pushes over HTTP. */
  async served(work: TestRepo, auth?: { username: string; password: string }): Promise<{ gitdir: string; url: string; server: GitServer }> {
    const root = await this.dir("coxswain-served-");
    const gitdir = await createBareRepo(root, "deploy.git");
    const server = await startGitServer({ root, ...(auth ? { auth } : {}) });
    this.defer(() => server.close());
    const url = server.url("deploy.git");
    await work.git(["remote", "add", "origin", auth ? server.urlWithCredentials("deploy.git", auth.username, auth.password) : url]);
    return { gitdir, url, server };
  }
}

/** A running operator with the fake runtime, its log lines and its runtimes by node name. */
export interface TestOperator {
  op: RunningOperator;
  lines: string[];
  runtimes: Map<string, RecordingRuntime>;
  /** Running containers: node, namespace, workload, pod, revision, image. */
  containers(): Promise<{ node: string; namespace: string; workload: string; pod: string; revision: string; image: string }[]>;
  /** Waits for a log line. */
  line(re: RegExp, timeoutMs?: number): Promise<string>;
  stop(): Promise<void>;
}

/** Starts the operator with the fake runtime (nodes of 4 CPUs and 8 GiB unless given). */
export async function operator(scope: Scope, opts: Omit<OperatorOptions, "stateDir"> & { stateDir?: string; runtimes?: Map<string, RecordingRuntime>; cpuMillis?: number }): Promise<TestOperator> {
  const runtimes = opts.runtimes ?? new Map<string, RecordingRuntime>();
  const lines: string[] = [];
  const stateDir = opts.stateDir ?? (await scope.dir("coxswain-state-"));
  const op = await startOperator({
    pollMs: 200,
    fleetPollMs: 200,
    statusDebounceMs: 30,
    seed: 1,
    defaultPortRange: { from: 45000, to: 45999 },
    ...opts,
    stateDir,
    log: lineLogger((l) => {
      lines.push(l);
      if (process.env.COXSWAIN_TEST_VERBOSE) process.stderr.write(`[op] ${l}\n`);
    }),
    runtimeFactory: (node) => {
      let rt = runtimes.get(node.name);
      if (!rt) {
        rt = new RecordingRuntime({ name: node.name, cpuMillis: opts.cpuMillis ?? 4000, memoryBytes: 8 * GiB });
        runtimes.set(node.name, rt);
      }
      return rt;
    },
  });
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await op.stop();
  };
  scope.defer(stop);
  return {
    op,
    lines,
    runtimes,
    async containers() {
      const out = [];
      for (const [node, rt] of runtimes) {
        for (const c of await rt.list()) {
          if (c.state !== "running") continue;
          out.push({
            node,
            namespace: c.labels[LABELS.namespace]!,
            workload: c.labels[LABELS.workload]!,
            pod: c.labels[LABELS.pod]!,
            revision: c.labels[LABELS.revision]!,
            image: c.image,
          });
        }
      }
      return out.sort((a, b) => (a.namespace + a.pod < b.namespace + b.pod ? -1 : 1));
    },
    line: (re, timeoutMs = 30_000) => waitFor(`log line ${re}`, () => lines.find((l) => re.test(l)), timeoutMs, 20),
    stop,
  };
}

/** Reads a file of the status branch (`git show coxswain/status:<path>`) in a gitdir; undefined when absent. */
export async function statusFile(gitdir: string, path: string): Promise<string | undefined> {
  return runGit(["--git-dir", gitdir, "show", `coxswain/status:${path}`]).catch(() => undefined);
}

/** The commit record of `oid` in a gitdir, after a flush. */
export async function record(t: TestOperator, gitdir: string, oid: string): Promise<string> {
  await t.op.flushStatus();
  return (await statusFile(gitdir, `commits/${oid.slice(0, 2)}/${oid}.yaml`)) ?? "";
}

/** The coxswain note on a commit, or "". */
export async function note(gitdir: string, oid: string): Promise<string> {
  return runGit(["--git-dir", gitdir, "notes", "--ref=coxswain", "show", oid]).catch(() => "");
}
