/**
 * Test support: the coxswain CLI as users run it, a child process of the sources (node --import tsx
 * operator/src/cli/main.ts), with its exit code and output.
 */
import { spawn } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root (where package.json is). */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

/** What a CLI run gave. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs `coxswain <args>` in cwd (default the repository root) with extra environment variables; with
 * fdLimit under `ulimit -n`, as a user with a low open-files limit would run it.
 */
export function runCli(args: string[], cwd = ROOT, env: Record<string, string> = {}, fdLimit?: number): Promise<CliResult> {
  return new Promise((resolve) => {
    const argv = [process.execPath, "--import", "tsx", path.join(ROOT, "operator/src/cli/main.ts"), ...args];
    const quoted = argv.map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(" ");
    const p =
      fdLimit === undefined
        ? spawn(argv[0]!, argv.slice(1), { cwd, env: { ...process.env, FORCE_COLOR: "0", ...env } })
        : spawn("sh", ["-c", `ulimit -n ${fdLimit} && exec ${quoted}`], { cwd, env: { ...process.env, FORCE_COLOR: "0", ...env } });
    let stdout = "";
    let stderr = "";
    p.stdout.on("data", (d) => (stdout += d));
    p.stderr.on("data", (d) => (stderr += d));
    p.on("exit", (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/** The preload that makes a CLI run print its peak memory (test/support/peak-rss.mjs). */
const PEAK_RSS = path.join(ROOT, "test/support/peak-rss.mjs");

/**
 * Runs `coxswain <args>` as runCli does, and learns its peak resident memory (getrusage's maxRSS, in KiB)
 * from a preload that prints it at exit; the line is taken out of stderr.
 */
export async function runCliMeasured(args: string[], cwd = ROOT): Promise<CliResult & { peakRssKib: number }> {
  const r = await runCli(args, cwd, { NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ""} --import ${PEAK_RSS}`.trim() });
  const m = /\n?peak-rss-kib (\d+)\n/.exec(r.stderr);
  if (!m) throw new Error(`the CLI printed no peak-rss-kib line (exit ${r.code}): ${r.stderr.slice(-500)}`);
  return { ...r, stderr: r.stderr.replace(m[0], ""), peakRssKib: Number(m[1]) };
}
