/**
 * `coxswain kinds`: the kinds coxswain reads, with their apiVersions, and the kinds it accepts and ignores,
 * with why — the list an UnknownKind message points to instead of repeating it.
 */
import { KINDS, describeApiVersions, type Kind } from "../api/objects.js";
import { IGNORED_KINDS } from "../manifest/ignored.js";
import { parse } from "./args.js";

/** Help text of `coxswain kinds`. */
export const KINDS_USAGE = `coxswain kinds

  lists the kinds coxswain reads and the kinds it accepts and ignores (with a warning that says why)`;

/** Two short lines naming every kind coxswain reads and every kind it ignores, for the end of `validate`. */
export function kindsSummary(): string[] {
  const read = (Object.keys(KINDS) as Kind[]).sort().map((k) => `${k} (${describeApiVersions(k)})`);
  return [`kinds coxswain reads: ${read.join(", ")}`, `kinds coxswain ignores, with a warning: ${Object.keys(IGNORED_KINDS).sort().join(", ")}`];
}

/** The full list (`coxswain kinds`): one kind per line, apiVersions, and for ignored kinds why. */
function kindsTable(): string[] {
  const lines = ["kinds coxswain reads (apiVersion):"];
  for (const k of (Object.keys(KINDS) as Kind[]).sort()) lines.push(`  ${k.padEnd(24)} ${describeApiVersions(k)}`);
  lines.push("", "kinds coxswain accepts and ignores, with a warning (apiVersion: why):");
  for (const [k, info] of Object.entries(IGNORED_KINDS).sort(([a], [b]) => (a < b ? -1 : 1))) {
    lines.push(`  ${k.padEnd(24)} ${info.apiVersions.join(" or ")}: ${info.why}`);
  }
  lines.push("", "any other kind is an error (UnknownKind); --strict makes the ignored ones errors too");
  return lines;
}

/** Prints the kinds; returns the exit code. It takes no arguments (InvalidArgument otherwise). */
export function kindsCommand(argv: string[], out: (line: string) => void): number {
  parse(argv, {});
  for (const line of kindsTable()) out(line);
  return 0;
}
