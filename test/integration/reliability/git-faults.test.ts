/**
 * Git faults against a running operator that follows a REMOTE repository, served by the real smart-HTTP
 * server (git http-backend, test/support/git-server.ts):
 * (a) the remote down for a while, then back on the same port — what runs is untouched, /readyz says why,
 *     the next fetch recovers with no restart (in process, and as a real `coxswain run` process over HTTP);
 * (b) a force-push to an unrelated history and back to an older commit — followed as Argo CD and Flux do,
 *     each record `historyRewritten: true`;
 * (c) a damaged mirror (a pack cut short, an object gone below the head, loose objects emptied — at a
 *     restart, as a crash leaves them; packs deleted while it runs) — found, repaired from the remote, what
 *     runs untouched;
 * (d) the state directory on a full disk (a small tmpfs) — fetch and status write failures reported with
 *     their codes, nothing running touched, writes resume when space comes back, no temporary file left.
 * Each case prints what it measured. The in-process cases use the fake runtime (fast); the real process
 * runs local processes. COXSWAIN_LONG=1 keeps the remote away for longer (the back-off reaches its cap).
 */
import { execFile } from "node:child_process";
import { mkdir, readdir, rm, stat, statfs, truncate, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { afterEach, describe, expect, it } from "vitest";
import { ProcessRuntime } from "../../../operator/src/runtime/process/index.js";
import { LABELS } from "../../../operator/src/runtime/labels.js";
import { runGit, type TestRepo } from "../../support/git-repo.js";
import { startGitServer, type GitServer } from "../../support/git-server.js";
import { deploymentYaml } from "../../support/manifests.js";
import { startOperatorProcess, stopNodeProxies, type OperatorProcess } from "../../support/operator-process.js";
import { waitFor } from "../../support/wait.js";
import { operator, record, Scope, type RecordingRuntime, type TestOperator } from "../proposals/harness.js";

const execFileAsync = promisify(execFile);
const LONG = process.env.COXSWAIN_LONG === "1";
/** Retry delays of a failed fetch in the in-process cases: short, so that a case takes seconds. */
const BACKOFF = { initialMs: 100, maxMs: LONG ? 2_000 : 400 };

const scope = new Scope();
afterEach(() => scope.cleanup());

/** Prints one measured figure of a case. */
function measured(what: string, value: string | number): void {
  process.stdout.write(`[git-faults] ${what}: ${value}\n`);
}

/** A work tree pushing to a served bare repository, and a way to stop and restart the server on its port. */
async function remote(): Promise<{ work: TestRepo; url: string; gitdir: string; server(): GitServer; restart(): Promise<void> }> {
  const work = await scope.work();
  const served = await scope.served(work);
  let server = served.server;
  return {
    work,
    url: served.url,
    gitdir: served.gitdir,
    server: () => server,
    async restart() {
      server = await startGitServer({ root: dirname(served.gitdir), port: served.server.port });
      const s = server;
      scope.defer(() => s.close());
    },
  };
}

/** Commits the Deployment "web" with `replicas` and pushes it over HTTP. */
async function commitDeployment(work: TestRepo, replicas: number, message: string): Promise<string> {
  await work.write("web.yaml", deploymentYaml({ name: "web", replicas }));
  const oid = await work.commit(message);
  await work.push("origin", "main");
  return oid;
}

/** Running containers of every fake node, by id (what runs; "untouched" means the same ids). */
async function runningIds(runtimes: Map<string, RecordingRuntime>): Promise<string[]> {
  const ids: string[] = [];
  for (const rt of runtimes.values()) for (const c of await rt.list()) if (c.state === "running") ids.push(c.id);
  return ids.sort();
}

/** Containers created or removed so far on every fake node (a fault must add neither). */
function launches(runtimes: Map<string, RecordingRuntime>): number {
  let n = 0;
  for (const rt of runtimes.values()) n += rt.launched.length;
  return n;
}

/** The operator in process on the fake runtime, following `url`, with the short fetch back-off. */
async function startFake(url: string, extra: Partial<Parameters<typeof operator>[1]> = {}): Promise<TestOperator> {
  return operator(scope, { repo: url, fetchBackoff: BACKOFF, ...extra });
}

/** Waits until `commit` is the applied one and `pods` containers run. */
async function appliedWith(t: TestOperator, commit: string, pods: number): Promise<void> {
  await waitFor(`${commit.slice(0, 7)} applied with ${pods} pods`, async () => t.op.sync.commit() === commit && (await t.containers()).length === pods, 60_000, 20);
}

describe("the remote down for a while", () => {
  it("leaves what runs alone, fails /readyz's git check with GitFetchFailed, and recovers on the next fetch once it is back", async () => {
    const r = await remote();
    const c1 = await commitDeployment(r.work, 2, "v1");
    // A failed status write waits 60 s before its retry: only the remote's return may end that wait.
    const t = await startFake(r.url, { statusRetryMs: 60_000 });
    await appliedWith(t, c1, 2);
    const before = await runningIds(t.runtimes);
    const launched = launches(t.runtimes);

    const down = performance.now();
    await r.server().close();
    const notReady = await waitFor(
      "/readyz's git check to fail",
      () => {
        const ready = t.op.ready();
        return !ready.checks.git.ok ? ready : undefined;
      },
      60_000,
      20,
    );
    measured("remote down → not ready (3 failed fetches)", `${Math.round(performance.now() - down)} ms`);
    expect(notReady).toMatchObject({ ready: false, checks: { git: { ok: false, code: "GitFetchFailed" }, status: expect.anything(), nodes: { ok: true } } });
    expect(notReady.checks.git.reason).toMatch(/^the last \d+ fetches of http:\/\/127\.0\.0\.1:\d+\/deploy\.git failed/);
    // Liveness stays 200 (ok); the fault is listed (with the status write's, which cannot push meanwhile).
    expect(t.op.health()).toMatchObject({ ok: true, faults: expect.arrayContaining([expect.objectContaining({ where: "fetch", code: "GitFetchFailed" })]) });

    // A commit lands on the server while its HTTP side is down (pushed to the bare repository itself).
    await r.work.write("web.yaml", deploymentYaml({ name: "web", replicas: 3 }));
    const c2 = await r.work.commit("v2 while the remote is down");
    await r.work.push(r.gitdir, "main");
    // Away for a while: LONG keeps it away until the back-off has reached its cap a few times.
    const failuresBefore = t.op.health().source as { failures: number };
    await waitFor("more failed fetches", () => (t.op.health().source as { failures: number }).failures >= failuresBefore.failures + (LONG ? 8 : 1), 120_000, 20);
    expect(t.op.sync.commit()).toBe(c1);
    expect(await runningIds(t.runtimes)).toEqual(before);
    expect(launches(t.runtimes)).toBe(launched);
    const failures = (t.op.health().source as { failures: number }).failures;

    const back = performance.now();
    await r.restart();
    await appliedWith(t, c2, 3);
    measured(`remote back → the commit pushed meanwhile applied (after ${failures} failed fetches, back-off ${BACKOFF.initialMs}–${BACKOFF.maxMs} ms)`, `${Math.round(performance.now() - back)} ms`);
    // The status branch is pushed when the remote is back, not when the write's 60 s back-off ends.
    await waitFor("ready again, the status check too", () => t.op.ready().ready, 30_000, 20);
    measured("remote back → ready (status pushed)", `${Math.round(performance.now() - back)} ms`);
    expect(t.op.health().faults).toBeUndefined();
    // The two pods of v1 are still the same containers: scaling to 3 added one.
    const after = await runningIds(t.runtimes);
    expect(after).toEqual(expect.arrayContaining(before));
    expect(after).toHaveLength(3);
    expect(await t.line(/source: http:\/\/127\.0\.0\.1:\d+\/deploy\.git answers again after \d+ failed fetch/)).toBeTruthy();
  });

  it("as a real `coxswain run` process: /readyz answers 503 with the code while it is away, 200 after, its pod never restarted", async () => {
    const r = await remote();
    await r.work.write(
      "web.yaml",
      `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 1
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
        - name: app
          image: local/app:v1
          command: ["sleep", "600"]
`,
    );
    const c1 = await r.work.commit("v1");
    await r.work.push("origin", "main");
    const stateDir = await scope.dir("coxswain-gitf-proc-");
    scope.defer(async () => {
      await stopNodeProxies(stateDir);
      const rt = new ProcessRuntime({ stateDir, owner: "coxswain" });
      for (const c of await rt.list()) await rt.remove(c.id);
      await rt.close();
    });
    const op: OperatorProcess = startOperatorProcess([
      "run",
      "--repo",
      r.url,
      "--state-dir",
      stateDir,
      "--runtime",
      "process",
      "--poll-interval",
      "200ms",
      "--listen",
      "127.0.0.1:0",
      "--ready-fetch-failures",
      "2",
      "--port-range",
      "46100-46199",
    ]);
    scope.defer(() => op.stop());
    const base = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(await op.waitForLine(/listening on http:\/\/127\.0\.0\.1:\d+/, 120_000))![1]!;
    const readyz = async () => {
      const res = await fetch(`${base}/readyz`);
      return { status: res.status, body: (await res.json()) as { ready: boolean; checks: { git: { ok: boolean; code?: string; reason?: string } } } };
    };
    const rt = new ProcessRuntime({ stateDir, owner: "coxswain" });
    scope.defer(() => rt.close());
    const pod = await waitFor("the pod running", async () => (await rt.list()).find((c) => c.state === "running" && c.labels[LABELS.commit]?.startsWith(c1.slice(0, 7))), 120_000, 100);
    await waitFor("ready", async () => (await readyz()).status === 200, 120_000, 100);

    const down = performance.now();
    await r.server().close();
    // The status check fails first (its push is refused at once); the git check after 2 failed fetches.
    const refused = await waitFor(
      "/readyz 503 with the git check failing",
      async () => {
        const res = await readyz();
        return res.status === 503 && !res.body.checks.git.ok ? res : undefined;
      },
      60_000,
      50,
    );
    measured("real process: remote down → /readyz 503 (2 failed fetches, default back-off)", `${Math.round(performance.now() - down)} ms`);
    expect(refused.body).toMatchObject({ ready: false, checks: { git: { ok: false, code: "GitFetchFailed" } } });
    expect(refused.body.checks.git.reason).toMatch(/fetch/);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);

    const back = performance.now();
    await r.restart();
    await waitFor("/readyz 200 again", async () => (await readyz()).status === 200, 120_000, 50);
    measured("real process: remote back → /readyz 200 (next retry of the back-off)", `${Math.round(performance.now() - back)} ms`);
    const now = (await rt.list()).filter((c) => c.state === "running");
    expect(now.map((c) => c.id)).toEqual([pod.id]);
    expect(op.lines.some((l) => /answers again after \d+ failed fetch/.test(l))).toBe(true);
  });
});

