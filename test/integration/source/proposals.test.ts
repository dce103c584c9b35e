/**
 * Following proposals: listRefs picks branches by glob on disk and in a mirror, and with pullRequests the
 * pull/merge request heads a server advertises (refs/pull/<n>/head, refs/merge-requests/<n>/head) are
 * mirrored — new ones fetched, moved ones followed, closed ones pruned — while nothing else about the
 * mirror changes.
 */
import { randomBytes } from "node:crypto";
import { readdir, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { mirrorPath, openRepository } from "../../../operator/src/source/index.js";
import type { Repository } from "../../../operator/src/source/types.js";
import { makeRepo, runGit, tempDir, type TestRepo } from "../../support/git-repo.js";
import { createBareRepo, startGitServer, type GitServer } from "../../support/git-server.js";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A work repository with main and three proposal branches (one nested). */
async function work(): Promise<{ r: TestRepo; oids: Record<string, string> }> {
  const r = await makeRepo();
  cleanups.push(() => r.cleanup());
  await r.write("a.yaml", "a: 0\n");
  const oids: Record<string, string> = { main: await r.commit("base") };
  for (const b of ["pr/login", "pr/cart", "pr/deep/nested", "feature-x"]) {
    await r.git(["checkout", "--quiet", "-b", b, "main"]);
    await r.write(`${b.replace(/\//g, "-")}.yaml`, `b: ${b}\n`);
    oids[b] = await r.commit(b);
  }
  await r.git(["checkout", "--quiet", "main"]);
  return { r, oids };
}

async function server(): Promise<{ root: string; bare: string; server: GitServer }> {
  const root = await tempDir("coxswain-server-");
  cleanups.push(() => rm(root, { recursive: true, force: true }));
  const bare = await createBareRepo(root, "app.git");
  const s = await startGitServer({ root });
  cleanups.push(() => s.close());
  return { root, bare, server: s };
}

async function mirror(url: string, pullRequests: boolean): Promise<{ repo: Repository; state: string }> {
  const state = await tempDir("coxswain-state-");
  cleanups.push(() => rm(state, { recursive: true, force: true }));
  const repo = await openRepository({ repo: url, stateDir: state, timeoutMs: 10_000, pullRequests });
  cleanups.push(() => repo.close());
  return { repo, state };
}

describe("listRefs on a repository on disk", () => {
  it("lists the branches a glob matches, sorted, with their commits", async () => {
    const { r, oids } = await work();
    const repo = await openRepository({ repo: r.dir, stateDir: r.dir });
    cleanups.push(() => repo.close());
    expect(await repo.listRefs("pr/*")).toEqual([
      { kind: "branch", name: "pr/cart", ref: "refs/heads/pr/cart", oid: oids["pr/cart"] },
      { kind: "branch", name: "pr/login", ref: "refs/heads/pr/login", oid: oids["pr/login"] },
    ]);
    expect((await repo.listRefs("pr/**")).map((p) => p.name)).toEqual(["pr/cart", "pr/deep/nested", "pr/login"]);
    expect((await repo.listRefs("*")).map((p) => p.name)).toEqual(["feature-x", "main"]);
    expect(await repo.listRefs("nothing/*")).toEqual([]);
  });

  it("sees branches packed by git pack-refs and deleted ones disappear", async () => {
    const { r } = await work();
    await r.git(["pack-refs", "--all", "--prune"]);
    await r.git(["branch", "--quiet", "-D", "pr/cart"]);
    const repo = await openRepository({ repo: r.dir, stateDir: r.dir });
    cleanups.push(() => repo.close());
    expect((await repo.listRefs("pr/*")).map((p) => p.name)).toEqual(["pr/login"]);
  });
});

describe("listRefs on a mirror", () => {
  it("lists the remote's branches by glob, never coxswain's own local refs", async () => {
    const { r, oids } = await work();
    const s = await server();
    await r.git(["push", "--quiet", s.server.url("app.git"), "--all"]);
    const { repo } = await mirror(s.server.url("app.git"), false);
    await repo.writer.commitFiles({ ref: "refs/heads/pr/ours", files: [{ path: "x", content: "x" }], message: "ours" });
    expect(await repo.listRefs("pr/*")).toEqual([
      { kind: "branch", name: "pr/cart", ref: "refs/remotes/origin/pr/cart", oid: oids["pr/cart"] },
      { kind: "branch", name: "pr/login", ref: "refs/remotes/origin/pr/login", oid: oids["pr/login"] },
    ]);
    expect((await repo.listRefs("*")).map((p) => p.name)).toEqual(["feature-x", "main"]);
  });

  it("mirrors pull and merge request heads: new ones arrive, moved ones follow, closed ones are pruned", async () => {
    const { r, oids } = await work();
    const s = await server();
    await r.push(s.server.url("app.git"), "main");
    // What GitHub/Gitea (refs/pull) and GitLab (refs/merge-requests) keep on the server for proposals.
    await r.git(["push", "--quiet", s.server.url("app.git"), `pr/login:refs/pull/12/head`, `pr/cart:refs/pull/3/head`, `feature-x:refs/merge-requests/7/head`]);
    // A test-merge ref GitHub also advertises; not a proposal head.
    await r.git(["push", "--quiet", s.server.url("app.git"), `pr/cart:refs/pull/3/merge`]);
    const { repo, state } = await mirror(s.server.url("app.git"), true);
    const pulls = await repo.listRefs("none", { pullRequests: true });
    expect(pulls).toEqual([
      { kind: "pull", name: "merge-requests/7", number: 7, ref: "refs/merge-requests/7/head", oid: oids["feature-x"] },
      { kind: "pull", name: "pull/3", number: 3, ref: "refs/pull/3/head", oid: oids["pr/cart"] },
      { kind: "pull", name: "pull/12", number: 12, ref: "refs/pull/12/head", oid: oids["pr/login"] },
    ]);
    // Their commits are readable: the proposal can be planned.
    expect((await repo.reader.listFiles(oids["pr/login"]!, "")).map((f) => f.path)).toContain("pr-login.yaml");

    // The author pushes again to PR 12; PR 3 is closed (its ref removed); PR 20 is opened.
    await r.git(["checkout", "--quiet", "pr/login"]);
    await r.write("pr-login.yaml", "b: again\n");
    const moved = await r.commit("login again");
    await r.git(["checkout", "--quiet", "main"]);
    await r.git(["push", "--quiet", "--force", s.server.url("app.git"), `${moved}:refs/pull/12/head`, `pr/deep/nested:refs/pull/20/head`]);
    await runGit(["--git-dir", s.bare, "update-ref", "-d", "refs/pull/3/head"]);
    await repo.refresh();
    expect((await repo.listRefs("none", { pullRequests: true })).map((p) => [p.name, p.oid])).toEqual([
      ["merge-requests/7", oids["feature-x"]],
      ["pull/12", moved],
      ["pull/20", oids["pr/deep/nested"]],
    ]);
    // Only heads were mirrored (no refs/pull/3/merge), and the remote's branches are where they were.
    const refs = (await runGit(["--git-dir", mirrorPath(state, s.server.url("app.git")), "for-each-ref", "--format=%(refname)"])).split("\n");
    expect(refs.filter((x) => /^refs\/(pull|merge-requests)\//.test(x))).toEqual(["refs/merge-requests/7/head", "refs/pull/12/head", "refs/pull/20/head"]);
    expect(await repo.head("main")).toBe(oids.main);
  });

  it("does not mirror pull request heads unless asked", async () => {
    const { r } = await work();
    const s = await server();
    await r.push(s.server.url("app.git"), "main");
    await r.git(["push", "--quiet", s.server.url("app.git"), `pr/login:refs/pull/1/head`]);
    const { repo } = await mirror(s.server.url("app.git"), false);
    await repo.refresh();
    expect(await repo.listRefs("*", { pullRequests: true })).toEqual([{ kind: "branch", name: "main", ref: "refs/remotes/origin/main", oid: expect.any(String) }]);
  });

  it("fetches only the new commits of a new pull request, not the whole history again", async () => {
    const { r } = await work();
    const s = await server();
    // Some history on main first.
    for (let i = 0; i < 30; i++) {
      await r.write(`big/${i}.yaml`, `${randomBytes(15_000).toString("base64")}\n`); // does not compress
      await r.commit(`history ${i}`);
    }
    await r.push(s.server.url("app.git"), "main");
    const { repo, state } = await mirror(s.server.url("app.git"), true);
    const packDir = join(mirrorPath(state, s.server.url("app.git")), "objects", "pack");
    const packBytes = async (): Promise<number> => {
      let total = 0;
      for (const f of await readdir(packDir)) total += (await stat(join(packDir, f))).size;
      return total;
    };
    const before = await packBytes();
    await r.git(["checkout", "--quiet", "-b", "small", "main"]);
    await r.write("small.yaml", "small: 1\n");
    const small = await r.commit("small change");
    await r.git(["push", "--quiet", s.server.url("app.git"), `small:refs/pull/99/head`]);
    await repo.refresh();
    expect((await repo.listRefs("none", { pullRequests: true })).map((p) => p.oid)).toEqual([small]);
    expect((await packBytes()) - before).toBeLessThan(20_000);
  });
});
