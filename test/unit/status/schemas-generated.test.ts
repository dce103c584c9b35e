/**
 * The status records' validators that `npm run gen` wrote (status/generated/validators.ts, ajv standalone
 * code) against a fresh compile of the same schemas (status/schema-compile.ts, what the generator runs):
 * every record file of the status fixtures, rendered and malformed, must pass or fail alike with the same
 * first error (keyword, path, params, message). `npm run gen -- --check` (CI) compares the code byte for
 * byte; this shows that the code behaves as the compile does, the date-time format (loaded from
 * ajv-formats by the generated code) included.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { RECORD_VALIDATORS } from "../../../operator/src/status/generated/validators.js";
import { compileRecordValidators } from "../../../operator/src/status/schema-compile.js";
import { statusFileKind } from "../../../operator/src/status/schemas.js";

const FIXTURES = fileURLToPath(new URL("../../fixtures/status/", import.meta.url));

function filesUnder(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((name) => {
      const p = join(dir, name);
      return statSync(p).isDirectory() ? filesUnder(p) : [p];
    });
}

describe("generated status record validators", () => {
  it("give the verdicts and first errors of a fresh compile for every status fixture file", () => {
    const compiled = compileRecordValidators();
    expect([...compiled.keys()].sort()).toEqual(Object.keys(RECORD_VALIDATORS).sort());
    let checked = 0;
    const keywords = new Set<string>();
    for (const file of filesUnder(FIXTURES)) {
      // A record's path on the status branch is what follows the case's folder (invalid/<case>/…, render/<case>/expected/…).
      const rel = relative(FIXTURES, file).split("\\").join("/");
      const path = rel.replace(/^invalid\/[^/]+\//, "").replace(/^render\/[^/]+\/expected\//, "");
      const kind = statusFileKind(path);
      if (!kind) continue;
      let doc: unknown;
      try {
        doc = parse(readFileSync(file, "utf8"), { maxAliasCount: 20 });
      } catch {
        continue; // not YAML: schemas.ts refuses it before any schema
      }
      if (!doc || typeof doc !== "object" || Array.isArray(doc)) continue;
      const compile = compiled.get(kind)!;
      const validate = RECORD_VALIDATORS[kind];
      expect(validate(structuredClone(doc)), rel).toBe(compile(structuredClone(doc)));
      expect(validate.errors ?? null, rel).toEqual(compile.errors ?? null);
      for (const e of compile.errors ?? []) keywords.add(e.keyword);
      checked++;
    }
    expect(checked).toBeGreaterThan(20);
    for (const k of ["required", "type", "format"]) expect(keywords, k).toContain(k);
  });
});
