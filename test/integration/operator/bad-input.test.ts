/**
 * The bad-input corpus: every case under test/fixtures/manifests/invalid that its expected.yaml says is
 * refused (an error among its diagnostics) — committed cases, and the generated giants (20,000 files, a
 * 64 MiB file, 60,000 documents, nesting 100,000 deep, 20 MiB in one commit; their long forms with
 * COXSWAIN_LONG=1) — is refused by both readers with the codes, files and lines it states:
 *
 * - `coxswain validate <DIR>` (the real CLI as a child process for the generated cases, whose peak memory
 *   is printed; validateCommand, the same command in-process, for the others), exit 1, the diagnostics
 *   exactly as printed;
 * - a running operator (in-process, real Git repository, fake runtime) given a commit of the case's files
 *   on top of a running commit: the commit is Invalid with the same errors, and nothing of it is applied —
 *   the applied commit and every container stay exactly as they were.
 *
 * Cases with `limits` are read with those limits by both (the CLI flags, the operator's options): one
 * operator per set of limits.
 */
import { spawn } from "node:child_process";
import { mkdir, rm, symlink, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { validateCommand } from "../../../operator/src/cli/validate.js";
import { LIMIT_FLAGS, ManifestCache, type ManifestFile, type ManifestLimits } from "../../../operator/src/manifest/index.js";
import { FakeRuntime } from "../../../operator/src/runtime/fake/index.js";
import { startOperator, type RunningOperator } from "../../../operator/src/sync/operator.js";
import { runCliMeasured } from "../../support/cli.js";
import { appDeployment, requireHaproxyAndRoot, startProcessOperator, stopProcessOperator, writeTestApp } from "../../support/in-process-operator.js";
import { gitEnv, makeRepo, tempDir, type TestRepo } from "../../support/git-repo.js";
import { lineLogger } from "../../support/log.js";
import { waitFor } from "../../support/wait.js";
import { stopTestOperator } from "../../support/operator-fixture.js";
import { LONG, discoverCases, type FixtureCase } from "../../unit/manifest/fixture-files.js";

const GiB = 2 ** 30;

interface Expected {
  code: string;
  file: string;
  line: number;
  severity?: "error" | "warning";
}

/** The cases that are refused: at least one expected diagnostic is an error. */
const refused = discoverCases("invalid").filter((c) => ((c.expected?.diagnostics as Expected[] | undefined) ?? []).some((d) => (d.severity ?? "error") === "error"));

/** Cases grouped by their limits (one operator each), the default limits first. */
const groups = new Map<string, FixtureCase[]>();
for (const c of refused) {
  const key = JSON.stringify(c.expected?.limits ?? {});
  groups.set(key, [...(groups.get(key) ?? []), c]);
}
const groupKeys = [...groups.keys()].sort((a, b) => (a === "{}" ? -1 : b === "{}" ? 1 : a < b ? -1 : 1));

/**
 * What runs before every bad commit: one Pod, in a file small enough for the smallest limits of the corpus
 * (100 bytes in all) and named to be read after the case's files (under case/), so that a case stopped at
 * the total size limit is stopped at its own file.
 */
const BASELINE: ManifestFile = { path: "zz-baseline.yaml", content: "apiVersion: v1\nkind: Pod\nmetadata: {name: baseline}\nspec: {containers: [{name: c, image: i}]}\n" };

/** The case's files: generated, or as committed. */
function filesOf(c: FixtureCase): ManifestFile[] {
  return c.generate ? c.generate() : c.files;
}

/** Writes files under dir as a checkout would (links as links, bytes as they are). */
async function writeTree(dir: string, files: readonly ManifestFile[]): Promise<void> {
  for (const f of files) {
    const full = path.join(dir, f.path);
    await mkdir(path.dirname(full), { recursive: true });
    if (f.symlink) await symlink(String(f.content), full);
    else await writeFile(full, f.content);
  }
}

let commitSeconds = 1_704_067_200;

/**
 * Commits exactly `files` (links as mode 120000) on branch main after `parent`, with one `git fast-import`
 * (a commit of 20,000 files, or of a 1 GiB file, is written in one stream); returns the new commit.
 */
function commitFiles(repo: TestRepo, files: readonly ManifestFile[], message: string, parent?: string): Promise<string> {
  const chunks: Buffer[] = [Buffer.from(`commit refs/heads/main\ncommitter t <t@example.com> ${++commitSeconds} +0000\ndata ${Buffer.byteLength(message)}\n${message}\n${parent ? `from ${parent}\n` : ""}deleteall\n`)];
  for (const f of files) {
    const data = typeof f.content === "string" ? Buffer.from(f.content) : Buffer.from(f.content.buffer, f.content.byteOffset, f.content.byteLength);
    chunks.push(Buffer.from(`M ${f.symlink ? "120000" : "100644"} inline ${f.path}\ndata ${data.length}\n`), data, Buffer.from("\n"));
  }
  return new Promise((resolve, reject) => {
    const p = spawn("git", ["fast-import", "--quiet", "--force"], { cwd: repo.dir, env: gitEnv(), stdio: ["pipe", "ignore", "pipe"] });
    let stderr = "";
    p.stderr.on("data", (d) => (stderr += d));
    p.on("error", reject);
    p.on("exit", (code) => {
      if (code !== 0) return reject(new Error(`git fast-import: exit ${code}: ${stderr}`));
      repo.git(["rev-parse", "refs/heads/main"]).then(resolve, reject);
    });
    p.stdin.on("error", reject);
    for (const c of chunks) p.stdin.write(c);
    p.stdin.end();
  });
}

/** CLI flags for a case's limits. */
function limitFlags(limits: Partial<ManifestLimits>): string[] {
  return Object.entries(limits).flatMap(([k, v]) => [LIMIT_FLAGS[k as keyof ManifestLimits], String(v)]);
}

/** The diagnostics of `coxswain validate` output lines: file:line:col: severity Code… */
function printed(lines: readonly string[]): Expected[] {
  const out: Expected[] = [];
  for (const l of lines) {
    const m = /^(.+?):(\d+):\d+: (error|warning) (\w+)/.exec(l);
    if (m) out.push({ code: m[4]!, file: m[1]!, line: Number(m[2]), severity: m[3] as "error" | "warning" });
  }
  return out;
}

function want(c: FixtureCase): Expected[] {
  return (c.expected!.diagnostics as Expected[]).map((d) => ({ code: d.code, file: d.file, line: d.line, severity: d.severity ?? "error" }));
}

/** Peak memory so far of this test process (getrusage maxRSS), in MiB. */
function peakMiB(): number {
  return process.resourceUsage().maxRSS / 1024;
}

const figures: string[] = [];

describe("the bad-input corpus", () => {
  it("has at least 100 refused cases, committed and generated", () => {
    expect(refused.length).toBeGreaterThanOrEqual(100);
    expect(refused.filter((c) => c.generate).length).toBeGreaterThanOrEqual(5);
  });

  it("measures what `coxswain validate` of one small file costs: the baseline of the figures", async () => {
    const dir = await tempDir("coxswain-bad-input-baseline-");
    try {
      await writeTree(dir, [BASELINE]);
      const r = await runCliMeasured(["validate", dir]);
      expect(r.code, r.stderr).toBe(0);
      figures.push(`coxswain validate, one small file (baseline): ${(r.peakRssKib / 1024).toFixed(0)} MiB peak RSS`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  afterAll(() => {
    // The suite's figure: what the giant cases cost at their worst.
    if (figures.length > 0) console.log(`bad-input peak memory${LONG ? " (long forms)" : ""}:\n  ${figures.join("\n  ")}`);
  });

  for (const key of groupKeys) {
    const cases = groups.get(key)!;
    const limits = JSON.parse(key) as Partial<ManifestLimits>;

    describe(`read with limits ${key}`, () => {
      let repo: TestRepo;
      let stateDir: string;
      let work: string;
      let op: RunningOperator;
      const runtimes = new Map<string, FakeRuntime>();
      let good: string;
      let head: string;
      let before: string[];

      /** Every container of every node: id, state and pod. */
      async function containers(): Promise<string[]> {
        const out: string[] = [];
        for (const [node, rt] of runtimes) for (const c of await rt.list()) out.push(`${node} ${c.id} ${c.state} ${JSON.stringify(c.labels)}`);
        return out.sort();
      }

      beforeAll(async () => {
        repo = await makeRepo();
        stateDir = await tempDir("coxswain-state-");
        work = await tempDir("coxswain-bad-input-");
        good = head = await commitFiles(repo, [BASELINE], "baseline");
        op = await startOperator({
          repo: repo.dir,
          stateDir,
          pollMs: 60_000, // commits are announced with trigger()
          fleetPollMs: 200,
          statusDebounceMs: 50,
          seed: 1,
          log: lineLogger(() => {}),
          manifests: { limits, cache: new ManifestCache() },
          runtimeFactory: (node) => {
            let rt = runtimes.get(node.name);
            if (!rt) {
              rt = new FakeRuntime({ name: node.name, cpuMillis: 4000, memoryBytes: 4 * GiB });
              runtimes.set(node.name, rt);
            }
            return rt;
          },
        });
        await waitFor("the baseline Succeeded", () => op.store.getCommit(good)?.phase === "Succeeded", 60_000);
        before = await containers();
        expect(before.filter((c) => c.includes(" running "))).toHaveLength(1);
      }, 120_000);

      afterAll(async () => {
        await stopTestOperator(op, repo, stateDir);
        if (work) await rm(work, { recursive: true, force: true });
      });

      for (const c of cases) {
        it(
          `refuses ${c.name} with its codes, files and lines, in the CLI and the operator, applying nothing`,
          async () => {
            const files = filesOf(c);
            const expected = want(c);

            // coxswain validate: exit 1 and exactly the expected diagnostics. The generated giants through the
            // real CLI (a child process, whose peak memory is the figure), the others in-process (the same
            // command; a child process each would cost seconds of start-up on a busy machine).
            const dir = path.join(work, c.name);
            await writeTree(dir, files);
            if (c.generate) {
              const r = await runCliMeasured(["validate", dir, ...limitFlags(limits)]);
              expect(r.code, r.stderr).toBe(1);
              expect(printed(r.stdout.split("\n"))).toEqual(expected);
              figures.push(`coxswain validate, ${c.name}: ${(r.peakRssKib / 1024).toFixed(0)} MiB peak RSS`);
            } else {
              const lines: string[] = [];
              expect(await validateCommand([dir, ...limitFlags(limits)], (l) => lines.push(l)), lines.join("\n")).toBe(1);
              expect(printed(lines)).toEqual(expected);
            }
            await rm(dir, { recursive: true, force: true });

            // The operator: the commit is Invalid with the same errors; nothing of it is applied.
            const peakBefore = peakMiB();
            const bad = await commitFiles(repo, [...files.map((f) => ({ ...f, path: `case/${f.path}` })), BASELINE], c.name, head);
            head = bad;
            op.trigger();
            const record = await waitFor(
              `${c.name} Invalid`,
              () => {
                const r = op.store.getCommit(bad);
                return r && r.phase !== "Pending" ? r : undefined;
              },
              c.generate ? 400_000 : 120_000,
            );
            expect(record.phase, record.message).toBe("Invalid");
            const errors = expected.filter((d) => d.severity === "error").map((d) => ({ code: d.code, file: `case/${d.file}`, line: d.line }));
            expect(record.errors.map((e) => ({ code: e.code, file: e.file, line: e.line }))).toEqual(errors);
            expect(op.sync.commit()).toBe(good);
            expect(await containers()).toEqual(before);
            if (c.generate) figures.push(`operator (in-process), ${c.name}: ${peakMiB().toFixed(0)} MiB peak RSS of the test process (${peakBefore.toFixed(0)} before)`);
          },
          // The generated giants (20,000 files, 64 MiB) are read twice, by the CLI and the operator: minutes
          // on a loaded 2-core machine (one timed out at 120 s in CI with other suites beside it).
          LONG || c.generate ? 600_000 : 120_000,
        );
      }

      it("wrote the last refusal to the status branch in Git", async () => {
        await op.flushStatus();
        const text = await repo.git(["show", `coxswain/status:commits/${head.slice(0, 2)}/${head}.yaml`]);
        expect(text).toMatch(/^phase: Invalid$/m);
      });
    });
  }
});

describe("the bad-input corpus on the process runtime (real processes, Debian's HAProxy)", () => {
  const enabled = requireHaproxyAndRoot("bad-input on the process runtime");
  const nul = refused.find((c) => c.name === "yaml-nul-byte")!;

  it.skipIf(!enabled)(
    "refuses a commit of a corpus case while the app of the commit before keeps running, its process untouched",
    async () => {
      const app = await writeTestApp();
      const repo = await makeRepo();
      const stateDir = await tempDir("coxswain-state-");
      const lines: string[] = [];
      let op: RunningOperator | undefined;
      try {
        await repo.write("web.yaml", appDeployment(app.file, { version: "v1", replicas: 2 }));
        const good = await repo.commit("good");
        op = await startProcessOperator(repo, stateDir, { from: 64200, to: 64299 }, lines);
        await waitFor("good Succeeded", () => op!.store.getCommit(good)?.phase === "Succeeded", 120_000);
        const pods = (): string[] =>
          op!.fleet
            .pods("Deployment/default/web")
            .map((p) => `${p.name} ${p.commit} ${p.phase} ${p.ready} ${p.containers.map((c) => `${c.id} ${c.state}`).join(",")}`)
            .sort();
        const before = pods();
        expect(before).toHaveLength(2);

        const bad = await commitFiles(repo, [...nul.files.map((f) => ({ ...f, path: `case/${f.path}` })), { path: "web.yaml", content: appDeployment(app.file, { version: "v2", replicas: 2 }) }], "bad", good);
        op.trigger();
        const record = await waitFor(
          "bad Invalid",
          () => {
            const r = op!.store.getCommit(bad);
            return r && r.phase !== "Pending" ? r : undefined;
          },
          120_000,
        );
        expect(record.phase).toBe("Invalid");
        expect(record.errors.map((e) => ({ code: e.code, file: e.file, line: e.line }))).toEqual(want(nul).map((d) => ({ code: d.code, file: `case/${d.file}`, line: d.line })));
        expect(op.sync.commit()).toBe(good);
        // The v2 template of the same commit was not applied either: the same processes run v1.
        expect(pods()).toEqual(before);
      } finally {
        await stopProcessOperator(op, stateDir);
        await repo.cleanup();
        await app.remove();
      }
    },
    240_000,
  );
});