describe("a force-pushed deploy branch", () => {
  it("is followed to an unrelated history and back to an older commit, each record historyRewritten, nothing failing", async () => {
    const r = await remote();
    const c1 = await commitDeployment(r.work, 2, "v1");
    const c2 = await commitDeployment(r.work, 3, "v2");
    const t = await startFake(r.url);
    await appliedWith(t, c2, 3);

    // An unrelated history: an orphan branch forced onto main.
    await r.work.git(["checkout", "--quiet", "--orphan", "rewrite"]);
    await r.work.write("web.yaml", deploymentYaml({ name: "web", replicas: 1 }));
    const c3 = await r.work.commit("rewritten history");
    const forced = performance.now();
    await r.work.git(["push", "--quiet", "--force", "origin", "rewrite:main"]);
    t.op.trigger();
    await appliedWith(t, c3, 1);
    measured("force-push to an unrelated commit → applied", `${Math.round(performance.now() - forced)} ms`);
    expect(await record(t, r.gitdir, c3)).toMatch(/^historyRewritten: true$/m);

    // Back to an older commit (main reset to v1 and forced).
    const reset = performance.now();
    await r.work.git(["push", "--quiet", "--force", "origin", `${c1}:refs/heads/main`]);
    t.op.trigger();
    await appliedWith(t, c1, 2);
    measured("force-push back to an older commit → applied", `${Math.round(performance.now() - reset)} ms`);
    expect(await record(t, r.gitdir, c1)).toMatch(/^historyRewritten: true$/m);
    expect(await t.line(/branch main was rewritten: [0-9a-f]{7} does not descend from [0-9a-f]{7}/)).toBeTruthy();
    expect(t.op.ready()).toMatchObject({ ready: true });
    expect(t.op.health().faults).toBeUndefined();
  });
});

