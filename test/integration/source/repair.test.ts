/**
 * The check of a mirror's objects on disk (source/repair.ts), on repositories the git CLI made: a sound
 * repository is left whole; a pack cut short, an index without its pack and a loose object emptied or
 * altered are found and removed, and nothing else; isDamage tells damage from absence.
 */
import { readdir, readFile, rm, stat, truncate, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { checkObjects, isDamage } from "../../../operator/src/source/repair.js";
import { makeRepo, type TestRepo } from "../../support/git-repo.js";

const repos: TestRepo[] = [];
afterEach(async () => {
  for (const r of repos.splice(0)) await r.cleanup();
});

/** A repository with one pack (two commits, gc'd) and a loose commit on top. */
async function repo(): Promise<{ r: TestRepo; pack: string; idx: string; loose: string[] }> {
  const r = await makeRepo();
  repos.push(r);
  await r.write("a.yaml", "a: 1\n");
  await r.commit("one");
  await r.write("b.yaml", "b: 2\n");
  await r.commit("two");
  await r.git(["gc", "--quiet"]);
  await r.write("c.yaml", "c: 3\n");
  await r.commit("three");
  const packDir = join(r.gitdir, "objects", "pack");
  const name = (await readdir(packDir)).find((n) => n.endsWith(".pack"))!;
  const loose: string[] = [];
  for (const d of (await readdir(join(r.gitdir, "objects"))).filter((d) => /^[0-9a-f]{2}$/.test(d)).sort()) {
    for (const f of (await readdir(join(r.gitdir, "objects", d))).sort()) loose.push(`objects/${d}/${f}`);
  }
  return { r, pack: `objects/pack/${name}`, idx: `objects/pack/${name.replace(/\.pack$/, ".idx")}`, loose };
}

describe("checkObjects", () => {
  it("leaves a sound repository whole", async () => {
    const { r, loose } = await repo();
    expect(loose.length).toBe(3); // commit, tree, blob of "three"
    expect(await checkObjects(r.gitdir, { loose: "full" })).toEqual({ removed: [], checked: 1 + loose.length });
    await r.git(["fsck", "--strict", "--no-progress"]);
  });

  it("removes a pack cut short with its index, and an emptied or altered loose object, and nothing else", async () => {
    const { r, pack, idx, loose } = await repo();
    await truncate(join(r.gitdir, pack), Math.floor((await stat(join(r.gitdir, pack))).size / 2));
    await writeFile(join(r.gitdir, loose[0]!), "");
    // A sound zlib stream of another object under this name: it inflates, but hashes to another oid.
    const other = await repo();
    await rm(join(r.gitdir, loose[1]!), { force: true });
    await writeFile(join(r.gitdir, loose[1]!), await readFile(join(other.r.gitdir, other.loose[0]!)));
    const check = await checkObjects(r.gitdir, { loose: "full" });
    expect(check.removed).toEqual([idx, pack, loose[0]!, loose[1]!].sort());
    expect(await readdir(join(r.gitdir, "objects", "pack"))).toEqual([]);
    expect((await stat(join(r.gitdir, loose[2]!))).isFile()).toBe(true);
  });

  it("when opening (loose: empty), finds an emptied loose object but does not inflate the others", async () => {
    const { r, loose } = await repo();
    await writeFile(join(r.gitdir, loose[0]!), "");
    await writeFile(join(r.gitdir, loose[1]!), "not zlib at all");
    expect((await checkObjects(r.gitdir, { loose: "empty" })).removed).toEqual([loose[0]!]);
  });

  it("removes an index whose pack is gone", async () => {
    const { r, pack, idx } = await repo();
    await rm(join(r.gitdir, pack));
    expect((await checkObjects(r.gitdir, { loose: "full" })).removed).toEqual([idx]);
  });
});

describe("isDamage", () => {
  it("is true for zlib and pack errors, false for a missing object or a network error", () => {
    expect(isDamage(Object.assign(new Error("incorrect header check"), { code: "Z_DATA_ERROR" }))).toBe(true);
    expect(isDamage(Object.assign(new Error("Packfile trailer mismatch: expected a, got b. The packfile may be corrupted."), { code: "InternalError" }))).toBe(true);
    expect(isDamage(new Error("Invalid compressed buffer: buffer error"))).toBe(true);
    expect(isDamage(Object.assign(new Error("Could not find abc."), { code: "NotFoundError" }))).toBe(false);
    expect(isDamage(Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:9"), { code: "ECONNREFUSED" }))).toBe(false);
    expect(isDamage(Object.assign(new Error("HTTP Error: 500"), { code: "HttpError" }))).toBe(false);
  });
});
