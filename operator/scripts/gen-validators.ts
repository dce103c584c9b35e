/**
 * Writes validators as ajv standalone code: every kind's, compiled from crds/ by
 * operator/src/manifest/schema-compile.ts, to operator/src/manifest/generated/validators.ts, and every status
 * record's, compiled by operator/src/status/schema-compile.ts, to operator/src/status/generated/validators.ts:
 * run-time validation (manifest/schema.ts, status/schemas.ts) then compiles nothing. Run by `npm run gen`
 * (and checked by `npm run gen -- --check`, as the generated types are).
 */
import { readFile, writeFile, mkdir } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { validatorsModule } from "../src/manifest/schema-compile.js";
import { recordValidatorsModule } from "../src/status/schema-compile.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const manifestTarget = "operator/src/manifest/generated/validators.ts";
const statusTarget = "operator/src/status/generated/validators.ts";

/** Writes one module (or, with `check`, reports it out of date); true when it was out of date. */
async function write(target: string, content: string, check: boolean): Promise<boolean> {
  const file = path.join(root, target);
  const current = await readFile(file, "utf8").catch(() => undefined);
  if (current === content) return false;
  if (check) console.error(`out of date: ${target}`);
  else {
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, content);
  }
  return true;
}

/** Writes both modules (or, with `check`, reports them out of date); true when one was out of date. */
export async function genValidators(check: boolean): Promise<boolean> {
  const manifest = await write(manifestTarget, validatorsModule(path.join(root, "crds")), check);
  const status = await write(statusTarget, recordValidatorsModule(), check);
  return manifest || status;
}
