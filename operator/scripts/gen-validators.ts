/**
 * Writes every kind's schema validator as ajv standalone code, compiled from crds/ by
 * operator/src/manifest/schema-compile.ts, to operator/src/manifest/generated/validators.ts: run-time
 * validation (manifest/schema.ts) then compiles nothing. Run by `npm run gen` (and checked by
 * `npm run gen -- --check`, as the generated types are).
 */
import { readFile, writeFile, mkdir } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { validatorsModule } from "../src/manifest/schema-compile.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const target = path.join(root, "operator/src/manifest/generated/validators.ts");

/** Writes the module (or, with `check`, reports it out of date); true when it was out of date. */
export async function genValidators(check: boolean): Promise<boolean> {
  const content = validatorsModule(path.join(root, "crds"));
  const current = await readFile(target, "utf8").catch(() => undefined);
  if (current === content) return false;
  if (check) console.error("out of date: operator/src/manifest/generated/validators.ts");
  else {
    await mkdir(path.dirname(target), { recursive: true });
    await writeFile(target, content);
  }
  return true;
}
