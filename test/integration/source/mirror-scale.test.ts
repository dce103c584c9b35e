/**
 * The mirror stays usable over many fetches — 200 in CI (six repacks: one per 32 packs), a thousand with
 * COXSWAIN_LONG=1 (which took nearly 10 minutes on a loaded 2-core CI machine): each fetch brings one new commit (one pack), every head
 * and all its files read back as the server has them, and the mirror repacks as packs pile up, so its pack
 * count stays bounded. How fast a fetch and a read are after a thousand fetches, against a mirror cloned
 * a moment ago, is a benchmark's figure (`npm run bench:mirror`, test/bench/mirror.bench.ts).
 */
import { readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mirrorPath, openRepository } from "../../../operator/src/source/index.js";
import type { Repository } from "../../../operator/src/source/types.js";
import { runGit, tempDir } from "../../support/git-repo.js";
import { createBareRepo, startGitServer, type GitServer } from "../../support/git-server.js";

const FETCHES = process.env.COXSWAIN_LONG === "1" ? 1_000 : 200;
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
  for (let i = 1; i <= FETCHES; i++) {
    const f = i % FILES;
    lines.push("commit refs/staged/main", `mark :${i + 1}`, `committer Bench <b@example.com> ${1700000000 + i} +0000`, ...blob(`step ${i}`), `from :${i}`);
    lines.push(`M 100644 inline apps/f${f}.yaml`, ...blob(`apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: f${f}\ndata:\n  v: "${i}"\n`));
  }
  await runGit(["--git-dir", bare, "fast-import", "--quiet"], { input: lines.join("\n") + "\n" });
  chain = (await runGit(["--git-dir", bare, "rev-list", "--reverse", "refs/staged/main"])).split("\n");
  expect(chain).toHaveLength(FETCHES + 1);
  await runGit(["--git-dir", bare, "update-ref", "refs/heads/main", chain[0]!]);
  server = await startGitServer({ root });
  repo = await openRepository({ repo: server.url("app.git"), stateDir: state, timeoutMs: 30_000 });
}, 120_000);

afterAll(async () => {
  await repo?.close();
  await server?.close();
  for (const d of [root, state]) if (d) await rm(d, { recursive: true, force: true });
});

describe(`a mirror fetched ${FETCHES} times`, () => {
  it("reads every head correctly and keeps its pack count bounded", async () => {
    let maxPacks = 0;
    const packDir = join(mirrorPath(state, server.url("app.git")), "objects", "pack");
    for (let i = 1; i <= FETCHES; i++) {
      await runGit(["--git-dir", bare, "update-ref", "refs/heads/main", chain[i]!]);
      await repo.refresh();
      const head = await repo.head("main");
      expect(head).toBe(chain[i]);
      const files = await repo.reader.listFiles(head!, "apps");
      let bytes = 0;
      for (const f of files) bytes += (await repo.reader.readBlob(f.oid)).length;
      expect(files).toHaveLength(FILES);
      expect(bytes).toBeGreaterThan(0);
      if (i % 50 === 0) maxPacks = Math.max(maxPacks, (await readdir(packDir)).filter((n) => n.endsWith(".pack")).length);
    }
    const packs = (await readdir(packDir)).filter((n) => n.endsWith(".pack")).length;
    // What keeps a fetch and a read as fast as in a new mirror: packs do not pile up (a thousand
    // unrepacked packs cost several times more). The times themselves: `npm run bench:mirror`.
    expect(packs).toBeLessThanOrEqual(33);
    expect(maxPacks).toBeLessThanOrEqual(33);
    // The last commit's content is what the server has.
    const f = (await repo.reader.listFiles(chain[FETCHES]!, "apps")).find((x) => x.path === `apps/f${FETCHES % FILES}.yaml`)!;
    expect(new TextDecoder().decode(await repo.reader.readBlob(f.oid))).toContain(`v: "${FETCHES}"`);
  }, 600_000);
});
