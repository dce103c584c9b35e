/**
 * One reading for both sides: the same tree read as a Git commit (loadCommit, what the operator and
 * `coxswain plan` do) and as a directory on disk (validateDirectory, what `coxswain validate` does) gives
 * the same diagnostics and objects — decoding, symbolic links, limits and checks alike. And a file over the
 * size limit in a commit is never parsed.
 */
import { mkdir, rm, symlink, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ManifestCache, validateDirectory, type ManifestLimits } from "../../../operator/src/manifest/index.js";
import { openRepository } from "../../../operator/src/source/index.js";
import type { Repository } from "../../../operator/src/source/types.js";
import { loadCommit } from "../../../operator/src/sync/load.js";
import { makeRepo, tempDir, type TestRepo } from "../../support/git-repo.js";
import { configMapYaml, deploymentYaml } from "../../support/manifests.js";

let work: TestRepo;
let state: string;
let repo: Repository;
let commit: string;

const LIMITS: Partial<ManifestLimits> = { maxFileBytes: 2048, maxDocumentsPerFile: 3, maxTotalBytes: 64 * 1024 };

beforeAll(async () => {
  work = await makeRepo();
  state = await tempDir("coxswain-state-");
  const put = async (rel: string, content: string | Buffer): Promise<void> => {
    await mkdir(path.dirname(path.join(work.dir, rel)), { recursive: true });
    await writeFile(path.join(work.dir, rel), content);
  };
  await put("apps/web.yaml", deploymentYaml({ name: "web", replicas: 2 }));
  await put("apps/config.yaml", configMapYaml("web-config", { A: "1" }));
  await put("apps/latin1.yaml", Buffer.from(configMapYaml("latin1", { city: "Zürich" }), "latin1"));
  await put("apps/bom.yaml", `\uFEFF${configMapYaml("bom", { k: "v" })}`);
  await put("apps/many.yaml", ["a", "b", "c", "d"].map((n) => configMapYaml(`many-${n}`, { k: "v" })).join("---\n"));
  await put("apps/big.yaml", `kind: [broken\n# ${"x".repeat(4000)}\n`);
  await put("apps/dup.yaml", configMapYaml("web-config", { A: "2" }));
  await put("apps/README.md", "not a manifest\n");
  await put(".github/workflows/ci.yml", "on: push\n");
  await put("shared/common.yaml", configMapYaml("common", { k: "v" }));
  await symlink("../shared/common.yaml", path.join(work.dir, "apps/common.yaml"));
  await symlink("../shared", path.join(work.dir, "apps/shared"));
  await symlink("README.md", path.join(work.dir, "apps/NOTES.md"));
  commit = await work.commit("a tree with every kind of trouble");
  repo = await openRepository({ repo: work.dir, stateDir: state });
});

afterAll(async () => {
  await repo?.close();
  await work?.cleanup();
  if (state) await rm(state, { recursive: true, force: true });
});

describe("a commit and the same tree on disk", () => {
  it("give the same diagnostics and objects, with paths relative to the manifest directory", async () => {
    const fromGit = await loadCommit(repo, commit, "apps", { limits: LIMITS, cache: new ManifestCache() });
    const fromDisk = await validateDirectory(path.join(work.dir, "apps"), { limits: LIMITS, cache: new ManifestCache() });
    const relative = (t: string): string => t.replace(/\bapps\//g, "");
    const gitView = fromGit.diagnostics.map((d) => ({ ...d, file: relative(d.file), message: relative(d.message) }));
    expect(gitView).toEqual(fromDisk.diagnostics);
    expect(fromDisk.diagnostics.map((d) => [d.code, d.file, d.line, d.col])).toEqual(
      [
        ["FileTooLarge", "big.yaml", 1, 1],
        ["SymlinkNotAllowed", "common.yaml", 1, 1],
        ["DuplicateObject", "dup.yaml", 4, 9],
        ["YamlSyntax", "latin1.yaml", 6, 11],
        ["TooManyDocuments", "many.yaml", 22, 1],
        ["SymlinkNotAllowed", "NOTES.md", 1, 1],
        ["SymlinkNotAllowed", "shared", 1, 1],
      ].sort((a, b) => (String(a[1]) < String(b[1]) ? -1 : 1)),
    );
    expect(fromGit.graph).toBeUndefined();
    expect(fromDisk.objects.map((o) => o.key)).toEqual(["ConfigMap/default/bom", "ConfigMap/default/web-config", "Deployment/default/web"]);
  });

  it("read the whole repository alike too (hidden folders skipped on both sides)", async () => {
    const fromGit = await loadCommit(repo, commit, "", { limits: LIMITS, cache: null });
    const fromDisk = await validateDirectory(work.dir, { limits: LIMITS, cache: null });
    expect(fromGit.diagnostics).toEqual(fromDisk.diagnostics);
    expect(fromDisk.diagnostics.some((d) => d.file.startsWith(".github"))).toBe(false);
  });

  it("never parses a file over the size limit in a commit, and parses every other file once", async () => {
    const cache = new ManifestCache();
    const loaded = await loadCommit(repo, commit, "apps", { limits: LIMITS, cache });
    // big.yaml is invalid YAML: had it been parsed there would be a YamlSyntax error for it.
    expect(loaded.diagnostics.filter((d) => d.file === "apps/big.yaml").map((d) => d.code)).toEqual(["FileTooLarge"]);
    // web, config, latin1, bom, many, dup: six files parsed; big.yaml and the links are not.
    expect(cache.stats.parses).toBe(6);
    await loadCommit(repo, commit, "apps", { limits: LIMITS, cache });
    expect(cache.stats.parses).toBe(6);
  });
});
