/**
 * Writing into a repository on disk without a work tree: commits built from flat paths, notes, and ref
 * updates that never clobber refs the git CLI writes at the same time. Checked with the git CLI.
 */
import { existsSync } from "node:fs";
import { readdir, rm, utimes, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { isCoxError } from "../../../operator/src/api/errors.js";
import { openRepository } from "../../../operator/src/source/index.js";
import { STALE_REF_LOCK_MS } from "../../../operator/src/source/refs.js";
import type { Repository, TreeFile } from "../../../operator/src/source/types.js";
import { makeRepo, runGit, tempDir, type TestRepo } from "../../support/git-repo.js";

const STATUS = "refs/heads/coxswain/status";
const NOTES = "refs/notes/coxswain";

let work: TestRepo;
let state: string;
let repo: Repository;
let base: string;

beforeEach(async () => {
  work = await makeRepo();
  state = await tempDir("coxswain-state-");
  await work.write("app/deployment.yaml", "kind: Deployment\n");
  base = await work.commit("deploy");
  repo = await openRepository({ repo: work.dir, stateDir: state });
});

afterEach(async () => {
  await repo.close();
  await work.cleanup();
  await rm(state, { recursive: true, force: true });
});

const git = (...args: string[]): Promise<string> => work.git(args);

describe("commitFiles", () => {
  it("builds nested trees from flat paths that git reads back file by file", async () => {
    const files: TreeFile[] = [
      { path: "summary.yaml", content: "head: x\n" },
      { path: "workloads/default/deployment-web.yaml", content: "name: web\n" },
      { path: "workloads/default/deployment-api.yaml", content: "name: api\n" },
      { path: "workloads/kube-system/deployment-dns.yaml", content: "name: dns\n" },
      { path: "commits/ab/abcdef.yaml", content: "phase: Succeeded\n" },
      { path: "a-b.yaml", content: "sorts before a/ in git's tree order\n" },
      { path: "a/b.yaml", content: "nested\n" },
    ];
    const oid = await repo.writer.commitFiles({ ref: STATUS, files, message: "status: test" });
    expect(oid).toMatch(/^[0-9a-f]{40}$/);
    expect(await git("rev-parse", STATUS)).toBe(oid);
    const listed = (await git("ls-tree", "-r", "--name-only", STATUS)).split("\n").sort();
    expect(listed).toEqual(files.map((f) => f.path).sort());
    for (const f of files) expect(`${await git("show", `${STATUS}:${f.path}`)}\n`).toBe(f.content);
    await git("fsck", "--strict", "--no-dangling");
    expect(await git("log", "-1", "--format=%an <%ae>|%cn <%ce>|%s", STATUS)).toBe("coxswain <coxswain@localhost>|coxswain <coxswain@localhost>|status: test");
    // Never the deploy branch, never the work tree.
    expect(await git("rev-parse", "main")).toBe(base);
    expect(await git("status", "--porcelain")).toBe("");
  });

  it("makes no commit when the tree equals the parent's tree", async () => {
    const files = [{ path: "a.yaml", content: "a\n" }];
    const first = await repo.writer.commitFiles({ ref: STATUS, files, message: "one" });
    const second = await repo.writer.commitFiles({ ref: STATUS, files: [...files], message: "two" });
    expect(first).toBeDefined();
    expect(second).toBeUndefined();
    expect(await git("rev-list", "--count", STATUS)).toBe("1");
  });

  it("chains commits on the ref's tip, and starts a new root when the parent is null", async () => {
    const a = await repo.writer.commitFiles({ ref: STATUS, files: [{ path: "a", content: "1" }], message: "a" });
    const b = await repo.writer.commitFiles({ ref: STATUS, files: [{ path: "a", content: "2" }], message: "b" });
    expect(await git("rev-parse", `${b}^`)).toBe(a);
    const c = await repo.writer.commitFiles({ ref: STATUS, files: [{ path: "a", content: "3" }], message: "c", parent: null });
    expect(await git("rev-list", "--count", c!)).toBe("1");
    expect(await git("rev-parse", STATUS)).toBe(c);
  });

  it("serializes concurrent commits to one ref so that none is lost", async () => {
    const oids = await Promise.all(Array.from({ length: 20 }, (_, i) => repo.writer.commitFiles({ ref: STATUS, files: [{ path: "n.yaml", content: `n: ${i}\n` }], message: `n=${i}` })));
    expect(oids.every((o) => o !== undefined)).toBe(true);
    expect(await git("rev-list", "--count", STATUS)).toBe("20");
    expect((await git("rev-list", STATUS)).split("\n").sort()).toEqual([...(oids as string[])].sort());
  });

  it.each([
    ["an empty segment", "a//b.yaml"],
    ["a leading slash", "/a.yaml"],
    ["a dot-dot segment", "a/../b.yaml"],
    ["a .git segment", ".git/config"],
  ])("rejects a path with %s with InvalidArgument", async (_what, path) => {
    const err = await repo.writer.commitFiles({ ref: STATUS, files: [{ path, content: "x" }], message: "bad" }).catch((e: unknown) => e);
    expect(isCoxError(err, "InvalidArgument")).toBe(true);
  });

  it("rejects a path used both as a file and as a directory with InvalidArgument", async () => {
    const files = [
      { path: "a", content: "file" },
      { path: "a/b", content: "nested" },
    ];
    const err = await repo.writer.commitFiles({ ref: STATUS, files, message: "bad" }).catch((e: unknown) => e);
    expect(isCoxError(err, "InvalidArgument")).toBe(true);
  });

  it("reads the files of a commit back", async () => {
    const files = [
      { path: "x/y.yaml", content: "y: 1\n" },
      { path: "z.yaml", content: "z: ü\n" },
    ];
    const oid = await repo.writer.commitFiles({ ref: STATUS, files, message: "rw" });
    expect(await repo.writer.readFiles(oid!, "")).toEqual(files);
    expect(await repo.writer.readFiles(oid!, "x")).toEqual([files[0]]);
  });

  it("keeps both histories when the git CLI commits to main, packs refs and runs gc while coxswain writes its status branch and notes", async () => {
    const rounds = 40;
    const cli = (async () => {
      for (let i = 0; i < rounds; i++) {
        await work.write("app/counter.yaml", `n: ${i}\n`);
        await work.commit(`cli ${i}`);
        // pack-refs moves every loose ref (ours too) into packed-refs and deletes the loose files: it must
        // never revert a status ref we moved in the meantime.
        if (i % 4 === 3) await work.git(["pack-refs", "--all", "--prune"]);
        // gc repacks every object into a new pack and deletes the old packs under our reads.
        if (i % 10 === 9) await work.git(["gc", "--quiet"]);
      }
    })();
    const ours = (async () => {
      const written: string[] = [];
      for (let i = 0; i < rounds; i++) {
        const oid = await repo.writer.commitFiles({ ref: STATUS, files: [{ path: "status.yaml", content: `n: ${i}\n` }], message: `status ${i}` });
        await repo.writer.setNote(NOTES, base, `note ${i}`);
        written.push(oid!);
      }
      return written;
    })();
    // allSettled: never leave one side running into the cleanup when the other fails.
    const [cliResult, oursResult] = await Promise.allSettled([cli, ours]);
    if (cliResult.status === "rejected") throw cliResult.reason;
    if (oursResult.status === "rejected") throw oursResult.reason;
    const written = oursResult.value;
    expect(await git("rev-list", "--count", "main")).toBe(String(rounds + 1));
    expect(await git("show", "main:app/counter.yaml")).toBe(`n: ${rounds - 1}`);
    expect(await git("rev-list", "--count", STATUS)).toBe(String(rounds));
    expect(await git("rev-parse", STATUS)).toBe(written.at(-1));
    expect(await git("notes", "--ref=coxswain", "show", base)).toBe(`note ${rounds - 1}`);
    await git("fsck", "--strict", "--no-dangling");
  });

  it("does not move a ref that another process holds locked, and says why", async () => {
    await repo.writer.commitFiles({ ref: STATUS, files: [{ path: "a", content: "1" }], message: "a" });
    const before = await git("rev-parse", STATUS);
    const lock = `${work.gitdir}/refs/heads/coxswain/status.lock`;
    await writeFile(lock, "");
    try {
      const err = await repo.writer.commitFiles({ ref: STATUS, files: [{ path: "a", content: "2" }], message: "b" }).catch((e: unknown) => e);
      expect(isCoxError(err, "StatusWriteFailed")).toBe(true);
      expect(await git("rev-parse", STATUS)).toBe(before);
    } finally {
      await rm(lock, { force: true });
    }
  });

  it.each([
    ["the status branch", STATUS],
    ["the notes", NOTES],
  ])("takes over a lock of %s that a killed writer left behind (unchanged for STALE_REF_LOCK_MS), and writes", async (_what, ref) => {
    await repo.writer.commitFiles({ ref: STATUS, files: [{ path: "a", content: "1" }], message: "a" });
    await repo.writer.setNote(NOTES, base, "first");
    // What a kill -9 between creating the lock and renaming it over the ref leaves: the new value, or less.
    const lock = `${work.gitdir}/${ref}.lock`;
    await writeFile(lock, "");
    const old = (Date.now() - STALE_REF_LOCK_MS - 1_000) / 1000;
    await utimes(lock, old, old);
    const oid = await repo.writer.commitFiles({ ref: STATUS, files: [{ path: "a", content: "2" }], message: "b" });
    await repo.writer.setNote(NOTES, base, "second");
    expect(await git("rev-parse", STATUS)).toBe(oid);
    expect(await git("notes", "--ref=coxswain", "show", base)).toBe("second");
    expect(existsSync(lock)).toBe(false);
    expect(await readdir(dirname(lock))).not.toContainEqual(expect.stringMatching(/^\.coxswain-stale/)); // nothing of the takeover left
    await git("fsck", "--strict", "--no-dangling");
  });
});

describe("notes", () => {
  it("writes a note that git notes show and git log --notes read", async () => {
    await repo.writer.setNote(NOTES, base, "coxswain: Succeeded — 1/1 pods ready");
    expect(await git("notes", "--ref=coxswain", "show", base)).toBe("coxswain: Succeeded — 1/1 pods ready");
    expect(await git("log", "--notes=coxswain", "-1", base)).toContain("Notes (coxswain):\n    coxswain: Succeeded — 1/1 pods ready");
    expect(await repo.writer.readNote(NOTES, base)).toBe("coxswain: Succeeded — 1/1 pods ready");
  });

  it("replaces an earlier note, and writes no notes commit for the same text", async () => {
    await repo.writer.setNote(NOTES, base, "first");
    await repo.writer.setNote(NOTES, base, "second");
    await repo.writer.setNote(NOTES, base, "second");
    expect(await git("notes", "--ref=coxswain", "show", base)).toBe("second");
    expect(await git("rev-list", "--count", NOTES)).toBe("2");
  });

  it("reads undefined for a commit without a note and for a missing notes ref", async () => {
    expect(await repo.writer.readNote(NOTES, base)).toBeUndefined();
    await repo.writer.setNote(NOTES, base, "x");
    const other = await work.commit("another");
    expect(await repo.writer.readNote(NOTES, other)).toBeUndefined();
  });

  it("reads notes the git CLI wrote in its fan-out layout, past 256 notes", async () => {
    const oids: string[] = [];
    const lines: string[] = [];
    // 300 commits and a note on each in one fast-import stream, then let git notes rewrite the tree
    // (it switches to fan-out as it grows).
    for (let i = 0; i < 300; i++) lines.push(`commit refs/heads/many`, `mark :${i + 1}`, `committer T <t@e> ${1_700_000_000 + i} +0000`, `data 2`, `${i % 10}`, ``);
    await runGit(["fast-import", "--quiet"], { cwd: work.dir, input: `${lines.join("\n")}\n` });
    oids.push(...(await git("rev-list", "many")).split("\n"));
    for (const oid of oids) await runGit(["notes", "--ref=coxswain", "add", "-m", `n ${oid.slice(0, 8)}`, oid], { cwd: work.dir });
    const tree = await git("ls-tree", NOTES);
    expect(
      tree.split("\n").some((l) => / tree /.test(l)),
      "git used fan-out subtrees",
    ).toBe(true);
    for (const oid of [oids[0]!, oids[150]!, oids[299]!]) expect(await repo.writer.readNote(NOTES, oid)).toBe(`n ${oid.slice(0, 8)}`);
  });
});

describe("refs of our own", () => {
  it("reports tips, moves a ref to an existing commit, and fetches nothing on disk", async () => {
    expect(await repo.writer.tip(STATUS)).toBeUndefined();
    await repo.writer.setRef(STATUS, base);
    expect(await repo.writer.tip(STATUS)).toBe(base);
    expect(await git("rev-parse", STATUS)).toBe(base);
    expect(await repo.writer.fetchRemoteRef(STATUS)).toBeUndefined();
    await repo.writer.push([STATUS]); // no-op on disk
  });

  it.each([
    ["a name outside refs/", "coxswain/status"],
    ["a name with a lock suffix", "refs/heads/x.lock"],
    ["a name with dot-dot", "refs/heads/a..b"],
  ])("rejects %s with InvalidArgument", async (_what, ref) => {
    const err = await repo.writer.commitFiles({ ref, files: [], message: "x" }).catch((e: unknown) => e);
    expect(isCoxError(err, "InvalidArgument")).toBe(true);
  });
});
