/**
 * The file system handed to isomorphic-git: atomic writes through a temporary sibling, and directory
 * listings that never show those temporaries (a fetch listing refs while a ref is written must not see them).
 */
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { gitFs, TMP_PREFIX, writeFileAtomic } from "../../../operator/src/source/fs.js";

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

async function scratch(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), "cx-fs-"));
  dirs.push(d);
  return d;
}

describe("gitFs", () => {
  it("hides writeFileAtomic's temporary files from readdir, as names and as Dirents", async () => {
    const d = await scratch();
    await writeFile(join(d, "coxswain"), "a\n");
    await writeFile(join(d, `${TMP_PREFIX}coxswain-1-abcd`), "b\n");
    expect((await readdir(d)).sort()).toEqual([`${TMP_PREFIX}coxswain-1-abcd`, "coxswain"]);
    expect(await gitFs.promises.readdir(d)).toEqual(["coxswain"]);
    const dirents = (await gitFs.promises.readdir(d, { withFileTypes: true })) as unknown as { name: string }[];
    expect(dirents.map((e) => e.name)).toEqual(["coxswain"]);
  });

  it("writes through a rename, creating missing directories, and leaves no temporary behind", async () => {
    const d = await scratch();
    await writeFileAtomic(join(d, "refs/notes/coxswain"), "0123\n");
    expect(await readdir(join(d, "refs/notes"))).toEqual(["coxswain"]);
  });

  it("removes its temporary file when the write fails part-way (a full disk), and keeps the old file", async () => {
    const d = await scratch();
    await writeFile(join(d, "packed-refs"), "old\n");
    // The data arrives in chunks and fails after the first, as a write does on ENOSPC.
    async function* chunks(): AsyncGenerator<Buffer> {
      yield Buffer.alloc(64 * 1024, 0x61);
      throw Object.assign(new Error("no space left on device"), { code: "ENOSPC" });
    }
    await expect(writeFileAtomic(join(d, "packed-refs"), chunks())).rejects.toMatchObject({ code: "ENOSPC" });
    expect(await readdir(d)).toEqual(["packed-refs"]);
  });
});
