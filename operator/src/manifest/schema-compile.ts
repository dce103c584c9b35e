/**
 * Compiles every kind's validator from the CRDs in crds/ (plus coxswain's schema for `metadata`) with ajv 8,
 * and writes them out as standalone code: `npm run gen` (operator/scripts/gen-validators.ts) puts that code
 * in generated/validators.ts, which schema.ts runs. No process or parse worker compiles a schema at run
 * time: compiling every kind took ~0.7 s on an idle 2-core machine (more under load) and left ~53 MiB more RSS in
 * a fresh process, paid by the operator and again by each parse worker thread (see schema.ts for the figures).
 *
 * - ajv runs in strict mode so that a typo in a schema fails loudly. Kubernetes' x-kubernetes-* keywords are
 *   registered: int-or-string expands to anyOf number|string (numbers, not only integers, because quantities
 *   such as `cpu: 0.5` are YAML numbers; Kubernetes accepts them), the others are annotations.
 *   strictTypes is off for one reason: a `pattern` next to int-or-string must apply to strings only, which is
 *   exactly JSON Schema's rule for type-specific keywords, but strictTypes demands a `type: string` there.
 * - Objects that do not say otherwise get additionalProperties: false, because Kubernetes prunes unknown
 *   fields and coxswain reports them instead of ignoring them.
 * - useDefaults fills the schema defaults (replicas 1, probe periodSeconds 10, …) into the data.
 * - verbose: errors carry their schema and parent schema (schema.ts lists the supported fields of an object
 *   and reads the reason of an x-coxswain-unsupported field from them); the standalone code holds those
 *   schemas as literals.
 * - Titled sub-schemas are compiled once, as schemas of their own that the kinds $ref (a title names one shape
 *   in every CRD: npm run gen fails otherwise), so that Deployment and Rollout share one pod template.
 */
import { Ajv, type ValidateFunction } from "ajv";
import standaloneCodeModule from "ajv/dist/standalone/index.js";
import addFormatsModule from "ajv-formats";
import { KINDS, type Kind } from "../api/objects.js";
import { readCrdSchema, resolveCrdDir, type JsonSchema } from "./crds.js";
import { DNS1123_LABEL, DNS1123_SUBDOMAIN, LABEL_VALUE, QUALIFIED_NAME, UNSUPPORTED_KEYWORD } from "./schema-defs.js";

/** coxswain's schema for metadata (the CRDs only say `metadata: {type: object}`). */
const METADATA_SCHEMA: JsonSchema = {
  type: "object",
  additionalProperties: false,
  required: ["name"],
  properties: {
    name: { type: "string", minLength: 1, maxLength: 253, pattern: DNS1123_SUBDOMAIN },
    namespace: { type: "string", minLength: 1, maxLength: 63, pattern: DNS1123_LABEL },
    labels: {
      type: "object",
      propertyNames: { pattern: QUALIFIED_NAME },
      additionalProperties: { type: "string", maxLength: 63, pattern: LABEL_VALUE },
    },
    annotations: {
      type: "object",
      propertyNames: { pattern: QUALIFIED_NAME },
      additionalProperties: { type: "string" },
    },
  },
};

// ajv's standalone module and ajv-formats are CommonJS; under NodeNext their default exports arrive as the
// module objects.
const standaloneCode = ((standaloneCodeModule as unknown as { default?: unknown }).default ?? standaloneCodeModule) as (ajv: Ajv, refs: Record<string, string>) => string;
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (x: Ajv) => Ajv;

/** An ajv instance with coxswain's options and keywords (see the file comment), keeping the code it generates. */
function newAjv(): Ajv {
  // code.esm: the generated module exports with `export`; code.lines: one statement a line, so that a change
  // of crds/ shows as a readable diff. ajv-formats sets code.formats to its own module.
  const a = new Ajv({ strict: true, strictTypes: false, allErrors: true, useDefaults: true, verbose: true, code: { source: true, esm: true, lines: true } });
  addFormats(a);
  a.addKeyword({
    keyword: "x-kubernetes-int-or-string",
    metaSchema: { type: "boolean" },
    macro: (on: boolean) => (on ? { anyOf: [{ type: "number" }, { type: "string" }] } : true),
  });
  a.addKeyword({
    keyword: UNSUPPORTED_KEYWORD,
    metaSchema: { type: "string", minLength: 1 },
    // Present only on properties: reached only when the field is used, which is always an error. Code, not a
    // `validate` function: standalone code cannot hold a function; the error keeps keyword and schema (the why).
    code: (cxt) => cxt.fail(),
  });
  for (const keyword of ["x-kubernetes-preserve-unknown-fields", "x-kubernetes-embedded-resource", "x-kubernetes-list-type", "x-kubernetes-list-map-keys", "x-kubernetes-map-type"]) {
    a.addKeyword({ keyword });
  }
  return a;
}

