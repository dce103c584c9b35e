/**
 * Command-line parsing shared by the subcommands: node:util parseArgs plus the errors users see.
 */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { CoxError } from "../api/errors.js";

/** Parses argv against `options`; unknown flags and missing values become InvalidArgument errors. */
export function parse<T extends NonNullable<ParseArgsConfig["options"]>>(
  argv: string[],
  options: T,
  allowPositionals = false,
): { values: { [K in keyof T]?: T[K]["type"] extends "boolean" ? boolean : string }; positionals: string[] } {
  try {
    const r = parseArgs({ args: argv, options, allowPositionals, strict: true });
    return r as never;
  } catch (err) {
    throw new CoxError("InvalidArgument", (err as Error).message);
  }
}

/** Parses a duration: "500ms", "5s", "2m", "24h" or a bare number of milliseconds. */
export function parseDuration(flag: string, text: string): number {
  const m = /^([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!m) throw new CoxError("InvalidArgument", `${flag}: expected a duration like 500ms, 5s, 2m or 24h (got ${JSON.stringify(text)})`);
  const n = Number(m[1]);
  const unit = m[2] ?? "ms";
  return Math.round(n * ({ ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as Record<string, number>)[unit]!);
}

/** Requires a flag. */
export function required(flag: string, value: string | undefined): string {
  if (!value) throw new CoxError("InvalidArgument", `${flag} is required`);
  return value;
}

/** Parses a port range "from-to" (1 ≤ from ≤ to ≤ 65535). */
export function parsePortRange(flag: string, text: string): { from: number; to: number } {
  const m = /^([0-9]{1,5})-([0-9]{1,5})$/.exec(text.trim());
  const from = Number(m?.[1]);
  const to = Number(m?.[2]);
  if (!m || from < 1 || to > 65535 || from > to) {
    throw new CoxError("InvalidArgument", `${flag}: expected a port range like 30000-32767 (got ${JSON.stringify(text)})`);
  }
  return { from, to };
}
