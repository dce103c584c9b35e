/**
 * validateDirectory: a plain directory on disk is checked exactly as a commit would be.
 */
import { mkdtempSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isCoxError } from "../../../operator/src/api/errors.js";
import { ManifestCache, listManifestFiles, validateDirectory } from "../../../operator/src/manifest/index.js";

let dir: string;

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), "coxswain-manifest-dir-"));
  const write = (rel: string, text: string): void => {
    mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    writeFileSync(path.join(dir, rel), text);
  };
  write("b/ns.yaml", "apiVersion: v1\nkind: Namespace\nmetadata: {name: b}\n");
  write("a/deeper/cm.yml", 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm, namespace: b}\ndata: {x: "1"}\n');
  write("a/bad.yaml", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: Bad_Name\n");
  write("notes.txt", "kind: Deployment\n");
  write(".git/config.yaml", "kind: Broken\n");
  write("z/.hidden/x.yaml", "kind: Broken\n");
  symlinkSync(path.join(dir, "b/ns.yaml"), path.join(dir, "link.yaml"));
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe("validateDirectory", () => {
  it("lists *.yaml and *.yml recursively, sorted, relative to the directory, without hidden entries; links are listed as links", async () => {
    expect(await listManifestFiles(dir)).toEqual([{ path: "a/bad.yaml" }, { path: "a/deeper/cm.yml" }, { path: "b/ns.yaml" }, { path: "link.yaml", symlink: true }]);
  });

  it("loads the manifests with file paths relative to the directory, and refuses the link as a commit would", async () => {
    const set = await validateDirectory(dir, { cache: new ManifestCache() });
    expect(set.objects.map((o) => [o.key, o.source.file])).toEqual([
      ["ConfigMap/b/cm", "a/deeper/cm.yml"],
      ["Namespace/b", "b/ns.yaml"],
    ]);
    expect(set.diagnostics.map((d) => [d.code, d.file, d.line, d.field])).toEqual([
      ["SchemaViolation", "a/bad.yaml", 4, "metadata.name"],
      ["SymlinkNotAllowed", "link.yaml", 1, ""],
    ]);
  });

  it("rejects a directory that does not exist with PathNotFound", async () => {
    const err = await validateDirectory(path.join(dir, "missing")).catch((e: unknown) => e);
    expect(isCoxError(err, "PathNotFound")).toBe(true);
  });

  it("rejects a path that is a file with PathNotFound", async () => {
    const err = await validateDirectory(path.join(dir, "notes.txt")).catch((e: unknown) => e);
    expect(isCoxError(err, "PathNotFound")).toBe(true);
  });
});
