/**
 * The mirror stays fast over a thousand fetches: each fetch brings one new commit (one pack), the mirror
 * repacks as packs pile up, and after the thousand fetches a fetch and a read of every file of the head
 * cost what they cost in a mirror cloned a moment ago (measured interleaved, so the machine's load
 * affects both alike). The medians of the first and last hundred fetches are printed as figures.
 */
import { readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mirrorPath, openRepository } from "../../../operator/src/source/index.js";
import type { Repository } from "../../../operator/src/source/types.js";
import { runGit, tempDir } from "../../support/git-repo.js";
import { createBareRepo, startGitServer, type GitServer } from "../../support/git-server.js";

const FETCHES = 1_000;
/** Extra commits made for the comparison with a fresh mirror at the end. */
const EXTRA = 20;
const FILES = 100;

let root: string;
let state: string;
let bare: string;
let server: GitServer;
let repo: Repository;
/** The commit made for fetch i (all made up front, so each step only moves main on the server). */
let chain: string[];

beforeAll(async () => {
  root = await tempDir("coxswain-server-");
  state = await tempDir("coxswain-state-");
  bare = await createBareRepo(root, "app.git");
  // One fast-import run writes the base commit (FILES files) and FETCHES commits on top, each changing
  // one file, on a ref the mirror never fetches (refs/staged/main).
  const lines: string[] = [];
  const blob = (text: string): string[] => [`data ${Buffer.byteLength(text)}`, text];
  lines.push("commit refs/staged/main", "mark :1", "committer Bench <b@example.com> 1700000000 +0000", ...blob("base"));
  for (let f = 0; f < FILES; f++) lines.push(`M 100644 inline apps/f${f}.yaml`, ...blob(`apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: f${f}\ndata:\n  v: "0"\n`));
  for (let i = 1; i <= FETCHES + EXTRA; i++) {
    const f = i % FILES;
    lines.push("commit refs/staged/main", `mark :${i + 1}`, `committer Bench <b@example.com> ${1700000000 + i} +0000`, ...blob(`step ${i}`), `from :${i}`);
    lines.push(`M 100644 inline apps/f${f}.yaml`, ...blob(`apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: f${f}\ndata:\n  v: "${i}"\n`));
  }
  await runGit(["--git-dir", bare, "fast-import", "--quiet"], { input: lines.join("\n") + "\n" });
  chain = (await runGit(["--git-dir", bare, "rev-list", "--reverse", "refs/staged/main"])).split("\n");
  expect(chain).toHaveLength(FETCHES + EXTRA + 1);
  await runGit(["--git-dir", bare, "update-ref", "refs/heads/main", chain[0]!]);
  server = await startGitServer({ root });
  repo = await openRepository({ repo: server.url("app.git"), stateDir: state, timeoutMs: 30_000 });
}, 120_000);

afterAll(async () => {
  await repo?.close();
  await server?.close();
  for (const d of [root, state]) if (d) await rm(d, { recursive: true, force: true });
});

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

describe("a mirror fetched a thousand times", () => {
  it(
    "keeps fetch and read times flat and its pack count bounded",
    async () => {
      const fetchMs: number[] = [];
      const readMs: number[] = [];
      let maxPacks = 0;
      const packDir = join(mirrorPath(state, server.url("app.git")), "objects", "pack");
      for (let i = 1; i <= FETCHES; i++) {
        await runGit(["--git-dir", bare, "update-ref", "refs/heads/main", chain[i]!]);
        const t0 = performance.now();
        await repo.refresh();
        const t1 = performance.now();
        const head = await repo.head("main");
        expect(head).toBe(chain[i]);
        const files = await repo.reader.listFiles(head!, "apps");
        let bytes = 0;
        for (const f of files) bytes += (await repo.reader.readBlob(f.oid)).length;
        const t2 = performance.now();
        expect(files).toHaveLength(FILES);
        expect(bytes).toBeGreaterThan(0);
        fetchMs.push(t1 - t0);
        readMs.push(t2 - t1);
        if (i % 50 === 0) maxPacks = Math.max(maxPacks, (await readdir(packDir)).filter((n) => n.endsWith(".pack")).length);
      }
      const first = { fetch: median(fetchMs.slice(0, 100)), read: median(readMs.slice(0, 100)) };
      const last = { fetch: median(fetchMs.slice(-100)), read: median(readMs.slice(-100)) };
      const packs = (await readdir(packDir)).filter((n) => n.endsWith(".pack")).length;
      console.log(
        `mirror over ${FETCHES} fetches (median of 100): fetch ${first.fetch.toFixed(1)} → ${last.fetch.toFixed(1)} ms, ` +
          `read ${FILES} files ${first.read.toFixed(1)} → ${last.read.toFixed(1)} ms, packs at the end ${packs} (max seen ${maxPacks})`,
      );
      expect(packs).toBeLessThanOrEqual(33);
      expect(maxPacks).toBeLessThanOrEqual(33);
      // Against a mirror cloned now, interleaved: fetch one more commit into each, read every file in each.
      const freshState = await tempDir("coxswain-state-");
      const fresh = await openRepository({ repo: server.url("app.git"), stateDir: freshState, timeoutMs: 30_000 });
      const ours = { fetch: [] as number[], read: [] as number[] };
      const theirs = { fetch: [] as number[], read: [] as number[] };
      const readAll = async (r: Repository, head: string): Promise<void> => {
        for (const f of await r.reader.listFiles(head, "apps")) await r.reader.readBlob(f.oid);
      };
      try {
        for (let i = FETCHES + 1; i <= FETCHES + EXTRA; i++) {
          await runGit(["--git-dir", bare, "update-ref", "refs/heads/main", chain[i]!]);
          for (const [r, m] of i % 2 ? ([[repo, ours], [fresh, theirs]] as const) : ([[fresh, theirs], [repo, ours]] as const)) {
            const t0 = performance.now();
            await r.refresh();
            const t1 = performance.now();
            await readAll(r, chain[i]!);
            m.fetch.push(t1 - t0);
            m.read.push(performance.now() - t1);
          }
        }
      } finally {
        await fresh.close();
        await rm(freshState, { recursive: true, force: true });
      }
      console.log(
        `after ${FETCHES} fetches vs a fresh mirror (median of ${EXTRA}): fetch ${median(ours.fetch).toFixed(1)} vs ${median(theirs.fetch).toFixed(1)} ms, ` +
          `read ${median(ours.read).toFixed(1)} vs ${median(theirs.read).toFixed(1)} ms`,
      );
      // Flat: as fast as new, within generous bounds (1,000 unrepacked packs cost several times more).
      expect(median(ours.fetch)).toBeLessThan(median(theirs.fetch) * 2 + 20);
      expect(median(ours.read)).toBeLessThan(median(theirs.read) * 2 + 20);
      // The last commit's content is what the server has.
      const f = (await repo.reader.listFiles(chain[FETCHES]!, "apps")).find((x) => x.path === `apps/f${FETCHES % FILES}.yaml`)!;
      expect(new TextDecoder().decode(await repo.reader.readBlob(f.oid))).toContain(`v: "${FETCHES}"`);
    },
    600_000,
  );
});
