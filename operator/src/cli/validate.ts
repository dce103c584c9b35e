/**
 * `coxswain validate <DIR>`: checks a directory of manifests as the operator would check a commit —
 * the same reading (strict UTF-8, no symbolic links, the same limits and flags), schema, semantic rules,
 * references and cycles — and prints file:line:col diagnostics. Exit 1 on errors.
 */
import path from "node:path";
import { CoxError } from "../api/errors.js";
import { buildGraph } from "../graph/index.js";
import { validateDirectory } from "../manifest/directory.js";
import { compareDiagnostics, formatDiagnostic } from "../manifest/types.js";
import { MANIFEST_LIMIT_FLAGS, MANIFEST_LIMITS_USAGE, parse, parseManifestFlags } from "./args.js";

/** Help text of `coxswain validate`. */
export const VALIDATE_USAGE = `coxswain validate <DIR> [flags]

  checks every *.yaml / *.yml under DIR as \`coxswain run\` checks a commit (hidden entries skipped)
${MANIFEST_LIMITS_USAGE}`;

/** Validates a directory; resolves with the exit code. */
export async function validateCommand(argv: string[], out: (line: string) => void): Promise<number> {
  const { values, positionals } = parse(argv, { ...MANIFEST_LIMIT_FLAGS }, true);
  if (positionals.length !== 1) throw new CoxError("InvalidArgument", "usage: coxswain validate <DIR> [--manifest-max-file-size N] [--manifest-max-documents N] [--manifest-max-total-size N]");
  const dir = path.resolve(positionals[0]!);
  const set = await validateDirectory(dir, parseManifestFlags(values));
  // Reading stopped at the total size limit: cross-object checks would report what is only unread.
  const graphDiagnostics = set.incomplete ? [] : buildGraph(set.objects).diagnostics;
  const diagnostics = [...set.diagnostics, ...graphDiagnostics].sort(compareDiagnostics);
  for (const d of diagnostics) out(formatDiagnostic(d));
  const errors = diagnostics.filter((d) => d.severity === "error").length;
  const warnings = diagnostics.length - errors;
  out(`${set.objects.length} object(s), ${errors} error(s), ${warnings} warning(s)`);
  return errors > 0 ? 1 : 0;
}
