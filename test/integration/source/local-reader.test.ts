/**
 * Reading repositories on disk (a work tree and a bare clone of it), checked against the git CLI on the
 * same objects: listFiles vs `git ls-tree -r`, changedFiles vs `git diff-tree -r`, readBlob vs
 * `git cat-file`, log vs `git rev-list`, isAncestor vs `git merge-base --is-ancestor`.
 */
import { mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isCoxError } from "../../../operator/src/api/errors.js";
import { openRepository } from "../../../operator/src/source/index.js";
import type { FileChange, RepoFile, Repository } from "../../../operator/src/source/types.js";
import { makeRepo, runGit, tempDir, type TestRepo } from "../../support/git-repo.js";

let work: TestRepo;
let scratch: string;
let bareDir: string;
const commits: Record<string, string> = {};
const repos: Record<string, Repository> = {};

beforeAll(async () => {
  work = await makeRepo();
  scratch = await tempDir("coxswain-src-");
  await work.write("README.md", "# demo\n");
  await work.write("apps/web/deployment.yaml", "kind: Deployment\nname: web\n");
  await work.write("apps/web/service.yaml", "kind: Service\nname: web\n");
  await work.write("apps/db/deployment.yaml", "kind: Deployment\nname: db\n");
  await work.write("apps/web-extra.yaml", "x: 1\n"); // "web-extra.yaml" sorts between "web" and "web/" in git's tree order
  await work.write("deep/a/b/c/d/e.yaml", "deep: true\n");
  await work.write("with space/file name.yaml", "s: 1\n");
  await work.write("conf", "a file that later becomes a directory\n");
  commits.c1 = await work.commit("first");
  await work.write("apps/web/deployment.yaml", "kind: Deployment\nname: web\nreplicas: 3\n");
  await work.rm("README.md");
  await work.write("apps/api/deployment.yaml", "kind: Deployment\nname: api\n");
  commits.c2 = await work.commit("second: change web, add api, drop readme");
  await work.rm("conf");
  await work.write("conf/settings.yaml", "now: a directory\n");
  await work.write("deep/a/b/c/d/e.yaml", "deep: false\n");
  commits.c3 = await work.commit("third: conf becomes a directory");
  commits.c4 = await work.revert(commits.c2);
  await work.git(["tag", "v-light", commits.c1]);
  await work.git(["tag", "-a", "v-annotated", "-m", "annotated", commits.c2]);
  bareDir = join(scratch, "bare.git");
  await runGit(["clone", "--quiet", "--bare", work.dir, bareDir]);
  repos["work tree"] = await openRepository({ repo: work.dir, stateDir: scratch });
  repos["bare repository"] = await openRepository({ repo: bareDir, stateDir: scratch });
});

