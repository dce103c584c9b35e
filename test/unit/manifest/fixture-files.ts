/**
 * Test support: discovers the manifest fixture cases under test/fixtures/manifests/{valid,invalid}/<case>/
 * and reads their files the way the source stage hands them over (repository-relative paths, bytes).
 */
import { readFileSync, readdirSync, readlinkSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import YAML from "yaml";
import type { ManifestFile } from "../../../operator/src/manifest/index.js";

/** Root of the manifest fixtures. */
const FIXTURES = fileURLToPath(new URL("../../fixtures/manifests/", import.meta.url));

/** The expectation files of a case; they sit at the top of the case folder and are not manifests under test. */
const EXPECTATION_FILES = new Set(["expected.yaml", "expected-objects.yaml"]);

/** One fixture case: its folder name, its files and its parsed expectation file (if any). */
export interface FixtureCase {
  name: string;
  dir: string;
  files: ManifestFile[];
  expected: Record<string, unknown> | undefined;
}

/**
 * Every file of a case folder, recursively (hidden ones included: the loader must skip them), sorted by
 * path. A symbolic link is handed over as Git holds it: marked, with the path it points to as content.
 */
function readCaseFiles(dir: string, rel = ""): ManifestFile[] {
  const out: ManifestFile[] = [];
  for (const e of readdirSync(path.join(dir, rel), { withFileTypes: true })) {
    const p = rel === "" ? e.name : `${rel}/${e.name}`;
    if (e.isSymbolicLink()) out.push({ path: p, content: readlinkSync(path.join(dir, p)), symlink: true });
    else if (e.isDirectory()) out.push(...readCaseFiles(dir, p));
    else if (!(rel === "" && EXPECTATION_FILES.has(e.name))) out.push({ path: p, content: new Uint8Array(readFileSync(path.join(dir, p))) });
  }
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** The cases of "valid" or "invalid", sorted by name. */
export function discoverCases(group: "valid" | "invalid"): FixtureCase[] {
  const base = path.join(FIXTURES, group);
  const expectationFile = group === "valid" ? "expected-objects.yaml" : "expected.yaml";
  return readdirSync(base, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort()
    .map((name) => {
      const dir = path.join(base, name);
      let expected: Record<string, unknown> | undefined;
      try {
        expected = YAML.parse(readFileSync(path.join(dir, expectationFile), "utf8")) as Record<string, unknown>;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
      }
      return { name, dir, files: readCaseFiles(dir), expected };
    });
}
