/**
 * Git benchmark (not a test: prints figures, asserts nothing). Run: `npx tsx test/bench/git.bench.ts`.
 *
 * On a generated repository of 5,000 files (50 directories × 100, packed by `git gc`), measures
 * source/'s reads against the git CLI in the same run: listing every file at a commit (vs
 * `git ls-tree -r`), the changes of a one-file commit (vs `git diff-tree -r`), reading every blob; then a
 * no-op fetch and a one-commit fetch of a mirror from the local smart-HTTP server, the status writer's
 * commit of a 1,000-file tree, and how long a `git commit` takes to reach a watch callback.
 * Each figure is the median of several runs; "cold" means a freshly opened repository (empty cache).
 */
import { execFile } from "node:child_process";
import { rm } from "node:fs/promises";
import { promisify } from "node:util";
import { openRepository } from "../../operator/src/source/index.js";
import type { Repository } from "../../operator/src/source/types.js";
import { gitEnv, makeRepo, runGit, tempDir } from "../support/git-repo.js";
import { createBareRepo, startGitServer } from "../support/git-server.js";

const execFileAsync = promisify(execFile);
const FILES = 5_000;
const DIRS = 50;
const RUNS = 7;

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}
async function median(runs: number, fn: () => Promise<unknown>): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) times.push(await timed(fn));
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}
const fmt = (ms: number): string => `${ms.toFixed(ms < 10 ? 2 : 1)} ms`;
const rows: [string, string, string][] = [];
function row(what: string, ours: number | string, git: number | string = ""): void {
  const line: [string, string, string] = [what, typeof ours === "number" ? fmt(ours) : ours, typeof git === "number" ? fmt(git) : git];
  rows.push(line);
  console.log(`${line[0].padEnd(58)} ${line[1].padStart(12)} ${line[2].padStart(12)}`);
}
const cli =
  (gitdir: string, ...args: string[]) =>
  () =>
    execFileAsync("git", ["--git-dir", gitdir, ...args], { env: gitEnv(), maxBuffer: 64 * 1024 * 1024 });

