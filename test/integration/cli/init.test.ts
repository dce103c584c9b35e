/**
 * `coxswain init` as users run it (a real child process, real git): the scaffold validates with no error and
 * no warning, DIR becomes a repository with one commit, a DIR inside a work tree gets the files and no commit,
 * and a non-empty DIR is refused (InvalidArgument, exit 2) with nothing written. `--version` prints the
 * package's version.
 */
import { readFileSync } from "node:fs";
import { mkdir, readdir, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { initCommand } from "../../../operator/src/cli/init.js";
import { ROOT, runCli as cli } from "../../support/cli.js";
import { coxErrorOf } from "../../support/errors.js";
import { makeRepo, runGit, tempDir } from "../../support/git-repo.js";

describe("coxswain init", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await tempDir("coxswain-init-");
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("scaffolds a repository with one commit that coxswain validate accepts without a diagnostic, and prints the run line", async () => {
    const repo = path.join(dir, "fleet");
    const r = await cli(["init", repo, "--node-name", "edge-1"], ROOT, { DOCKER_HOST: "unix:///run/test-docker.sock" });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split("\n").at(-1)).toBe(`next: coxswain run --repo ${repo}`);
    expect((await runGit(["ls-files"], { cwd: repo })).trim().split("\n")).toEqual(["README.md", "apps/hello/deployment.yaml", "apps/hello/namespace.yaml", "apps/hello/service.yaml", "nodes/edge-1.yaml"]);
    expect((await runGit(["rev-list", "--count", "main"], { cwd: repo })).trim()).toBe("1");
    expect(await runGit(["status", "--porcelain"], { cwd: repo })).toBe("");
    expect(readFileSync(path.join(repo, "nodes/edge-1.yaml"), "utf8")).toContain("endpoint: unix:///run/test-docker.sock");

    const v = await cli(["validate", repo, "--strict"]);
    expect(v.stdout).toBe("4 objects in 4 files: valid\n"); // Node, Namespace, Deployment, Service
    expect(v.code).toBe(0);
  });

  it("refuses a non-empty directory with InvalidArgument (exit 2) and writes nothing", async () => {
    const first = await cli(["init", dir, "--node-name", "edge-1"]);
    expect(first.code).toBe(0);
    const before = (await readdir(dir, { recursive: true })).sort();
    const again = await cli(["init", dir, "--node-name", "edge-1"]);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/^error InvalidArgument: /);
    expect((await readdir(dir, { recursive: true })).sort()).toEqual(before);

    const other = path.join(dir, "other");
    await mkdir(other);
    await writeFile(path.join(other, "notes.txt"), "mine\n");
    expect((await coxErrorOf(initCommand([other], () => undefined))).code).toBe("InvalidArgument");
    expect(await readdir(other)).toEqual(["notes.txt"]);
  });

  it("inside an existing work tree writes the files, commits nothing and prints the run line with --path", async () => {
    const repo = await makeRepo(dir);
    await repo.write("README.md", "an existing repository\n");
    const head = (await repo.commit("first")).trim();
    const r = await cli(["init", path.join(repo.dir, "deploy"), "--node-name", "edge-1"]);
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split("\n").at(-1)).toBe(`next: coxswain run --repo ${repo.dir} --path deploy`);
    expect((await runGit(["rev-parse", "HEAD"], { cwd: repo.dir })).trim()).toBe(head);
    expect(await runGit(["status", "--porcelain", "--untracked-files=all"], { cwd: repo.dir })).toContain("?? deploy/nodes/edge-1.yaml");
  });

  it("refuses a node name that is not a DNS label", async () => {
    expect((await coxErrorOf(initCommand([path.join(dir, "x"), "--node-name", "Edge_1"], () => undefined))).code).toBe("InvalidArgument");
  });

  it("--version prints the package's version", async () => {
    const r = await cli(["--version"]);
    expect(r.stdout).toBe(`${JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")).version}\n`);
    expect(r.code).toBe(0);
  });
});
