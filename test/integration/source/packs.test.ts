/**
 * The pack reader (operator/src/source/packs.ts) against git itself: every object of real repositories —
 * packed with offset deltas, with reference deltas, and loose — reads back byte for byte as
 * `git cat-file --batch` prints it, and tells every object's size without inflating it; corrupt data is
 * never returned as content.
 */
import { execFileSync } from "node:child_process";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openRepository } from "../../../operator/src/source/index.js";
import { PackReader } from "../../../operator/src/source/packs.js";
import { gitEnv, makeRepo, type TestRepo } from "../../support/git-repo.js";

/** Every object git has in the repository, as `git cat-file --batch-all-objects --batch` prints it. */
function allObjects(dir: string): { oid: string; type: string; data: Buffer }[] {
  const out = execFileSync("git", ["cat-file", "--batch-all-objects", "--batch"], { cwd: dir, env: gitEnv(), maxBuffer: 256 * 1024 * 1024 });
  const objects: { oid: string; type: string; data: Buffer }[] = [];
  let pos = 0;
  while (pos < out.length) {
    const nl = out.indexOf(10, pos);
    const [oid, type, size] = out.subarray(pos, nl).toString().split(" ");
    const start = nl + 1;
    objects.push({ oid: oid!, type: type!, data: out.subarray(start, start + Number(size)) });
    pos = start + Number(size) + 1;
  }
  return objects;
}

/** How many objects of the repository's packs are deltas (`git verify-pack -v`), by kind of base reference. */
async function deltaCount(gitdir: string): Promise<number> {
  const dir = join(gitdir, "objects", "pack");
  let deltas = 0;
  for (const idx of (await readdir(dir)).filter((n) => n.endsWith(".idx"))) {
    const lines = execFileSync("git", ["verify-pack", "-v", join(dir, idx)], { env: gitEnv(), maxBuffer: 64 * 1024 * 1024 })
      .toString()
      .split("\n");
    // A delta's line has seven fields: oid type size size-in-pack offset depth base-oid.
    deltas += lines.filter((l) => l.split(/\s+/).length === 7 && /^[0-9a-f]{40}/.test(l)).length;
  }
  return deltas;
}

/** A repository of similar manifests over several commits (so git finds deltas between them). */
async function similarManifests(): Promise<TestRepo> {
  const repo = await makeRepo();
  for (let version = 1; version <= 3; version++) {
    for (let i = 0; i < 60; i++) {
      await repo.write(
        `apps/app-${i}.yaml`,
        `apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app-${i}\n  labels: {team: t${i % 4}}\nspec:\n  replicas: ${version}\n` +
          `  selector: {matchLabels: {app: app-${i}}}\n  template:\n    metadata: {labels: {app: app-${i}}}\n    spec:\n` +
          `      containers:\n        - name: web\n          image: example/web:${version}.${i}\n          args: [${"--flag "
            .repeat(20 + i)
            .trim()
            .split(" ")
            .map((f) => `"${f}"`)
            .join(", ")}]\n`,
      );
    }
    // A file far over 64 KiB changed in one line: its delta copies whole 64 KiB runs (encoded with size 0).
    await repo.write("data/big.txt", Array.from({ length: 12000 }, (_, i) => (i === 8000 ? `changed in v${version}` : `line ${i} ${(i * 7919) % 1000003}`)).join("\n"));
    await repo.git(["add", "-A"]);
    await repo.git(["commit", "--quiet", "-m", `v${version}`]);
  }
  return repo;
}

async function expectSameAsGit(repo: TestRepo): Promise<number> {
  const reader = new PackReader(repo.gitdir);
  const objects = allObjects(repo.dir);
  for (const o of objects) {
    const got = await reader.read(o.oid);
    expect(got?.type, o.oid).toBe(o.type);
    expect(got!.data.equals(o.data), `${o.type} ${o.oid}`).toBe(true);
    // The size from the header alone (for a delta, from the start of its instructions) is the same.
    expect(await reader.size(o.oid), `size of ${o.type} ${o.oid}`).toBe(o.data.length);
  }
  reader.reset();
  return objects.length;
}