async function main(): Promise<void> {
  const cleanup: (() => Promise<void>)[] = [];
  try {
    console.log(`node ${process.version}, ${(await runGit(["--version"])).trim()}, ${FILES} files in ${DIRS} directories, median of ${RUNS}\n`);
    console.log(`${"".padEnd(58)} ${"coxswain".padStart(12)} ${"git CLI".padStart(12)}`);

    // ---- the repository
    const work = await makeRepo();
    cleanup.push(() => work.cleanup());
    const t0 = performance.now();
    const lines: string[] = ["commit refs/heads/main", "committer Bench <b@e> 1700000000 +0000", "data 4", "init"];
    for (let i = 0; i < FILES; i++) {
      const content = `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-${i}\ndata:\n  value: "${i}"\n`;
      lines.push(`M 100644 inline apps/dir-${String(i % DIRS).padStart(2, "0")}/cm-${String(i).padStart(4, "0")}.yaml`, `data ${Buffer.byteLength(content)}`, content);
    }
    await runGit(["fast-import", "--quiet"], { cwd: work.dir, input: `${lines.join("\n")}\n` });
    await work.git(["reset", "--quiet", "--hard", "main"]);
    const c1 = await work.revParse("main");
    await work.write("apps/dir-07/cm-0007.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-7\ndata:\n  value: changed\n");
    const c2 = await work.commit("change one file");
    await work.git(["gc", "--quiet"]);
    console.log(`(generated and packed in ${fmt(performance.now() - t0)})\n`);

    const open = () => openRepository({ repo: work.dir, stateDir: work.dir });
    const warm = await open();
    cleanup.push(() => warm.close());

    // ---- listFiles
    const listed = await warm.reader.listFiles(c2, "");
    if (listed.length !== FILES) throw new Error(`listed ${listed.length} files, expected ${FILES}`);
    row("listFiles at a commit, 5,000 paths (cold)", await median(RUNS, async () => (await open()).reader.listFiles(c2, "")));
    row("listFiles at a commit, 5,000 paths (warm) vs git ls-tree -r", await median(RUNS, () => warm.reader.listFiles(c2, "")), await median(RUNS, cli(work.gitdir, "ls-tree", "-r", c2)));
    row("listFiles of one directory, 100 paths (warm)", await median(RUNS, () => warm.reader.listFiles(c2, "apps/dir-07")));

    // ---- changedFiles
    const changes = await warm.reader.changedFiles(c1, c2, "");
    if (changes.length !== 1) throw new Error(`expected one change, got ${changes.length}`);
    row("changedFiles, one file changed (cold)", await median(RUNS, async () => (await open()).reader.changedFiles(c1, c2, "")));
    row("changedFiles, one file changed (warm) vs git diff-tree -r", await median(RUNS, () => warm.reader.changedFiles(c1, c2, "")), await median(RUNS, cli(work.gitdir, "diff-tree", "-r", c1, c2)));

    // ---- readBlob
    const readAll = async (repo: Repository) => {
      for (const f of listed) await repo.reader.readBlob(f.oid);
    };
    row("readBlob of all 5,000 files, one by one (cold)", await median(3, async () => readAll(await open())));
    row("readBlob of all 5,000 files, one by one (warm)", await median(3, () => readAll(warm)));
    const oids = listed.map((f) => f.oid).join("\n");
    row("  git cat-file --batch of all 5,000 blobs", "", await median(3, () => runGit(["--git-dir", work.gitdir, "cat-file", "--batch"], { input: `${oids}\n` })));

    // ---- status writer: commit a 1,000-file tree
    const statusFiles = Array.from({ length: 1_000 }, (_, i) => ({
      path: `commits/${String(i % 256).padStart(2, "0")}/${String(i).padStart(40, "0")}.yaml`,
      content: `phase: Succeeded\nn: ${i}\n`,
    }));
    let n = 0;
    row(
      "commitFiles of a 1,000-file status tree (one file changed)",
      await median(RUNS, () => {
        statusFiles[0]!.content = `phase: Succeeded\nn: ${n++}\n`;
        return warm.writer.commitFiles({ ref: "refs/heads/coxswain/bench", files: statusFiles, message: "bench" });
      }),
    );
    row("commitFiles of the same tree again (no commit)", await median(RUNS, () => warm.writer.commitFiles({ ref: "refs/heads/coxswain/bench", files: statusFiles, message: "bench" })));

    // ---- fetch over HTTP
    const root = await tempDir("coxswain-bench-server-");
    cleanup.push(() => rm(root, { recursive: true, force: true }));
    const state = await tempDir("coxswain-bench-state-");
    cleanup.push(() => rm(state, { recursive: true, force: true }));
    await createBareRepo(root, "bench.git");
    const server = await startGitServer({ root });
    cleanup.push(() => server.close());
    await work.push(server.url("bench.git"), "main");
    let mirror: Repository | undefined;
    row("first clone of the mirror (5,000 files, 2 commits)", await timed(async () => (mirror = await openRepository({ repo: server.url("bench.git"), stateDir: state }))));
    cleanup.push(() => mirror!.close());
    row("no-op fetch (refresh)", await median(RUNS, () => mirror!.refresh()), await median(RUNS, () => runGit(["--git-dir", `${root}/bench.git`, "fetch", "--quiet", server.url("bench.git")])));
    const oneCommitFetch: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      await work.write("apps/dir-01/cm-0001.yaml", `value: ${i}\n`);
      await work.commit(`c${i}`);
      await work.push(server.url("bench.git"), "main");
      oneCommitFetch.push(await timed(() => mirror!.refresh()));
    }
    oneCommitFetch.sort((a, b) => a - b);
    row("one-commit fetch (refresh)", oneCommitFetch[Math.floor(RUNS / 2)]!);

    // ---- watch latency
    const latencies: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      let fired = 0;
      const stop = warm.watch(() => fired++, { pollMs: 600_000 });
      await new Promise((r) => setTimeout(r, 150));
      fired = 0;
      await work.write("apps/dir-02/cm-0002.yaml", `value: w${i}\n`);
      const t = performance.now();
      await work.commit(`w${i}`);
      while (fired === 0 && performance.now() - t < 3_000) await new Promise((r) => setTimeout(r, 1));
      latencies.push(performance.now() - t);
      await stop();
    }
    latencies.sort((a, b) => a - b);
    row("git commit → watch callback (chokidar, incl. the commit)", latencies[Math.floor(RUNS / 2)]!);
  } finally {
    for (const c of cleanup.reverse()) await c().catch(() => undefined);
  }
}

await main();