describe("a damaged mirror", () => {
  /** Runs v1 with two pods, stops the operator, damages its mirror with `damage`, starts it again on the same runtimes. */
  async function damagedRestart(damage: (mirror: string, bare: string, head: string) => Promise<void>): Promise<{ t: TestOperator; c1: string; before: string[]; ms: number }> {
    const r = await remote();
    const c1 = await commitDeployment(r.work, 2, "v1");
    const stateDir = await scope.dir("coxswain-gitf-state-");
    const first = await startFake(r.url, { stateDir });
    await appliedWith(first, c1, 2);
    await first.op.flushStatus();
    const mirror = first.op.repo.gitdir;
    const runtimes = first.runtimes;
    const before = await runningIds(runtimes);
    await first.stop();
    await damage(mirror, r.gitdir, c1);
    const started = performance.now();
    const t = await startFake(r.url, { stateDir, runtimes });
    await waitFor("v1 applied again and the branch read", () => t.op.sync.commit() === c1 && t.op.sync.sourceFaults().length === 0 && t.op.ready().ready, 60_000, 20);
    return { t, c1, before, ms: Math.round(performance.now() - started) };
  }

  async function packs(mirror: string): Promise<string[]> {
    return (await readdir(join(mirror, "objects", "pack"))).filter((n) => n.endsWith(".pack")).map((n) => join(mirror, "objects", "pack", n));
  }

  it("a pack cut short is found when the mirror is opened, removed, fetched again; what runs is adopted as it was", async () => {
    const { t, before, ms } = await damagedRestart(async (mirror) => {
      const all = await packs(mirror);
      expect(all.length).toBeGreaterThan(0);
      for (const p of all) await truncate(p, Math.floor((await stat(p)).size / 2));
    });
    measured("pack cut short → operator started, mirror repaired, branch read", `${ms} ms`);
    expect(await t.line(/the mirror of .* was damaged .* [1-9]\d* damaged file\(s\) removed .*fetched again in full.* in \d+ ms; what runs was not touched/)).toBeTruthy();
    expect(await runningIds(t.runtimes)).toEqual(before);
    expect(launches(t.runtimes)).toBe(2); // the first run's two pods, none since
  });

  it("an object gone below the head is reported as MirrorCorrupt and repaired on the next fetch; what runs untouched", async () => {
    const { t, before, ms } = await damagedRestart(async (mirror, bare, head) => {
      // The mirror keeps the head commit (loose) but loses every tree and blob the fetch brought.
      const commit = await runGit(["--git-dir", bare, "cat-file", "commit", head]);
      for (const p of await packs(mirror)) {
        await rm(p);
        await rm(p.replace(/\.pack$/, ".idx"));
      }
      const written = await runGit(["--git-dir", mirror, "hash-object", "-t", "commit", "-w", "--stdin"], { input: `${commit}\n` });
      expect(written).toBe(head);
    });
    measured("object missing below the head → repaired on the next fetch, branch read", `${ms} ms`);
    expect(await t.line(/source \(read\): MirrorCorrupt: the mirror of .* is damaged: tree [0-9a-f]{40} cannot be read/)).toBeTruthy();
    expect(await t.line(/the mirror of .* was damaged \(tree [0-9a-f]{40} cannot be read\).*fetched again in full/)).toBeTruthy();
    expect(await runningIds(t.runtimes)).toEqual(before);
    expect(launches(t.runtimes)).toBe(2);
  });

  it("loose objects emptied (the status branch's, as a crash leaves them) are removed on open and fetched again", async () => {
    let emptied = 0;
    const { t, before, ms } = await damagedRestart(async (mirror) => {
      for (const d of (await readdir(join(mirror, "objects"))).filter((n) => /^[0-9a-f]{2}$/.test(n))) {
        for (const f of await readdir(join(mirror, "objects", d))) {
          await writeFile(join(mirror, "objects", d, f), "");
          emptied++;
        }
      }
      expect(emptied).toBeGreaterThan(0);
    });
    measured(`${emptied} loose objects emptied → operator started, mirror repaired, branch read`, `${ms} ms`);
    expect(await t.line(new RegExp(`the mirror of .* was damaged .*: ${emptied} damaged file\\(s\\) removed`))).toBeTruthy();
    // The status branch goes on: a new record is written and pushed.
    await t.op.flushStatus();
    expect(t.op.ready()).toMatchObject({ ready: true, checks: { status: { ok: true } } });
    expect(await runningIds(t.runtimes)).toEqual(before);
    expect(launches(t.runtimes)).toBe(2);
  });

  it("packs deleted while it runs: the branch is read again from the remote, what runs untouched", async () => {
    const r = await remote();
    const c1 = await commitDeployment(r.work, 2, "v1");
    const t = await startFake(r.url);
    await appliedWith(t, c1, 2);
    const before = await runningIds(t.runtimes);
    for (const p of await packs(t.op.repo.gitdir)) {
      await rm(p);
      await rm(p.replace(/\.pack$/, ".idx"));
    }
    const c2 = await commitDeployment(r.work, 3, "v2 after the packs were lost");
    const lost = performance.now();
    t.op.trigger();
    await appliedWith(t, c2, 3);
    measured("packs deleted while running → next commit applied", `${Math.round(performance.now() - lost)} ms`);
    expect(await runningIds(t.runtimes)).toEqual(expect.arrayContaining(before));
    await waitFor("ready", () => t.op.ready().ready, 30_000, 20);
  });
});