describe("the pack reader reads objects as git does", () => {
  const repos: TestRepo[] = [];
  afterAll(async () => {
    for (const r of repos) await r.cleanup();
  });

  it("reads every object of a pack made of offset deltas, chains included", async () => {
    const repo = await similarManifests();
    repos.push(repo);
    await repo.git(["repack", "-a", "-d", "-f", "--depth=50", "--window=50", "-q"]);
    expect(await deltaCount(repo.gitdir)).toBeGreaterThan(50);
    expect(await expectSameAsGit(repo)).toBeGreaterThan(180);
  });

  it("reads every object of a pack whose deltas name their base by object id", async () => {
    const repo = await similarManifests();
    repos.push(repo);
    await repo.git(["-c", "repack.useDeltaBaseOffset=false", "repack", "-a", "-d", "-f", "--depth=50", "--window=50", "-q"]);
    expect(await deltaCount(repo.gitdir)).toBeGreaterThan(50);
    await expectSameAsGit(repo);
  });

  it("reads loose objects, and objects of several packs", async () => {
    const repo = await similarManifests();
    repos.push(repo);
    await repo.git(["repack", "-d", "-q"]);
    await repo.write("apps/late.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: late\n");
    await repo.git(["add", "-A"]);
    await repo.git(["commit", "--quiet", "-m", "loose"]);
    await repo.write("apps/later.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: later\n");
    await repo.git(["add", "-A"]);
    await repo.git(["commit", "--quiet", "-m", "second pack"]);
    await repo.git(["repack", "-q"]); // a second pack of the new objects only
    await repo.write("apps/loose.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: loose\n");
    await repo.git(["add", "-A"]);
    await repo.git(["commit", "--quiet", "-m", "loose again"]);
    expect((await readdir(join(repo.gitdir, "objects", "pack"))).filter((n) => n.endsWith(".pack")).length).toBe(2);
    await expectSameAsGit(repo);
  });

  it("gives only the size of a blob above the bound, packed or loose (the reading refuses it by size, uninflated)", async () => {
    const repo = await makeRepo();
    repos.push(repo);
    await repo.write("big.yaml", "# padding\n".repeat(100_000));
    await repo.write("small.yaml", "a: 1\n");
    await repo.git(["add", "-A"]);
    await repo.git(["commit", "--quiet", "-m", "big"]);
    const big = (await repo.git(["rev-parse", "HEAD:big.yaml"])).trim();
    const small = (await repo.git(["rev-parse", "HEAD:small.yaml"])).trim();
    for (const packed of [false, true]) {
      if (packed) await repo.git(["repack", "-a", "-d", "-q"]);
      const r = await openRepository({ repo: repo.dir, stateDir: repo.dir });
      try {
        expect(await r.reader.readBlobBounded(big, 4096), `packed: ${packed}`).toEqual({ size: 1_000_000 });
        expect(Buffer.from((await r.reader.readBlobBounded(big, 1_000_000)) as Uint8Array).length).toBe(1_000_000);
        expect(Buffer.from((await r.reader.readBlobBounded(small, 4096)) as Uint8Array).toString()).toBe("a: 1\n");
      } finally {
        await r.close();
      }
    }
  });

  it("answers nothing for an object it does not have", async () => {
    const repo = await similarManifests();
    repos.push(repo);
    const reader = new PackReader(repo.gitdir);
    expect(await reader.read("0".repeat(40))).toBeUndefined();
    expect(await reader.read("not an object id")).toBeUndefined();
    reader.reset();
  });
});

describe("a corrupt pack", () => {
  let repo: TestRepo;
  let blob: string;
  beforeAll(async () => {
    repo = await makeRepo();
    await repo.write("big.yaml", `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: big\ndata:\n${Array.from({ length: 400 }, (_, i) => `  k${i}: "${(i * 7919) % 1000003}"`).join("\n")}\n`);
    await repo.git(["add", "-A"]);
    await repo.git(["commit", "--quiet", "-m", "big"]);
    blob = (await repo.git(["rev-parse", "HEAD:big.yaml"])).trim();
    await repo.git(["repack", "-a", "-d", "-q"]);
    // Flip bytes in the middle of the blob's compressed data.
    const dir = join(repo.gitdir, "objects", "pack");
    const idx = (await readdir(dir)).find((n) => n.endsWith(".idx"))!;
    const line = execFileSync("git", ["verify-pack", "-v", join(dir, idx)], { env: gitEnv() })
      .toString()
      .split("\n")
      .find((l) => l.startsWith(blob))!;
    const [, , , sizeInPack, offset] = line.split(/\s+/);
    const packPath = join(dir, `${idx.slice(0, -4)}.pack`);
    const pack = await readFile(packPath);
    const at = Number(offset) + Math.floor(Number(sizeInPack) / 2);
    for (let i = 0; i < 8; i++) pack[at + i] = pack[at + i]! ^ 0xff;
    await writeFile(packPath, pack);
  });
  afterAll(async () => {
    await repo.cleanup();
  });

  it("is never returned as content: the reader throws", async () => {
    const reader = new PackReader(repo.gitdir);
    await expect(reader.read(blob)).rejects.toThrow();
    reader.reset();
  });

  it("makes readBlob fail rather than return wrong bytes", async () => {
    const r = await openRepository({ repo: repo.dir, stateDir: repo.dir });
    try {
      await expect(r.reader.readBlob(blob)).rejects.toThrow();
    } finally {
      await r.close();
    }
  });
});
