/**
 * Test support: discovers the manifest fixture cases under test/fixtures/manifests/{valid,invalid}/<case>/
 * and reads their files the way the source stage hands them over (repository-relative paths, bytes). A
 * case too large to commit is generated at run time instead (`generated: true`, GENERATORS).
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
  /** The committed files; empty for a generated case (see generate). */
  files: ManifestFile[];
  expected: Record<string, unknown> | undefined;
  /**
   * For a case whose expectation file says `generated: true` (too large to commit: 20,000 files, a 64 MiB
   * file): makes its files at run time, the long form when COXSWAIN_LONG=1. Named by the case folder.
   */
  generate?: () => ManifestFile[];
}

/** True when the long forms of the generated cases are asked for (COXSWAIN_LONG=1). */
export const LONG = process.env.COXSWAIN_LONG === "1";

/** A ConfigMap in n lines of YAML (6 with data), named `name`. */
function configMap(name: string, data = "  k: v\n"): string {
  return `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\ndata:\n${data}`;
}

/** Bytes of `size` filled with the repeated line `line` (a comment, so that only the size matters). */
function filled(size: number, line: string): Uint8Array {
  return new Uint8Array(Buffer.alloc(size, line));
}

/** A comment line of 1 KiB: padding that only takes room (reading it is cheap, unlike a million short lines). */
const PADDING = `#${"x".repeat(1022)}\n`;

/**
 * The generators of the generated cases, by case folder name. Each case's expected.yaml states what the
 * files give (codes, files and lines); the sizes are chosen so that the expected lines do not depend on
 * the form (short or long) except where a case says so.
 */
const GENERATORS: Record<string, () => ManifestFile[]> = {
  // 20,000 files in one commit (100,000 in the long form), one of them wrong at its line 6.
  "generated-20000-files": () => {
    const n = LONG ? 100_000 : 20_000;
    return Array.from({ length: n }, (_, i) => {
      const name = `cm-${String(i).padStart(6, "0")}`;
      // One line each (the reading, not the YAML, is what is measured); the wrong one in six lines.
      const content = i === 12_345 ? configMap(name, "  count: 3\n") : `{apiVersion: v1, kind: ConfigMap, metadata: {name: ${name}}, data: {k: v}}\n`;
      return { path: `many/${name}.yaml`, content };
    });
  },
  // One file of 64 MiB (1 GiB in the long form), 16 (256) times the per-file limit; never parsed.
  "generated-huge-file": () => [
    { path: "huge.yaml", content: filled(LONG ? 2 ** 30 : 64 * 2 ** 20, PADDING) },
    { path: "small.yaml", content: configMap("small") },
  ],
  // 60,000 documents in one file of 3.6 MiB, under the size limit: refused at document 1,001, the rest unparsed.
  "generated-huge-document-count": () => {
    const docs = Array.from({ length: 60_000 }, (_, i) => `{apiVersion: v1, kind: ConfigMap, metadata: {name: c${i}}}\n`);
    return [{ path: "docs.yaml", content: docs.join("---\n") }];
  },
  // Five files of 3.9 MiB (under the per-file limit, together over the 16 MiB of one commit).
  "generated-manifests-too-large": () => Array.from({ length: 5 }, (_, i) => ({ path: `part-${i}.yaml`, content: filled(Math.floor(3.9 * 2 ** 20), PADDING) })),
  // Flow lists nested 20,000 deep (1,000,000 in the long form) on line 6 of a ConfigMap, from column 6.
  "generated-deep-nesting": () => {
    const depth = LONG ? 1_000_000 : 20_000;
    return [{ path: "deep.yaml", content: configMap("deep", `  a: ${"[".repeat(depth)}${"]".repeat(depth)}\n`) }];
  },
};

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
      if (expected?.generated === true) {
        const generate = GENERATORS[name];
        if (!generate) throw new Error(`${name}: generated, but there is no generator of that name in fixture-files.ts`);
        return { name, dir, files: [], expected, generate };
      }
      return { name, dir, files: readCaseFiles(dir), expected };
    });
}
