/**
 * Cold load of a large commit (plain tsx script; prints figures, asserts nothing, so CI never fails on timing):
 *   npm run bench:load -- [--files 10000] [--runs 3]
 *
 * A generated repository of N manifests (Deployments, Services and ConfigMaps in equal parts, 100 per
 * directory), committed twice so that git stores deltas, packed by `git gc`. Measured in the same run,
 * each the median of --runs, every one on a freshly opened repository with an empty parse cache:
 * - the whole cold load (sync/load.ts loadCommit: list, read, parse, validate, graph) — the goal is 2 s
 *   for 10,000 files;
 * - its parts: listing the files, reading every blob as the load reads it (GitRepository.readBlobBounded
 *   with the default file limit: the size from the object's header, then the pack reader, source/packs.ts)
 *   against isomorphic-git's readBlob (what was used before) and against `git cat-file --batch` of the
 *   same blobs (the baseline: git's own C reader);
 * - what is left for parsing, validation and the graph (the load minus list and read);
 * - the parse worker threads the loads used (manifest/parse-pool.ts), and the first load of the process,
 *   which also starts those workers (each loads the modules; the schema validators are generated code,
 *   compiled by `npm run gen`): the medians are of a process whose workers have already started.
 */
import { parseArgs } from "node:util";
import * as git from "isomorphic-git";
import { gitFs } from "../../operator/src/source/fs.js";
import { DEFAULT_MANIFEST_LIMITS } from "../../operator/src/manifest/limits.js";
import { openRepository } from "../../operator/src/source/index.js";
import { sharedParsePool } from "../../operator/src/manifest/parse-pool.js";
import { loadCommit } from "../../operator/src/sync/load.js";
import { makeRepo, runGit } from "../support/git-repo.js";

const { values } = parseArgs({ options: { files: { type: "string" }, runs: { type: "string" } } });
const FILES = Number(values.files ?? 10_000);
const RUNS = Number(values.runs ?? 3);
const GOAL_MS = 2_000;

function manifest(i: number, version: number): string {
  const name = `app-${i}`;
  switch (i % 3) {
    case 0:
      return [
        "apiVersion: apps/v1",
        "kind: Deployment",
        "metadata:",
        `  name: ${name}`,
        "spec:",
        `  replicas: ${1 + (i % 3)}`,
        `  selector: {matchLabels: {app: ${name}}}`,
        "  template:",
        `    metadata: {labels: {app: ${name}}}`,
        "    spec:",
        "      containers:",
        "        - name: web",
        `          image: example/web:${version}.${i % 17}`,
        "          ports: [{containerPort: 8080}]",
        "          resources: {requests: {cpu: 10m, memory: 16Mi}}",
        "",
      ].join("\n");
    case 1:
      return ["apiVersion: v1", "kind: Service", "metadata:", `  name: ${name}`, "spec:", `  selector: {app: app-${i - 1}}`, "  ports: [{port: 80, targetPort: 8080}]", ""].join("\n");
    default:
      return ["apiVersion: v1", "kind: ConfigMap", "metadata:", `  name: ${name}`, "data:", `  version: "${version}"`, `  value: "${(i * 7919) % 1_000_003}"`, ""].join("\n");
  }
}

async function median(fn: () => Promise<unknown>): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

const fmt = (ms: number): string => `${ms.toFixed(0)} ms`;

async function main(): Promise<void> {
  const work = await makeRepo();
  try {
    const t0 = performance.now();
    const lines: string[] = [];
    for (const version of [1, 2]) {
      lines.push("commit refs/heads/main", `committer Bench <b@e> ${1_700_000_000 + version} +0000`, "data 2", `v${version}`);
      for (let i = 0; i < FILES; i++) {
        const content = manifest(i, version);
        lines.push(`M 100644 inline apps/d${String(Math.floor(i / 100)).padStart(3, "0")}/${i}.yaml`, `data ${Buffer.byteLength(content)}`, content);
      }
    }
    await runGit(["fast-import", "--quiet"], { cwd: work.dir, input: `${lines.join("\n")}\n` });
    await work.git(["gc", "--quiet"]);
    const head = (await work.git(["rev-parse", "main"])).trim();
    const open = () => openRepository({ repo: work.dir, stateDir: work.dir });
    console.log(`node ${process.version}, ${(await runGit(["--version"])).trim()}, ${FILES} manifests (generated and packed in ${fmt(performance.now() - t0)}), median of ${RUNS}, each cold\n`);

    const firstStart = performance.now();
    const check = await loadCommit(await open(), head, "", { cache: null });
    const first = performance.now() - firstStart;
    if (!check.graph || check.graph.keys().length !== FILES) throw new Error(`expected ${FILES} objects, got ${check.graph?.keys().length}: ${check.diagnostics[0]?.message}`);
    const files = await (await open()).reader.listFiles(head, "");

    const load = await median(async () => loadCommit(await open(), head, "", { cache: null }));
    // Read now: idle workers end 30 s after the last load.
    const threads = sharedParsePool().started;
    const list = await median(async () => (await open()).reader.listFiles(head, ""));
    const read = await median(async () => {
      const repo = await open();
      await Promise.all(files.map((f) => repo.reader.readBlobBounded(f.oid, DEFAULT_MANIFEST_LIMITS.maxFileBytes)));
    });
    const isoRead = await median(async () => {
      const cache = {};
      await Promise.all(files.map((f) => git.readBlob({ fs: gitFs, gitdir: work.gitdir, cache, oid: f.oid })));
    });
    const oids = `${files.map((f) => f.oid).join("\n")}\n`;
    const catFile = await median(() => runGit(["--git-dir", work.gitdir, "cat-file", "--batch"], { input: oids }));

    const rows: [string, string][] = [
      [`cold load of the ${FILES}-file commit (loadCommit)`, `${fmt(load)} (goal ≤ ${fmt(GOAL_MS)}: ${load <= GOAL_MS ? "met" : "not met"})`],
      ["  list the files", fmt(list)],
      ["  read every blob (readBlobBounded: pack reader)", fmt(read)],
      ["  parse, validate, graph (the rest)", fmt(Math.max(0, load - list - read))],
      ["  parse worker threads used", String(threads)],
      ["first load of the process (starts the workers)", fmt(first)],
      ["read every blob: isomorphic-git readBlob (before)", `${fmt(isoRead)} (${(isoRead / read).toFixed(1)}× the pack reader)`],
      ["read every blob: git cat-file --batch (baseline)", `${fmt(catFile)} (the pack reader takes ${(read / catFile).toFixed(1)}×)`],
    ];
    for (const [what, figure] of rows) console.log(`${what.padEnd(52)} ${figure}`);
  } finally {
    await work.cleanup();
  }
}

await main();
