/**
 * Safe write-back under a burst (fake runtime, the smart-HTTP Git server): 100 commits, each a new revision,
 * pushed in a burst while a rollout is in flight, each push followed by a signed webhook. The branch moves
 * in pushes of PER_PUSH commits (each push through git http-backend is two CGI requests, each a fresh git
 * process). "While a rollout is in flight" is made true, not
 * hoped for from the push rate: the runtime holds every container start from the first push until the
 * operator has taken the last head. The operator converges to the last commit without starting a rollout
 * per commit — only pushed heads are ever processed, and the rollout in flight is superseded — and the
 * record stays coherent: every processed commit has a final phase, the summary and the note agree with
 * the records, and the remote's status branch holds the same records as the operator.
 */
import { afterEach, describe, expect, it } from "vitest";
import { parse } from "yaml";
import type { ContainerLaunch } from "../../../operator/src/runtime/types.js";
import { sign } from "../../../operator/src/server/index.js";
import { LABELS } from "../../../operator/src/runtime/labels.js";
import { BurstGate } from "../../../operator/src/sync/operator.js";
import { noteText } from "../../../operator/src/status/store.js";
import { runGit } from "../../support/git-repo.js";
import { deploymentYaml } from "../../support/manifests.js";
import { waitFor } from "../../support/wait.js";
import { GiB, note, operator, RecordingRuntime, Scope, statusFile } from "../proposals/harness.js";

const SECRET = "burst-secret-0123456789abcdef";
const COMMITS = 100;
/** Commits per push (see the file comment). */
const PER_PUSH = 5;
const scope = new Scope();
afterEach(() => scope.cleanup());

/** The recording fake runtime whose run() waits while held: a rollout that cannot complete until released. */
class HeldRuntime extends RecordingRuntime {
  /** run() calls that waited for release. */
  held = 0;
  private gate: { promise: Promise<void>; release: () => void } | undefined;
  /** From now on, run() waits until release(). */
  hold(): void {
    let release = (): void => undefined;
    const promise = new Promise<void>((r) => (release = r));
    this.gate = { promise, release };
  }
  /** Lets every waiting and later run() through. */
  release(): void {
    this.gate?.release();
    this.gate = undefined;
  }
  override async run(launch: ContainerLaunch) {
    if (this.gate) {
      this.held++;
      await this.gate.promise;
    }
    return super.run(launch);
  }
}

