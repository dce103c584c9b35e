/**
 * The validators that `npm run gen` wrote (manifest/generated/validators.ts, ajv standalone code) against a
 * fresh compile of crds/ (manifest/schema-compile.ts, what the generator runs): every document of the
 * manifest fixtures, valid and invalid, must give the same errors from both (keyword, paths, params,
 * message, schema and parent schema, which schema.ts reads the supported fields and unsupported reasons
 * from) and the same data after the defaults are filled in. `npm run gen -- --check` (CI) compares the code
 * byte for byte; this shows that the code behaves as the compile does, the x-coxswain-unsupported keyword
 * (code in the generated module, not a function) included.
 */
import { describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { KINDS, type Kind } from "../../../operator/src/api/objects.js";
import { VALIDATORS } from "../../../operator/src/manifest/generated/validators.js";
import { compileValidators } from "../../../operator/src/manifest/schema-compile.js";
import { discoverCases } from "./fixture-files.js";

/** Every mapping document of a known kind in the committed fixture cases. */
function fixtureDocuments(): { where: string; kind: Kind; doc: Record<string, unknown> }[] {
  const out: { where: string; kind: Kind; doc: Record<string, unknown> }[] = [];
  for (const c of [...discoverCases("valid"), ...discoverCases("invalid")]) {
    for (const f of c.files) {
      const text = typeof f.content === "string" ? f.content : new TextDecoder().decode(f.content);
      let docs: unknown[];
      try {
        docs = parseAllDocuments(text, { logLevel: "error" }).flatMap((d) => ("errors" in d && d.errors.length === 0 ? [d.toJS({ maxAliasCount: 100 })] : []));
      } catch {
        continue; // not YAML (a fixture of bad input): nothing reaches the schema
      }
      for (const doc of docs) {
        if (!doc || typeof doc !== "object" || Array.isArray(doc)) continue;
        const kind = (doc as { kind?: unknown }).kind;
        if (typeof kind === "string" && Object.hasOwn(KINDS, kind)) out.push({ where: `${c.name}/${f.path}`, kind: kind as Kind, doc: doc as Record<string, unknown> });
      }
    }
  }
  return out;
}

describe("generated schema validators", () => {
  it("compile from crds/ in ajv strict mode, one per kind", () => {
    expect([...compileValidators().keys()].sort()).toEqual(Object.keys(KINDS).sort());
    expect(Object.keys(VALIDATORS).sort()).toEqual(Object.keys(KINDS).sort());
  });

  it("give the errors and defaults of a fresh compile for every fixture document", () => {
    const compiled = compileValidators();
    const docs = fixtureDocuments();
    const keywords = new Set<string>();
    for (const { where, kind, doc } of docs) {
      const fresh = structuredClone(doc);
      const generated = structuredClone(doc);
      const compile = compiled.get(kind)!;
      const validate = VALIDATORS[kind];
      const ok = compile(fresh);
      expect(validate(generated), where).toBe(ok);
      expect(validate.errors ?? null, where).toEqual(compile.errors ?? null);
      expect(generated, where).toEqual(fresh);
      for (const e of compile.errors ?? []) keywords.add(e.keyword);
    }
    // The sample reaches what schema.ts turns into issues: not a handful of valid documents.
    expect(docs.length).toBeGreaterThan(200);
    for (const k of ["additionalProperties", "required", "x-coxswain-unsupported", "type", "pattern", "enum", "anyOf"]) expect(keywords, k).toContain(k);
  });
});
