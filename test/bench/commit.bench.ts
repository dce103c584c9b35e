/**
 * Loading a large commit, before and after the bounded reading (plain tsx script; prints figures, asserts
 * nothing, so CI never fails on timing):
 *   npm run bench:commit -- [--huge-mb 20] [--files 5000] [--baseline <git rev>]
 *
 * "before" is the code of --baseline (default c0e371e, the last commit before the reading was bounded),
 * exported with `git archive` next to the sources so that it runs against the same node_modules; "after"
 * is the working tree. Every measurement runs in a child process of its own (so peak RSS is its own) on
 * the same generated Git repository, in the same run:
 * - a large allowed commit (N Deployment files, ~0.7 KiB each): load it cold, then a commit where every
 *   file changed, keeping the second graph as the operator does; time of each load, the event loop's
 *   longest stall during them (what an HTTP /healthz waits at worst), peak RSS, and the heap still held
 *   after a GC;
 * - one oversized file (the issue's case, scaled by --huge-mb: small ConfigMaps of ~170 bytes, 50 MB was
 *   297,000 of them): time, stall and peak RSS until loadCommit returns (parsed whole before; refused by
 *   size after).
 */
import { execFile, spawn } from "node:child_process";
import { mkdir, rm } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { gitEnv, makeRepo, runGit, tempDir } from "../support/git-repo.js";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const execFileAsync = promisify(execFile);

interface ChildInput {
  code: string;
  variant: "before" | "after";
  gitdir: string;
  stateDir: string;
  scenario: "large" | "huge";
  commits: string[];
}

interface ChildResult {
  loadsMs: number[];
  maxStallMs: number;
  peakRssMiB: number;
  heapAfterMiB?: number;
  objects: number;
  errors: string[];
}

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : fallback;
}

function deployment(i: number, replicas: number): string {
  const name = `app-${i}`;
  return `apiVersion: apps/v1
kind: Deployment
metadata:
  name: ${name}
  namespace: team-${i % 20}
  labels: {app: ${name}, team: team-${i % 20}}
spec:
  replicas: ${replicas}
  selector:
    matchLabels: {app: ${name}}
  template:
    metadata:
      labels: {app: ${name}}
    spec:
      containers:
        - name: main
          image: registry.local/${name}:1.${i % 7}
          env:
            - {name: MODE, value: production}
          ports:
            - {name: http, containerPort: 8080}
          resources:
            requests: {cpu: 100m, memory: 64Mi}
            limits: {cpu: 500m, memory: 256Mi}
          readinessProbe:
            httpGet: {path: /healthz, port: http}
`;
}

/** Writes commits on main with `git fast-import` (each a child of the one before); returns their oids, oldest first. */
async function fastImport(dir: string, commits: { message: string; files: [string, string][]; deleteAll?: boolean }[]): Promise<string[]> {
  const parts: string[] = [];
  commits.forEach((c, n) => {
    parts.push("commit refs/heads/main", `mark :${n + 1}`, `committer Bench <b@e> ${1_700_000_000 + n} +0000`, `data ${Buffer.byteLength(c.message)}`, c.message);
    if (n > 0) parts.push(`from :${n}`);
    if (c.deleteAll) parts.push("deleteall");
    for (const [p, text] of c.files) parts.push(`M 100644 inline ${p}`, `data ${Buffer.byteLength(text)}`, text);
  });
  await new Promise<void>((resolve, reject) => {
    const p = spawn("git", ["fast-import", "--quiet"], { cwd: dir, env: gitEnv() });
    p.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`fast-import exited ${code}`))));
    p.stdin.end(`${parts.join("\n")}\n`);
  });
  return (await runGit(["rev-list", "--reverse", "main"], { cwd: dir })).split("\n");
}

// ------------------------------------------------------------------ child: one measurement

async function child(input: ChildInput): Promise<void> {
  const url = (rel: string) => pathToFileURL(path.join(input.code, rel)).href;
  const { openRepository } = (await import(url("operator/src/source/index.ts"))) as typeof import("../../operator/src/source/index.js");
  const { loadCommit } = (await import(url("operator/src/sync/branch-sync.ts"))) as { loadCommit: (...a: unknown[]) => Promise<{ graph?: { size: number }; diagnostics: { code: string }[] }> };
  const repo = await openRepository({ repo: input.gitdir, stateDir: input.stateDir });
  // How each version was driven by the operator: the old BranchSync passed a Map of blob texts, the new
  // operator passes its read options with a parse cache of its own.
  const manifest = (await import(url("operator/src/manifest/index.ts"))) as typeof import("../../operator/src/manifest/index.js");
  const fourth = input.variant === "before" ? new Map<string, string>() : { cache: new manifest.ManifestCache() };
  // The baseline's schemas compile once per process (~1 s of CPU): not part of a commit's load. Versions
  // since the validators are generated by npm run gen (manifest/generated/validators.ts) compile nothing.
  (manifest as { compileAllSchemas?: () => void }).compileAllSchemas?.();
  // The longest gap between ticks of a 5 ms interval: how long an HTTP request could wait at worst.
  let last = performance.now();
  let maxStall = 0;
  const tick = setInterval(() => {
    const now = performance.now();
    maxStall = Math.max(maxStall, now - last - 5);
    last = now;
  }, 5);
  const loadsMs: number[] = [];
  let kept: { graph?: { size: number }; diagnostics: { code: string }[] } | undefined;
  for (const c of input.commits) {
    const t0 = performance.now();
    kept = await loadCommit(repo, c, "", fourth);
    loadsMs.push(performance.now() - t0);
  }
  // Let the interval fire once more: a stall at the very end of the last load is only seen then.
  await new Promise((r) => setTimeout(r, 20));
  clearInterval(tick);
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const result: ChildResult = {
    loadsMs,
    maxStallMs: Math.max(0, maxStall),
    peakRssMiB: process.resourceUsage().maxRSS / 1024,
    ...(gc ? { heapAfterMiB: process.memoryUsage().heapUsed / 2 ** 20 } : {}),
    objects: kept?.graph?.size ?? 0,
    errors: [...new Set((kept?.diagnostics ?? []).map((d) => d.code))].sort(),
  };
  await repo.close();
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

function runChild(input: ChildInput): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ["--expose-gc", "--max-old-space-size=8192", "--import", "tsx", fileURLToPath(import.meta.url), "--child", JSON.stringify(input)], {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    p.stdout.on("data", (d) => (out += d));
    p.on("exit", (code) => {
      const line = out.trim().split("\n").at(-1) ?? "";
      try {
        resolve(JSON.parse(line) as ChildResult);
      } catch {
        reject(new Error(`child exited ${code}: ${out}`));
      }
    });
  });
}