describe("a burst of pushes", () => {
  it(`converges to the last of ${COMMITS} commits pushed while a rollout is in flight, without a rollout per commit, and the record stays coherent`, async () => {
    const work = await scope.work();
    const { url, gitdir } = await scope.served(work);
    const web = (i: number) => deploymentYaml({ name: "web", replicas: 2, image: `app:v${i}`, maxSurge: 1, maxUnavailable: 0 });
    await work.write("web.yaml", web(0));
    const v0 = await work.commit("v0");
    await work.push("origin", "main");
    const rt = new HeldRuntime({ name: "local", cpuMillis: 4000, memoryBytes: 8 * GiB });
    const t = await operator(scope, { repo: url, listen: "127.0.0.1:0", webhookSecret: SECRET, pollMs: 1_000, runtimes: new Map([["local", rt]]) });
    await waitFor("v0 Succeeded", () => t.op.store.getCommit(v0)?.phase === "Succeeded", 30_000, 50);
    const before = rt.launched.length;

    const oids: string[] = [];
    for (let i = 1; i <= COMMITS; i++) {
      await work.write("web.yaml", web(i));
      oids.push(await work.commit(`v${i}`));
    }
    const heads = oids.filter((_, i) => (i + 1) % PER_PUSH === 0 || i === oids.length - 1);
    rt.hold();
    // Each answer is caught at once (a hook that fails is a status string, not an unhandled rejection).
    const hooks: Promise<number | string>[] = [];
    const started = performance.now();
    for (const oid of heads) {
      await work.git(["push", "--quiet", "origin", `${oid}:refs/heads/main`]);
      const body = JSON.stringify({ ref: "refs/heads/main", after: oid });
      hooks.push(
        fetch(`${t.op.server!.url}/api/v1/webhooks/generic`, { method: "POST", headers: { "x-coxswain-signature-256": `sha256=${sign(SECRET, body)}` }, body }).then(
          (r) => r.status,
          (e: unknown) => `fetch failed: ${String((e as { cause?: unknown }).cause ?? e)}`,
        ),
      );
    }
    const pushedIn = performance.now() - started;
    // The rate limit (10/s, burst 20) may refuse some hooks with 429: the fetch they ask for happens anyway.
    expect((await Promise.all(hooks)).filter((s) => s !== 200 && s !== 429)).toEqual([]);

    const last = oids.at(-1)!;
    // The operator has taken the last head while the first rollout of the burst still waits to start pods.
    await waitFor("the last head processed", () => t.op.store.getCommit(last) !== undefined, 60_000, 50);
    await waitFor("a pod start held", () => rt.held > 0, 30_000, 20);
    rt.release();
    await waitFor("the last commit Succeeded", () => t.op.store.getCommit(last)?.phase === "Succeeded", 60_000, 100);
    expect((await t.containers()).map((c) => c.image)).toEqual([`app:v${COMMITS}`, `app:v${COMMITS}`]);

    // Not a rollout per commit: at most the revision in flight when the burst began, and the last one.
    const launched = rt.launched.slice(before);
    const revisions = new Set(launched.map((l) => l.labels[LABELS.revision]));
    const processed = oids.filter((o) => t.op.store.getCommit(o));
    if (process.env.COXSWAIN_TEST_VERBOSE) {
      process.stderr.write(
        `burst: ${COMMITS} commits in ${heads.length} pushes in ${Math.round(pushedIn)} ms, ${processed.length} head(s) processed, ${revisions.size} revision(s) started, ${launched.length} pod(s) created\n`,
      );
    }
    expect(revisions.size).toBeLessThanOrEqual(2);
    expect(launched.length).toBeLessThanOrEqual(2 * revisions.size + 4);

    // Only pushed heads are processed; every one but the last was superseded while the rollout was held,
    // and the summary agrees.
    for (const o of processed) expect(heads).toContain(o);
    for (const o of processed.filter((o) => o !== last)) expect(t.op.store.getCommit(o)!.phase).toBe("Superseded");
    expect(t.op.store.getCommit(last)!.phase).toBe("Succeeded");
    expect(t.op.store.summary()).toMatchObject({ head: { commit: last, phase: "Succeeded" }, applied: last, stable: last });

    // What the remote holds is the same record: summary, one file per processed commit, matching notes.
    await t.op.flushStatus();
    await waitFor("the remote status branch is current", async () => parse((await statusFile(gitdir, "summary.yaml")) ?? "{}")?.head?.phase === "Succeeded", 30_000, 100);
    const files = (await runGit(["--git-dir", gitdir, "ls-tree", "-r", "--name-only", "coxswain/status", "commits/"])).split("\n").filter(Boolean);
    expect(files.sort()).toEqual([v0, ...processed].map((o) => `commits/${o.slice(0, 2)}/${o}.yaml`).sort());
    for (const o of processed) expect(await note(gitdir, o)).toBe(noteText(t.op.store.getCommit(o)!));
  });
});

describe("BurstGate (the decision, on a clock of our own)", () => {
  it.each([
    {
      name: "hands the head seen at start and a later single push to the sync at once",
      steps: [
        [0, "a"],
        [100, "b"],
      ] as [number, string][],
      want: ["sync a", "sync b"],
    },
    {
      name: "holds a head that moves again within 500 ms until the branch has been quiet for 500 ms",
      steps: [
        [0, "a"],
        [1_000, "b"],
        [1_100, "c"],
        [1_300, "d"],
        [1_900, "d"],
      ] as [number, string][],
      want: ["sync a", "sync b", "hold c 500", "hold d 500", "sync d"],
    },
    {
      name: "applies the head at least every 2 s during a burst that does not stop",
      steps: [
        [0, "a"],
        [1_000, "b"],
        [1_100, "c"],
        [1_500, "d"],
        [1_900, "e"],
        [2_300, "f"],
        [2_700, "g"],
        [3_100, "h"],
        [3_200, "i"],
      ] as [number, string][],
      // h is applied 2 s after the burst began; i, 100 ms later, starts the next hold.
      want: ["sync a", "sync b", "hold c 500", "hold d 500", "hold e 500", "hold f 500", "hold g 400", "sync h", "hold i 500"],
    },
    {
      name: "lets reconciles without a new head pass",
      steps: [
        [0, "a"],
        [10, "a"],
        [20, "a"],
      ] as [number, string][],
      want: ["sync a", "sync a", "sync a"],
    },
  ])("$name", async ({ steps, want }) => {
    let now = 0;
    let head = "";
    const out: string[] = [];
    const gate = new BurstGate(
      { reconcile: async () => void out.push(`sync ${head}`) },
      async () => head,
      500,
      2_000,
      () => now,
    );
    for (const [t, h] of steps) {
      now = t;
      head = h;
      const r = await gate.reconcile("@source");
      if (r && r.requeueAfterMs !== undefined) out.push(`hold ${head} ${r.requeueAfterMs}`);
    }
    expect(out).toEqual(want);
  });
});
