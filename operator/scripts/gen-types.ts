/**
 * Regenerates operator/src/api/generated/ from the schemas in crds/ with json-schema-to-typescript, the
 * dashboard's browser script (gen-dashboard.ts) and the schema validators (gen-validators.ts).
 *
 * Usage: `npm run gen` (writes the files) or `npm run gen -- --check` (exits 1 when a file would change;
 * CI runs this so that a schema change without regenerated types fails).
 *
 * The CRD schemas are pre-processed first, because json-schema-to-typescript does not know Kubernetes'
 * extensions: x-kubernetes-int-or-string becomes `number | string`, `metadata` becomes the hand-written
 * ObjectMeta type, and fields marked x-coxswain-unsupported (accepted by name only to say "not supported
 * by coxswain") are left out of the types.
 *
 * Titled sub-schemas name the generated types. A title stands for one shape everywhere: the generator fails
 * when two schemas with the same title differ, inside one CRD or across CRDs. A titled schema used by one CRD
 * is emitted in that CRD's file; one used by several CRDs (the pod template of Deployment and Rollout) is
 * emitted once, in common.ts, and imported from there. This is also what keeps the two copies of the pod
 * template in crds/ identical.
 */
import { readFile, readdir, writeFile, mkdir } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { isDeepStrictEqual } from "node:util";
import { compile, type JSONSchema, type Options } from "json-schema-to-typescript";
import YAML from "yaml";
import { genDashboard } from "./gen-dashboard.js";
import { genValidators } from "./gen-validators.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const crdDir = path.join(root, "crds");
const outDir = path.join(root, "operator/src/api/generated");

type Schema = Record<string, unknown>;

/** The keyword that marks a field coxswain knows by name but does not support (see manifest/schema.ts). */
const UNSUPPORTED = "x-coxswain-unsupported";

/** The file that holds the types several CRDs share. */
const COMMON = "common.ts";

const COMPILE_OPTIONS: Partial<Options> = {
  bannerComment: "",
  additionalProperties: false,
  strictIndexSignatures: false,
  format: true,
  style: { singleQuote: false, printWidth: 110 },
};

