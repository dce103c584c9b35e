/**
 * Table-driven fixture tests: every folder under test/fixtures/manifests/valid must load with no
 * diagnostics but the `warnings` its expected-objects.yaml lists ({code, file, line, field, col?}: what
 * is ignored, for manifests as kubectl writes them) and match its `objects` when present; with --strict
 * each of those warnings must be an error (and nothing else change). Every folder under .../invalid must produce
 * exactly the diagnostics listed in its expected.yaml ({code, file, line, field, severity?, col?}; no message
 * text), read with the `limits` it names (ManifestLimits fields; the defaults otherwise). A case whose
 * expectation file says `graph: true` is judged as a commit is: its diagnostics include buildGraph's (the
 * rules across objects), and a valid one must have none there either.
 */
import { describe, expect, it } from "vitest";
import { buildGraph } from "../../../operator/src/graph/index.js";
import { ManifestCache, compareDiagnostics, loadManifests, parseFieldPath, type ManifestFile, type ManifestLimits, type ManifestSet } from "../../../operator/src/manifest/index.js";
import { getAtPath } from "../../../operator/src/manifest/paths.js";
import { discoverCases } from "./fixture-files.js";

const valid = discoverCases("valid");
// Generated cases (20,000 files, a 64 MiB file) are judged in test/integration/operator/bad-input.test.ts,
// by the CLI and the operator, and not generated again here.
const invalid = discoverCases("invalid").filter((c) => !c.generate);

interface ExpectedObject {
  key: string;
  object?: unknown;
  fields?: Record<string, unknown>;
}

interface ExpectedDiagnostic {
  code: string;
  file: string;
  line: number;
  field: string;
  severity?: "error" | "warning";
  col?: number;
}

function load(files: ManifestFile[], limits?: Partial<ManifestLimits>, graph = false, strict = false): ManifestSet {
  const set = loadManifests(files, { cache: new ManifestCache(), ...(limits ? { limits } : {}), ...(strict ? { strict } : {}) });
  if (!graph) return set;
  return { ...set, diagnostics: [...set.diagnostics, ...buildGraph(set.objects).diagnostics].sort(compareDiagnostics) };
}

function text(files: ManifestFile[], p: string): string {
  const f = files.find((x) => x.path === p);
  if (!f) throw new Error(`no file ${p}`);
  return typeof f.content === "string" ? f.content : new TextDecoder().decode(f.content);
}

describe("valid manifests", () => {
  it("has fixture cases to run", () => {
    expect(valid.length).toBeGreaterThan(0);
  });

  for (const c of valid) {
    const title = (c.expected?.description as string | undefined) ?? `loads the ${c.name.replace(/-/g, " ")} manifests without diagnostics`;
    const warnings = (c.expected?.warnings as ExpectedDiagnostic[] | undefined) ?? [];
    it(`${title} [${c.name}]`, () => {
      const set = load(c.files, undefined, c.expected?.graph === true);
      expect(set.diagnostics.map((d, i) => ({ code: d.code, file: d.file, line: d.line, field: d.field, ...(warnings[i]?.col !== undefined ? { col: d.col } : {}) }))).toEqual(warnings);
      for (const d of set.diagnostics) {
        expect(d.severity, `${d.file}:${d.line} ${d.field}`).toBe("warning");
        expect(d.message.length).toBeGreaterThan(0);
      }
      expect(set.objects.length).toBeGreaterThan(0);

      // Every object's metadata.name points at the line that declares it.
      for (const o of set.objects) {
        const pos = o.locate(["metadata", "name"]);
        expect(pos.file).toBe(o.source.file);
        const line = text(c.files, pos.file).split("\n")[pos.line - 1] ?? "";
        expect(line).toContain(o.object.metadata.name);
      }

      const expectedObjects = c.expected?.objects as ExpectedObject[] | undefined;
      if (!expectedObjects) return;
      expect(set.objects.map((o) => o.key)).toEqual(expectedObjects.map((e) => e.key).sort());
      for (const e of expectedObjects) {
        const got = set.objects.find((o) => o.key === e.key)!;
        if (e.object !== undefined) expect(got.object).toEqual(e.object);
        for (const [field, want] of Object.entries(e.fields ?? {})) {
          const value = getAtPath(got.object, parseFieldPath(field));
          if (want === null) expect(value ?? null, field).toBeNull();
          else expect(value, field).toEqual(want);
        }
      }
    });
  }
});

describe("valid manifests with warnings, read with --strict", () => {
  const warned = valid.filter((c) => Array.isArray(c.expected?.warnings));
  it("has such cases", () => {
    expect(warned.length).toBeGreaterThan(0);
  });
  for (const c of warned) {
    it(`turns every warning into an error, and keeps the objects for the checks across them [${c.name}]`, () => {
      const lax = load(c.files, undefined, c.expected?.graph === true);
      const strict = load(c.files, undefined, c.expected?.graph === true, true);
      expect(strict.diagnostics.map((d) => [d.severity, d.code, d.file, d.line, d.field])).toEqual(lax.diagnostics.map((d) => ["error", d.code, d.file, d.line, d.field]));
      expect(strict.objects.map((o) => o.key)).toEqual(lax.objects.map((o) => o.key));
    });
  }
});

describe("invalid manifests", () => {
  it("has fixture cases to run, each with an expected.yaml", () => {
    expect(invalid.length).toBeGreaterThan(0);
    for (const c of invalid) expect(c.expected, c.name).toBeDefined();
  });

  for (const c of invalid) {
    const title = (c.expected?.description as string | undefined) ?? c.name;
    it(`${title} [${c.name}]`, () => {
      const set = load(c.files, c.expected?.limits as Partial<ManifestLimits> | undefined, c.expected?.graph === true);
      const expected = c.expected?.diagnostics as ExpectedDiagnostic[];
      const want = expected.map((d) => ({ ...d, severity: d.severity ?? "error" }));
      const got = set.diagnostics.map((d, i) => ({ code: d.code, file: d.file, line: d.line, field: d.field, severity: d.severity, ...(expected[i]?.col !== undefined ? { col: d.col } : {}) }));
      expect(got).toEqual(want);
      for (const d of set.diagnostics) expect(d.message.length, `${d.file}:${d.line} ${d.field}`).toBeGreaterThan(0);
      const objects = c.expected?.objects as string[] | undefined;
      if (objects) expect(set.objects.map((o) => o.key)).toEqual(objects);
    });
  }

  it("covers every manifest error code that the loader produces (warnings in the valid cases)", () => {
    const codes = new Set([...invalid, ...valid].flatMap((c) => load(c.files, c.expected?.limits as Partial<ManifestLimits> | undefined).diagnostics.map((d) => d.code)));
    for (const code of [
      "YamlSyntax",
      "InvalidDocument",
      "UnknownKind",
      "IgnoredKind",
      "UnsupportedApiVersion",
      "SchemaViolation",
      "InvalidField",
      "DuplicateObject",
      "SymlinkNotAllowed",
      "FileTooLarge",
      "TooManyDocuments",
      "ManifestsTooLarge",
      "PolicyDenied",
    ]) {
      expect(codes.has(code as never), code).toBe(true);
    }
  });
});