describe("the state directory on a full disk", () => {
  it("reports failed fetches and status writes with their codes, touches nothing running, and resumes when space comes back", async () => {
    if (process.getuid?.() !== 0) {
      if (process.env.CI === "true") throw new Error("the full-disk case needs root (mount -t tmpfs)");
      return;
    }
    const r = await remote();
    const c1 = await commitDeployment(r.work, 2, "v1");
    const mount = await scope.dir("coxswain-gitf-tmpfs-");
    await execFileAsync("mount", ["-t", "tmpfs", "-o", "size=8m", "tmpfs", mount]);
    // Unmounted after the operator stopped (cleanups run in reverse), even when the test failed.
    scope.defer(() => execFileAsync("umount", [mount]).catch(() => execFileAsync("umount", ["-l", mount])));
    const stateDir = join(mount, "state");
    const t = await startFake(r.url, { stateDir });
    await appliedWith(t, c1, 2);
    await t.op.flushStatus();
    const before = await runningIds(t.runtimes);
    const launched = launches(t.runtimes);

    // Fill the disk: a file of every free block, and another while the operator's own files, removed
    // meanwhile (a temporary file of a status write finishing), free blocks again — until none is free.
    const ballast = join(mount, "ballast");
    await mkdir(ballast);
    let fills = 0;
    await waitFor(
      "the disk full",
      async () => {
        const fs = await statfs(mount);
        if (Number(fs.bavail) === 0) return true;
        await writeFile(join(ballast, String(fills++)), Buffer.alloc(Number(fs.bavail) * Number(fs.bsize))).catch(() => undefined);
        return false;
      },
      60_000,
      20,
    );

    // A new commit: its fetch cannot write the pack, the summary's fault cannot be committed.
    const c2 = await commitDeployment(r.work, 3, "v2 on a full disk");
    t.op.trigger();
    const full = performance.now();
    const notReady = await waitFor(
      "/readyz's git and status checks to fail",
      () => {
        const ready = t.op.ready();
        return !ready.checks.git.ok && !ready.checks.status.ok ? ready : undefined;
      },
      60_000,
      20,
    );
    measured("disk full → git and status checks failing", `${Math.round(performance.now() - full)} ms`);
    expect(notReady.checks.git).toMatchObject({ ok: false, code: "GitFetchFailed" });
    expect(notReady.checks.git.reason).toMatch(/ENOSPC|no space left/i);
    expect(notReady.checks.status).toMatchObject({ ok: false, code: "StatusWriteFailed" });
    expect(notReady.checks.status.reason).toMatch(/ENOSPC|no space left/i);
    expect(t.op.sync.commit()).toBe(c1);
    expect(await runningIds(t.runtimes)).toEqual(before);
    expect(launches(t.runtimes)).toBe(launched);

    const freed = performance.now();
    await rm(ballast, { recursive: true });
    t.op.trigger();
    await appliedWith(t, c2, 3);
    await waitFor("ready again", () => t.op.ready().ready, 60_000, 20);
    measured("space back → v2 applied and status written, ready", `${Math.round(performance.now() - freed)} ms`);
    await t.op.flushStatus();
    expect(await record(t, r.gitdir, c2)).toMatch(/^phase: \w+$/m);
    // The writes cut short left nothing behind (hidden temporary files would keep the disk full).
    const leftovers = (await execFileAsync("find", [stateDir, "-name", ".coxswain-tmp-*"])).stdout.trim();
    expect(leftovers).toBe("");
  });
});