function isPlainObject(v: unknown): v is Schema {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

/** The sub-schemas of a schema that the pre-processing walks into, with their roles. */
function children(schema: Schema): Schema[] {
  const out: Schema[] = [];
  if (isPlainObject(schema.properties)) {
    for (const sub of Object.values(schema.properties)) if (isPlainObject(sub) && sub[UNSUPPORTED] === undefined) out.push(sub);
  }
  if (isPlainObject(schema.items)) out.push(schema.items);
  if (isPlainObject(schema.additionalProperties)) out.push(schema.additionalProperties);
  return out;
}

/**
 * Records every titled sub-schema of a CRD (not the root, not root metadata) under its title, with the CRD
 * files that use it. Throws when one title names two different shapes.
 */
function collectTitles(schema: Schema, file: string, titles: Map<string, { schema: Schema; files: Set<string> }>, isRoot: boolean): void {
  const title = typeof schema.title === "string" ? schema.title : undefined;
  if (title && !isRoot) {
    const known = titles.get(title);
    if (known) {
      if (!isDeepStrictEqual(known.schema, schema)) {
        throw new Error(`two different schemas are titled ${title} (in ${[...known.files].join(", ")} and ${file}); one title, one shape`);
      }
      known.files.add(file);
      return; // same shape: its children were collected the first time
    }
    titles.set(title, { schema, files: new Set([file]) });
  }
  for (const sub of children(schema)) collectTitles(sub, file, titles, false);
}

/**
 * Rewrites one schema into what json-schema-to-typescript understands (see the file comment). Titled
 * sub-schemas in `external` become references to types declared elsewhere (recorded in `used`); a titled
 * sub-schema seen before in this compilation becomes a reference to the first one.
 */
function preprocess(schema: Schema, ctx: { seen: Set<string>; external: ReadonlySet<string>; used: Set<string> }, level: "kind" | "shared" | "nested"): Schema {
  const isRoot = level !== "nested";
  const title = typeof schema.title === "string" ? schema.title : undefined;
  const reference = (name: string): Schema => ({ tsType: name, ...(schema.description ? { description: schema.description } : {}) });
  if (title && !isRoot) {
    if (ctx.external.has(title)) {
      ctx.used.add(title);
      return reference(title);
    }
    if (ctx.seen.has(title)) return reference(title);
    ctx.seen.add(title);
  }
  const out: Schema = {};
  for (const [k, v] of Object.entries(schema)) {
    if (k === "default" || k.startsWith("x-kubernetes-") || k === UNSUPPORTED) continue;
    out[k] = v;
  }
  if (schema["x-kubernetes-int-or-string"] === true) {
    delete out.type;
    delete out.pattern;
    out.tsType = "number | string";
    return out;
  }
  if (isPlainObject(schema.properties)) {
    const props: Schema = {};
    for (const [name, sub] of Object.entries(schema.properties)) {
      if (!isPlainObject(sub) || sub[UNSUPPORTED] !== undefined) continue;
      props[name] = level === "kind" && name === "metadata" ? { tsType: "ObjectMeta", description: "Standard object metadata (name, namespace, labels, annotations)." } : preprocess(sub, ctx, "nested");
    }
    out.properties = props;
    if (Array.isArray(schema.required)) out.required = (schema.required as string[]).filter((r) => r in props);
  }
  if (isPlainObject(schema.items)) out.items = preprocess(schema.items, ctx, "nested");
  if (isPlainObject(schema.additionalProperties)) {
    out.additionalProperties = preprocess(schema.additionalProperties, ctx, "nested");
  } else if (schema.additionalProperties === undefined && schema.type === "object") {
    // Kubernetes prunes unknown fields; our schemas say so explicitly. Objects without a word are closed.
    out.additionalProperties = false;
  }
  return out;
}

/** One served version of one CRD. */
interface CrdVersion {
  file: string;
  kind: string;
  group: string;
  schema: Schema;
}

async function readCrds(dir: string): Promise<CrdVersion[]> {
  const files = (await readdir(dir)).filter((f) => f.endsWith(".yaml")).sort();
  const out: CrdVersion[] = [];
  for (const file of files) {
    const crd = YAML.parse(await readFile(path.join(dir, file), "utf8"));
    const kind: string = crd.spec.names.kind;
    const versions = (crd.spec.versions as { name: string; served?: boolean; schema: { openAPIV3Schema: Schema } }[]).filter((v) => v.served !== false);
    if (versions.length !== 1) throw new Error(`${file}: expected exactly one served version (got ${versions.length})`);
    const v = versions[0]!;
    out.push({ file, kind, group: crd.spec.group ? `${crd.spec.group}/${v.name}` : v.name, schema: v.schema.openAPIV3Schema });
  }
  return out;
}

/** Generates the TypeScript source of every CRD in `dir` (default: crds/); returns file name → content. */
export async function generate(dir: string = crdDir): Promise<Map<string, string>> {
  const crds = await readCrds(dir);
  const titles = new Map<string, { schema: Schema; files: Set<string> }>();
  for (const c of crds) collectTitles(c.schema, c.file, titles, true);
  const shared = new Set([...titles].filter(([, t]) => t.files.size > 1).map(([name]) => name));

  const result = new Map<string, string>();
  const index: string[] = [];

  if (shared.size > 0) {
    // Each shared type is compiled on its own; the shared types it contains are references within common.ts.
    const bodies: string[] = [];
    for (const name of [...shared].sort()) {
      const others = new Set([...shared].filter((s) => s !== name));
      const ctx = { seen: new Set<string>(), external: others, used: new Set<string>() };
      const schema = preprocess(titles.get(name)!.schema, ctx, "shared") as JSONSchema;
      bodies.push((await compile(schema, name, COMPILE_OPTIONS)).trimEnd());
    }
    const users = [...new Set([...shared].flatMap((s) => [...titles.get(s)!.files]))].sort();
    result.set(COMMON, `/* GENERATED by \`npm run gen\` from crds/ (types shared by ${users.join(", ")}). Do not edit: change the schemas and regenerate. */\n\n` + `${bodies.join("\n")}\n`);
    index.push(`export type * from "./${COMMON.replace(/\.ts$/, ".js")}";`);
  }

  for (const c of crds) {
    const ctx = { seen: new Set<string>(), external: shared, used: new Set<string>() };
    const schema = preprocess(c.schema, ctx, "kind") as JSONSchema;
    const body = await compile(schema, c.kind, COMPILE_OPTIONS);
    const name = `${c.kind.toLowerCase()}.ts`;
    const imports = [...ctx.used].sort();
    result.set(
      name,
      `/* GENERATED by \`npm run gen\` from crds/${c.file} (${c.group} ${c.kind}). Do not edit: change the schema and regenerate. */\n` +
        `import type { ObjectMeta } from "../meta.js";\n` +
        (imports.length > 0 ? `import type { ${imports.join(", ")} } from "./${COMMON.replace(/\.ts$/, ".js")}";\n` : "") +
        `\n` +
        body,
    );
    index.push(`export type * from "./${c.kind.toLowerCase()}.js";`);
  }
  result.set("index.ts", `/* GENERATED by \`npm run gen\` from crds/. Do not edit. */\n${index.join("\n")}\n`);
  return result;
}

async function main(): Promise<void> {
  const check = process.argv.includes("--check");
  const files = await generate();
  await mkdir(outDir, { recursive: true });
  const existing = new Set((await readdir(outDir)).filter((f) => f.endsWith(".ts")));
  let stale = 0;
  for (const [name, content] of files) {
    const target = path.join(outDir, name);
    const current = existing.has(name) ? await readFile(target, "utf8") : undefined;
    existing.delete(name);
    if (current === content) continue;
    stale++;
    if (check) console.error(`out of date: operator/src/api/generated/${name}`);
    else await writeFile(target, content);
  }
  for (const extra of existing) {
    stale++;
    console.error(`not generated from crds/: operator/src/api/generated/${extra}`);
  }
  if (await genDashboard(check)) stale++;
  if (await genValidators(check)) stale++;
  if (check && stale > 0) {
    console.error("run `npm run gen` and commit the result");
    process.exit(1);
  }
  console.log(check ? "generated types, the dashboard script and the schema validators are up to date" : `wrote ${files.size} files to operator/src/api/generated, the dashboard script and the schema validators`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) await main();