function isPlainObject(v: unknown): v is JsonSchema {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

/**
 * Rewrites a CRD schema for ajv: closes objects that say nothing about unknown fields (Kubernetes prunes
 * them; coxswain reports them). Every titled sub-schema is handed to `share` and replaced by what it
 * returns (a $ref).
 */
function toAjvSchema(schema: JsonSchema, isRoot: boolean, share: (title: string, convert: () => JsonSchema) => JsonSchema): JsonSchema {
  if (!isRoot && typeof schema.title === "string") {
    // A default stays where the schema is used: ajv fills defaults from the parent's properties.
    const { default: dflt, ...rest } = schema;
    const ref = share(schema.title, () => toAjvSchema(rest, true, share));
    return dflt === undefined ? ref : { ...ref, default: dflt };
  }
  const out: JsonSchema = { ...schema };
  if (out.type === "object" && out.additionalProperties === undefined && out["x-kubernetes-preserve-unknown-fields"] !== true) {
    out.additionalProperties = false;
  }
  if (isPlainObject(out.properties)) {
    const props: JsonSchema = {};
    for (const [name, sub] of Object.entries(out.properties)) props[name] = isPlainObject(sub) ? toAjvSchema(sub, false, share) : sub;
    out.properties = props;
  }
  if (isPlainObject(out.items)) out.items = toAjvSchema(out.items, false, share);
  if (isPlainObject(out.additionalProperties)) out.additionalProperties = toAjvSchema(out.additionalProperties, false, share);
  for (const k of ["anyOf", "oneOf", "allOf"]) {
    if (Array.isArray(out[k])) out[k] = (out[k] as unknown[]).map((s) => (isPlainObject(s) ? toAjvSchema(s, false, share) : s));
  }
  return out;
}

/** The $id under which a titled sub-schema is registered with ajv (one per title). */
const sharedId = (title: string): string => `https://coxswain.io/schemas/shared/${encodeURIComponent(title)}`;
/** The $id under which a kind's schema is registered with ajv. */
const kindId = (kind: Kind): string => `https://coxswain.io/schemas/kinds/${kind}`;

/**
 * An ajv instance holding every kind's schema (registered as kindId, in the order of the sorted kind names)
 * and the shared sub-schemas they $ref. Nothing is compiled yet.
 */
function registerSchemas(crdDir: string): Ajv {
  const a = newAjv();
  const registered = new Set<string>();
  const share = (title: string, convert: () => JsonSchema): JsonSchema => {
    const id = sharedId(title);
    if (!registered.has(id)) {
      registered.add(id);
      a.addSchema({ ...convert(), $id: id });
    }
    return { $ref: id };
  };
  for (const kind of (Object.keys(KINDS) as Kind[]).sort()) {
    const root = toAjvSchema(readCrdSchema(kind, crdDir), true, share);
    root.properties = { ...(root.properties as JsonSchema), metadata: METADATA_SCHEMA };
    a.addSchema(root, kindId(kind));
  }
  return a;
}

/**
 * Every kind's validator compiled now from the CRDs in `crdDir` (default: the crds/ that ships with this
 * copy): what the generated module holds, for tests that compare the two.
 */
export function compileValidators(crdDir: string = resolveCrdDir()): Map<Kind, ValidateFunction> {
  const a = registerSchemas(crdDir);
  return new Map((Object.keys(KINDS) as Kind[]).sort().map((kind) => [kind, a.getSchema(kindId(kind))!]));
}

/**
 * The TypeScript source of the generated validators module (generated/validators.ts): ajv's standalone ES
 * module code of every kind's validator, exported by kind name and as VALIDATORS. The same bytes for the same
 * crds/ and ajv.
 */
export function validatorsModule(crdDir: string = resolveCrdDir()): string {
  const a = registerSchemas(crdDir);
  const kinds = (Object.keys(KINDS) as Kind[]).sort();
  const code = standaloneCode(a, Object.fromEntries(kinds.map((kind) => [kind, kindId(kind)])));
  return (
    "/* GENERATED by `npm run gen` from crds/ (operator/src/manifest/schema-compile.ts): ajv's standalone code of every kind's validator. Do not edit: change the schemas and regenerate. */\n" +
    "// @ts-nocheck: ajv writes untyped JavaScript; VALIDATORS below gives it its type.\n" +
    'import { createRequire } from "node:module";\n' +
    'import type { ValidateFunction } from "ajv";\n' +
    'import type { Kind } from "../../api/objects.js";\n' +
    // ajv's ES module output still loads its run-time helpers and ajv-formats' formats with require()
    // (ajv-validator/ajv#2209, #1976).
    "const require = createRequire(import.meta.url);\n" +
    `${code}\n` +
    "/** Each kind's validator: applies the schema's defaults to the data in place; errors are verbose (schema and parent schema). */\n" +
    `export const VALIDATORS: Readonly<Record<Kind, ValidateFunction>> = { ${kinds.join(", ")} };\n`
  );
}