// ------------------------------------------------------------------ parent: set up, measure, print

async function main(): Promise<void> {
  const files = Number(arg("files", "5000"));
  const hugeMb = Number(arg("huge-mb", "20"));
  const baseline = arg("baseline", "c0e371e");
  const cleanup: (() => Promise<unknown>)[] = [];
  try {
    // The baseline's sources, beside ours so that they resolve the same node_modules.
    const before = path.join(ROOT, `.bench-baseline-${process.pid}`);
    await mkdir(before);
    cleanup.push(() => rm(before, { recursive: true, force: true }));
    await execFileAsync("sh", ["-c", `git archive ${baseline} operator/src crds | tar -x -C '${before}'`], { cwd: ROOT });

    const work = await makeRepo();
    cleanup.push(() => work.cleanup());
    const state = await tempDir("coxswain-bench-state-");
    cleanup.push(() => rm(state, { recursive: true, force: true }));

    const names = Array.from({ length: files }, (_, i) => `apps/team-${i % 20}/app-${String(i).padStart(5, "0")}.yaml`);
    const docsPerMb = Math.round(297_000 / 50);
    const hugeDocs = hugeMb * docsPerMb;
    const huge: string[] = [];
    for (let i = 0; i < hugeDocs; i++) huge.push(`apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm-${i}, namespace: bulk}\ndata: {index: "${i}", v: "${"x".repeat(40)}"}\n`);
    const hugeText = huge.join("---\n");
    const namespaces: [string, string][] = Array.from({ length: 20 }, (_, t) => [`apps/team-${t}/namespace.yaml`, `apiVersion: v1\nkind: Namespace\nmetadata: {name: team-${t}}\n`]);
    const [a, b, h] = await fastImport(work.dir, [
      { message: "A", files: [...namespaces, ...names.map((p, i): [string, string] => [p, deployment(i, 2)])] },
      { message: "B: every file changed", files: names.map((p, i) => [p, deployment(i, 3)]) },
      {
        message: "one huge file",
        files: [
          ["bulk.yaml", "apiVersion: v1\nkind: Namespace\nmetadata: {name: bulk}\n"],
          ["huge.yaml", hugeText],
        ],
        deleteAll: true,
      },
    ]);
    await runGit(["gc", "--quiet"], { cwd: work.dir });
    const bytes = names.reduce((n, _, i) => n + Buffer.byteLength(deployment(i, 2)), 0);
    console.log(
      `commit bench: node ${process.version}; baseline ${baseline} vs working tree; large commit ${files} files (${(bytes / 2 ** 20).toFixed(1)} MiB); ` +
        `huge file ${(Buffer.byteLength(hugeText) / 2 ** 20).toFixed(1)} MiB, ${hugeDocs} documents\n`,
    );

    const header = `${"".padEnd(44)} ${"load ms".padStart(16)} ${"stall ms".padStart(9)} ${"peak RSS".padStart(10)} ${"heap kept".padStart(10)}  result`;
    console.log(header);
    for (const scenario of ["large", "huge"] as const) {
      for (const variant of ["before", "after"] as const) {
        const r = await runChild({
          code: variant === "before" ? before : ROOT,
          variant,
          gitdir: work.gitdir,
          stateDir: state,
          scenario,
          commits: scenario === "large" ? [a!, b!] : [h!],
        });
        const label = scenario === "large" ? `${files} files: A cold, then B (all changed)` : `one ${(Buffer.byteLength(hugeText) / 2 ** 20).toFixed(0)} MiB file`;
        console.log(
          `${`${label} — ${variant}`.padEnd(44)} ${r.loadsMs
            .map((x) => x.toFixed(0))
            .join(" + ")
            .padStart(16)} ${r.maxStallMs.toFixed(0).padStart(9)} ` +
            `${`${r.peakRssMiB.toFixed(0)} MiB`.padStart(10)} ${(r.heapAfterMiB !== undefined ? `${r.heapAfterMiB.toFixed(0)} MiB` : "-").padStart(10)}  ` +
            `${r.objects} objects${r.errors.length ? `, ${r.errors.join(", ")}` : ""}`,
        );
      }
    }
  } finally {
    for (const c of cleanup.reverse()) await c().catch(() => undefined);
  }
}

const childAt = process.argv.indexOf("--child");
if (childAt >= 0) await child(JSON.parse(process.argv[childAt + 1]!) as ChildInput);
else await main();
