/**
 * `coxswain validate <DIR>`: checks a directory of manifests as the operator would check a commit —
 * the same reading (strict UTF-8, no symbolic links, the same limits and flags, --strict), schema, semantic
 * rules, references and cycles — and prints file:line:col diagnostics that name their object, then one line
 * that counts what was read. Exit 1 on errors.
 */
import path from "node:path";
import { CoxError } from "../api/errors.js";
import { buildGraph } from "../graph/index.js";
import { validateDirectory } from "../manifest/directory.js";
import { compareDiagnostics, formatDiagnostic, type Diagnostic, type ManifestSet } from "../manifest/types.js";
import { MANIFEST_LIMIT_FLAGS, MANIFEST_LIMITS_USAGE, parse, parseManifestFlags, readAgeKeyFlag } from "./args.js";
import { kindsSummary } from "./kinds.js";

/** Help text of `coxswain validate`. */
export const VALIDATE_USAGE = `coxswain validate <DIR> [flags]

  checks every *.yaml / *.yml under DIR as \`coxswain run\` checks a commit (hidden entries skipped)
${MANIFEST_LIMITS_USAGE}`;

/** "1 object", "12 objects". */
function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? "" : "s"}`;
}

/**
 * The last line of `validate`: what was read and the verdict, e.g. "12 objects in 7 files: valid",
 * "12 objects in 7 files (3 ignored): valid, 4 warnings", "3 objects in 1 file: invalid, 2 errors".
 */
function validateSummary(read: ManifestSet["read"], diagnostics: readonly Diagnostic[]): string {
  const errors = diagnostics.filter((d) => d.severity === "error").length;
  const warnings = diagnostics.length - errors;
  const ignored = read.ignored > 0 ? ` (${read.ignored} ignored)` : "";
  const verdict = [errors > 0 ? "invalid" : "valid", ...(errors > 0 ? [count(errors, "error")] : []), ...(warnings > 0 ? [count(warnings, "warning")] : [])];
  return `${count(read.documents, "object")} in ${count(read.files, "file")}${ignored}: ${verdict.join(", ")}`;
}

/** Validates a directory; resolves with the exit code. */
export async function validateCommand(argv: string[], out: (line: string) => void): Promise<number> {
  const { values, positionals } = parse(argv, { ...MANIFEST_LIMIT_FLAGS }, true);
  if (positionals.length !== 1)
    throw new CoxError("InvalidArgument", "usage: coxswain validate <DIR> [--strict] [--policy-file PATH] [--age-key-file PATH] [--manifest-max-file-size N] [--manifest-max-documents N] [--manifest-max-total-size N]");
  const dir = path.resolve(positionals[0]!);
  const manifests = parseManifestFlags(values);
  const age = await readAgeKeyFlag(values);
  if (age) manifests.age = age;
  const set = await validateDirectory(dir, manifests);
  // Reading stopped at the total size limit: cross-object checks would report what is only unread.
  const graphDiagnostics = set.incomplete ? [] : buildGraph(set.objects).diagnostics;
  const diagnostics = [...set.diagnostics, ...graphDiagnostics].sort(compareDiagnostics);
  for (const d of diagnostics) out(formatDiagnostic(d));
  // The kinds are listed once, not in every UnknownKind message.
  if (diagnostics.some((d) => d.code === "UnknownKind")) for (const line of kindsSummary()) out(line);
  out(validateSummary(set.read, diagnostics));
  return diagnostics.some((d) => d.severity === "error") ? 1 : 0;
}
