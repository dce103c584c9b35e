/**
 * `coxswain validate <DIR>`: checks a directory of manifests as the operator would check a commit —
 * schema, semantic rules, references and cycles — and prints file:line:col diagnostics. Exit 1 on errors.
 */
import path from "node:path";
import { CoxError } from "../api/errors.js";
import { buildGraph } from "../graph/index.js";
import { validateDirectory } from "../manifest/directory.js";
import { compareDiagnostics, formatDiagnostic } from "../manifest/types.js";
import { parse } from "./args.js";

/** Validates a directory; resolves with the exit code. */
export async function validateCommand(argv: string[], out: (line: string) => void): Promise<number> {
  const { positionals } = parse(argv, {}, true);
  if (positionals.length !== 1) throw new CoxError("InvalidArgument", "usage: coxswain validate <DIR>");
  const dir = path.resolve(positionals[0]!);
  const set = await validateDirectory(dir);
  const graph = buildGraph(set.objects);
  const diagnostics = [...set.diagnostics, ...graph.diagnostics].sort(compareDiagnostics);
  for (const d of diagnostics) out(formatDiagnostic(d));
  const errors = diagnostics.filter((d) => d.severity === "error").length;
  const warnings = diagnostics.length - errors;
  out(`${set.objects.length} object(s), ${errors} error(s), ${warnings} warning(s)`);
  return errors > 0 ? 1 : 0;
}
