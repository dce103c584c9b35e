/**
 * Mirror benchmark (not a test: prints figures, asserts nothing). Run: `npm run bench:mirror` or
 * `npx tsx test/bench/mirror.bench.ts [fetches]`.
 *
 * A mirror fetched a thousand times over the local smart-HTTP server, each fetch bringing one new commit
 * (one pack), then compared with a mirror cloned a moment ago: the median fetch and the median read of
 * every file of the head (100 files) of the first and last hundred fetches, and of 20 more fetches into
 * each mirror measured interleaved (so that the machine's load affects both alike). What keeps the old
 * mirror as fast as a new one — repacking as packs pile up — is asserted by
 * test/integration/source/mirror-scale.test.ts; the times are here.
 */
import { readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { mirrorPath, openRepository } from "../../operator/src/source/index.js";
import type { Repository } from "../../operator/src/source/types.js";
import { runGit, tempDir } from "../support/git-repo.js";
import { createBareRepo, startGitServer } from "../support/git-server.js";

const FETCHES = Math.max(100, Number(process.argv[2] ?? 1_000));
const EXTRA = 20;
const FILES = 100;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}
const fmt = (ms: number): string => `${ms.toFixed(1)} ms`;

async function main(): Promise<void> {
  const cleanup: (() => Promise<unknown>)[] = [];
  try {
    const root = await tempDir("coxswain-bench-server-");
    cleanup.push(() => rm(root, { recursive: true, force: true }));
    const state = await tempDir("coxswain-bench-state-");
    cleanup.push(() => rm(state, { recursive: true, force: true }));
    const bare = await createBareRepo(root, "app.git");
    // One fast-import run: a base commit of FILES files and FETCHES + EXTRA commits on top, each changing
    // one file, on a ref the mirror never fetches; each step then only moves main on the server.
    const lines: string[] = [];
    const blob = (text: string): string[] => [`data ${Buffer.byteLength(text)}`, text];
    const file = (f: number, v: number): string => `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: f${f}\ndata:\n  v: "${v}"\n`;
    lines.push("commit refs/staged/main", "mark :1", "committer Bench <b@example.com> 1700000000 +0000", ...blob("base"));
    for (let f = 0; f < FILES; f++) lines.push(`M 100644 inline apps/f${f}.yaml`, ...blob(file(f, 0)));
    for (let i = 1; i <= FETCHES + EXTRA; i++) {
      lines.push("commit refs/staged/main", `mark :${i + 1}`, `committer Bench <b@example.com> ${1700000000 + i} +0000`, ...blob(`step ${i}`), `from :${i}`);
      lines.push(`M 100644 inline apps/f${i % FILES}.yaml`, ...blob(file(i % FILES, i)));
    }
    await runGit(["--git-dir", bare, "fast-import", "--quiet"], { input: lines.join("\n") + "\n" });
    const chain = (await runGit(["--git-dir", bare, "rev-list", "--reverse", "refs/staged/main"])).split("\n");
    await runGit(["--git-dir", bare, "update-ref", "refs/heads/main", chain[0]!]);
    const server = await startGitServer({ root });
    cleanup.push(() => server.close());
    const repo = await openRepository({ repo: server.url("app.git"), stateDir: state, timeoutMs: 30_000 });
    cleanup.push(() => repo.close());
    const readAll = async (r: Repository, head: string): Promise<void> => {
      for (const f of await r.reader.listFiles(head, "apps")) await r.reader.readBlob(f.oid);
    };

    const fetchMs: number[] = [];
    const readMs: number[] = [];
    for (let i = 1; i <= FETCHES; i++) {
      await runGit(["--git-dir", bare, "update-ref", "refs/heads/main", chain[i]!]);
      const t0 = performance.now();
      await repo.refresh();
      const t1 = performance.now();
      await readAll(repo, chain[i]!);
      fetchMs.push(t1 - t0);
      readMs.push(performance.now() - t1);
    }
    const packs = (await readdir(join(mirrorPath(state, server.url("app.git")), "objects", "pack"))).filter((n) => n.endsWith(".pack")).length;
    console.log(`${FETCHES} one-commit fetches, median of the first / last 100:`);
    console.log(`  fetch                       ${fmt(median(fetchMs.slice(0, 100)))} / ${fmt(median(fetchMs.slice(-100)))}`);
    console.log(`  read ${FILES} files              ${fmt(median(readMs.slice(0, 100)))} / ${fmt(median(readMs.slice(-100)))}`);
    console.log(`  packs in the mirror at the end: ${packs}`);

    const freshState = await tempDir("coxswain-bench-state-");
    cleanup.push(() => rm(freshState, { recursive: true, force: true }));
    const fresh = await openRepository({ repo: server.url("app.git"), stateDir: freshState, timeoutMs: 30_000 });
    cleanup.push(() => fresh.close());
    const ours = { fetch: [] as number[], read: [] as number[] };
    const theirs = { fetch: [] as number[], read: [] as number[] };
    for (let i = FETCHES + 1; i <= FETCHES + EXTRA; i++) {
      await runGit(["--git-dir", bare, "update-ref", "refs/heads/main", chain[i]!]);
      for (const [r, m] of i % 2
        ? ([
            [repo, ours],
            [fresh, theirs],
          ] as const)
        : ([
            [fresh, theirs],
            [repo, ours],
          ] as const)) {
        const t0 = performance.now();
        await r.refresh();
        const t1 = performance.now();
        await readAll(r, chain[i]!);
        m.fetch.push(t1 - t0);
        m.read.push(performance.now() - t1);
      }
    }
    console.log(`after ${FETCHES} fetches vs a mirror cloned now, interleaved, median of ${EXTRA}:`);
    console.log(`  fetch                       ${fmt(median(ours.fetch))} vs ${fmt(median(theirs.fetch))}`);
    console.log(`  read ${FILES} files              ${fmt(median(ours.read))} vs ${fmt(median(theirs.read))}`);
  } finally {
    for (const c of cleanup.reverse()) await c().catch(() => undefined);
  }
}

await main();