afterAll(async () => {
  for (const r of Object.values(repos)) await r.close();
  await work?.cleanup();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

/** `git ls-tree -r -z <commit> -- <dir>`: blobs (and symlinks), as RepoFile. */
async function lsTree(gitdir: string, commit: string, dir: string): Promise<RepoFile[]> {
  const args = ["--git-dir", gitdir, "ls-tree", "-r", "-z", commit];
  if (dir !== "") args.push("--", dir);
  const out = await runGit(args);
  return out
    .split("\0")
    .filter((l) => l !== "")
    .map((line) => {
      const [meta, path] = line.split("\t") as [string, string];
      const [, type, oid] = meta.split(" ") as [string, string, string];
      return { type, path, oid };
    })
    .filter((e) => e.type === "blob")
    .map(({ path, oid }) => ({ path, oid }))
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** `git diff-tree -r --no-renames -z <from> <to> -- <dir>`: content changes (mode-only changes dropped). */
async function diffTree(gitdir: string, from: string, to: string, dir: string): Promise<FileChange[]> {
  const args = ["--git-dir", gitdir, "diff-tree", "-r", "--no-renames", "-z", from, to];
  if (dir !== "") args.push("--", dir);
  const parts = (await runGit(args)).split("\0").filter((p) => p !== "");
  const out: FileChange[] = [];
  for (let i = 0; i < parts.length; i += 2) {
    const [, , before, after] = parts[i]!.slice(1).split(" ") as [string, string, string, string];
    if (before === after) continue;
    const change: FileChange = { path: parts[i + 1]! };
    if (!/^0+$/.test(before)) change.before = before;
    if (!/^0+$/.test(after)) change.after = after;
    out.push(change);
  }
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

const gitdirOf = (kind: string): string => (kind === "work tree" ? work.gitdir : bareDir);
const KINDS = ["work tree", "bare repository"] as const;
const DIRS = ["", ".", "./", "apps", "apps/", "./apps/web", "apps/web", "deep/a/b", "with space", "conf"];
const PAIRS: [string, string][] = [
  ["c1", "c2"],
  ["c2", "c3"],
  ["c1", "c3"],
  ["c2", "c4"],
  ["c1", "c4"],
  ["c3", "c3"],
  ["c4", "c1"],
];
/** The pathspec git understands for one of our dir spellings. */
const gitDir = (dir: string): string => dir.replace(/^\.\/?/, "").replace(/\/$/, "");

describe.each(KINDS)("a %s", (kind) => {
  it("lists every file under a directory at each commit exactly as git ls-tree -r does", async () => {
    const repo = repos[kind]!;
    let compared = 0;
    for (const c of ["c1", "c2", "c3", "c4"]) {
      for (const dir of DIRS) {
        const expected = await lsTree(gitdirOf(kind), commits[c]!, gitDir(dir));
        if (expected.length === 0) continue; // missing at this commit: covered by the PathNotFound test
        if (expected.length === 1 && expected[0]!.path === gitDir(dir)) continue; // a file, not a directory
        expect(await repo.reader.listFiles(commits[c]!, dir), `${c} ${JSON.stringify(dir)}`).toEqual(expected);
        compared++;
      }
    }
    expect(compared).toBeGreaterThan(20);
  });

  it("reports changed files between two commits exactly as git diff-tree -r does", async () => {
    const repo = repos[kind]!;
    for (const [from, to] of PAIRS) {
      for (const dir of ["", "apps", "apps/web", "conf", "deep"]) {
        // dir names a directory: a file of that name (conf before c3) is not part of it.
        const under = (p: string): boolean => dir === "" || p.startsWith(`${dir}/`);
        const present = [...(await lsTree(gitdirOf(kind), commits[from]!, dir)), ...(await lsTree(gitdirOf(kind), commits[to]!, dir))].filter((f) => under(f.path));
        if (present.length === 0) continue;
        const expected = (await diffTree(gitdirOf(kind), commits[from]!, commits[to]!, dir)).filter((c) => under(c.path));
        expect(await repo.reader.changedFiles(commits[from]!, commits[to]!, dir), `${from}..${to} ${dir}`).toEqual(expected);
      }
    }
  });

  it("reports a directory that replaced a file as one deletion and one addition per file", async () => {
    const changes = await repos[kind]!.reader.changedFiles(commits.c2!, commits.c3!, "");
    const conf = changes.filter((c) => c.path.startsWith("conf"));
    expect(conf.map((c) => [c.path, c.before !== undefined, c.after !== undefined])).toEqual([
      ["conf", true, false],
      ["conf/settings.yaml", false, true],
    ]);
  });

  it("reads every blob with the same bytes as git cat-file", async () => {
    const repo = repos[kind]!;
    for (const f of await repo.reader.listFiles(commits.c3!, "")) {
      const expected = await runGit(["--git-dir", gitdirOf(kind), "cat-file", "blob", f.oid]);
      expect(new TextDecoder().decode(await repo.reader.readBlob(f.oid)).replace(/\n$/, "")).toBe(expected);
    }
  });

  it.each([
    ["a directory that does not exist", "nope"],
    ["a nested directory that does not exist", "apps/nope/deeper"],
    ["a path that is a file", "apps/web/service.yaml"],
  ])("rejects listing %s with PathNotFound", async (_what, dir) => {
    const err = await repos[kind]!.reader.listFiles(commits.c1!, dir).catch((e: unknown) => e);
    expect(isCoxError(err, "PathNotFound")).toBe(true);
  });

  it("rejects a diff of a directory that exists in neither commit with PathNotFound", async () => {
    const err = await repos[kind]!.reader.changedFiles(commits.c1!, commits.c2!, "nope").catch((e: unknown) => e);
    expect(isCoxError(err, "PathNotFound")).toBe(true);
  });

  it("treats a directory present on one side only as all added", async () => {
    const changes = await repos[kind]!.reader.changedFiles(commits.c1!, commits.c2!, "apps/api");
    expect(changes).toEqual(await diffTree(gitdirOf(kind), commits.c1!, commits.c2!, "apps/api"));
    expect(changes.every((c) => c.before === undefined && c.after !== undefined)).toBe(true);
  });

  it("resolves branches, full refs, oids, and light and annotated tags (peeled) like git rev-parse", async () => {
    const repo = repos[kind]!;
    for (const rev of ["main", "refs/heads/main", "HEAD", commits.c2!, "v-light", "v-annotated", "refs/tags/v-annotated"]) {
      const expected = await runGit(["--git-dir", gitdirOf(kind), "rev-parse", `${rev}^{commit}`]);
      expect(await repo.reader.resolve(rev), rev).toBe(expected);
    }
  });

  it.each([
    ["a branch that does not exist", "nope"],
    ["an oid that is not in the repository", "0123456789abcdef0123456789abcdef01234567"],
  ])("resolves %s to undefined", async (_what, rev) => {
    expect(await repos[kind]!.reader.resolve(rev)).toBeUndefined();
  });

  it("reads the head of a branch, and undefined for a missing one", async () => {
    expect(await repos[kind]!.head("main")).toBe(commits.c4);
    expect(await repos[kind]!.head("nope")).toBeUndefined();
  });

  it("reads commit metadata as git does", async () => {
    const info = await repos[kind]!.reader.readCommit(commits.c2!);
    const fmt = await runGit(["--git-dir", gitdirOf(kind), "show", "-s", "--format=%an%n%ae%n%at%n%P", commits.c2!]);
    const [name, email, at, parents] = fmt.split("\n");
    expect(info).toMatchObject({ oid: commits.c2, author: { name, email, timestamp: Number(at) }, parents: parents!.split(" ") });
    expect(info.message.split("\n")[0]).toBe("second: change web, add api, drop readme");
  });

  it("logs commits newest first as git rev-list does", async () => {
    for (const limit of [1, 2, 4, 10]) {
      const expected = (await runGit(["--git-dir", gitdirOf(kind), "rev-list", `--max-count=${limit}`, "main"])).split("\n");
      expect((await repos[kind]!.reader.log("main", limit)).map((c) => c.oid)).toEqual(expected);
    }
  });

  it("rejects a log of a branch that does not exist with BranchNotFound", async () => {
    const err = await repos[kind]!.reader.log("nope", 5).catch((e: unknown) => e);
    expect(isCoxError(err, "BranchNotFound")).toBe(true);
  });

  it("answers ancestry as git merge-base --is-ancestor does", async () => {
    const names = ["c1", "c2", "c3", "c4"];
    for (const a of names) {
      for (const d of names) {
        const git = await runGit(["--git-dir", gitdirOf(kind), "merge-base", "--is-ancestor", commits[a]!, commits[d]!]).then(
          () => true,
          () => false,
        );
        expect(await repos[kind]!.reader.isAncestor(commits[a]!, commits[d]!), `${a} ancestor of ${d}`).toBe(git);
      }
    }
  });
});

describe("opening a path", () => {
  it.each([
    ["a path that does not exist", async (dir: string) => join(dir, "missing")],
    [
      "an empty directory",
      async (dir: string) => {
        await mkdir(join(dir, "empty"));
        return join(dir, "empty");
      },
    ],
    [
      "a directory of plain files",
      async (dir: string) => {
        await mkdir(join(dir, "plain"));
        await writeFile(join(dir, "plain", "a.yaml"), "a: 1\n");
        return join(dir, "plain");
      },
    ],
    [
      "a regular file",
      async (dir: string) => {
        await writeFile(join(dir, "file.txt"), "x");
        return join(dir, "file.txt");
      },
    ],
    [
      "a linked worktree",
      async (dir: string) => {
        await work.git(["worktree", "add", "--quiet", "--detach", join(dir, "linked")]);
        return join(dir, "linked");
      },
    ],
    ["an ssh URL", async () => "ssh://git@example.invalid/repo.git"],
    ["a scp-like address", async () => "git@example.invalid:repo.git"],
  ])("rejects %s with RepoNotFound", async (_what, make) => {
    const dir = await tempDir("coxswain-open-");
    try {
      const err = await openRepository({ repo: await make(dir), stateDir: dir }).catch((e: unknown) => e);
      expect(isCoxError(err, "RepoNotFound")).toBe(true);
    } finally {
      await work.git(["worktree", "prune"]);
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("opens a file:// URL as the path it names", async () => {
    const repo = await openRepository({ repo: `file://${work.dir}`, stateDir: scratch });
    expect(repo.remote).toBe(false);
    expect(await repo.head("main")).toBe(commits.c4);
  });
});
