/**
 * The `coxswain` command: dispatches to the subcommands. Exit codes: 0 success, 1 the input is invalid
 * (validate, plan) or the operator failed, 2 the command line is wrong (ApiTokensRequired included: an open
 * API on a non-loopback --listen).
 */
import { readFileSync } from "node:fs";
import { isCoxError, toCoxError } from "../api/errors.js";
import { HISTORY_USAGE, historyCommand } from "./history.js";
import { INIT_USAGE, initCommand } from "./init.js";
import { KINDS_USAGE, kindsCommand } from "./kinds.js";
import { PLAN_USAGE, planCommand } from "./plan.js";
import { quickstartCommand } from "./quickstart.js";
import { RUN_USAGE, runCommand } from "./run.js";
import { STATUS_USAGE, statusCommand } from "./status.js";
import { VALIDATE_USAGE, validateCommand } from "./validate.js";

/** Top-level help. */
export const USAGE = `coxswain — GitOps for plain Docker hosts

usage:
  coxswain run --repo <path|url> [--branch main] [--path DIR] [--state-dir DIR] [--runtime auto|docker|process]
               [--listen HOST:PORT --webhook-secret-file F] [--auto-revert] [--preview-branches GLOB] [--preview-envs GLOB]
  coxswain validate <DIR> [--strict] [--manifest-max-file-size N] [--manifest-max-documents N] [--manifest-max-total-size N]
  coxswain plan --repo <path|url> [--from REF] [--to REF] [--path DIR] [--offline] [--output json] [--strict]
  coxswain status --repo <path|url> [--branch main] [--output json]     what runs, from the status branch of any clone
  coxswain history --repo <path|url> [--limit 50] [--output json]        the deploy log, from the records and notes
  coxswain kinds                  the kinds coxswain reads, and those it accepts and ignores
  coxswain quickstart             run the operator on a Git copy of examples-repo (npm start)
  coxswain init [DIR]             scaffold a GitOps repository for this host in DIR (default .)
  coxswain --version              the version of this installation

${RUN_USAGE}

${VALIDATE_USAGE}

${PLAN_USAGE}

${STATUS_USAGE}

${HISTORY_USAGE}

${KINDS_USAGE}

${INIT_USAGE}`;

/** The version of this installation: package.json's, two folders above cli/ in src/ and dist/ alike. */
function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL("../../../package.json", import.meta.url), "utf8")) as { version: string };
  return pkg.version;
}

function plain(line: string): void {
  process.stdout.write(`${line}\n`);
}

/** Runs the CLI with argv (without node and script); resolves with the exit code. */
export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  try {
    switch (cmd) {
      case "run":
        return await runCommand(rest, plain);
      case "validate":
        return await validateCommand(rest, plain);
      case "plan":
        return await planCommand(rest, plain);
      case "status":
        return await statusCommand(rest, plain);
      case "history":
        return await historyCommand(rest, plain);
      case "kinds":
        return kindsCommand(rest, plain);
      case "quickstart":
        return await quickstartCommand(rest, plain);
      case "init":
        return await initCommand(rest, plain);
      case "--version":
      case "version":
        plain(packageVersion());
        return 0;
      case undefined:
      case "help":
      case "--help":
      case "-h":
        plain(USAGE);
        return cmd === undefined ? 2 : 0;
      default:
        process.stderr.write(`unknown command ${JSON.stringify(cmd)}\n\n${USAGE}\n`);
        return 2;
    }
  } catch (err) {
    const e = toCoxError(err);
    process.stderr.write(`error ${e.code}: ${e.message}\n`);
    return isCoxError(err, "InvalidArgument") || isCoxError(err, "ApiTokensRequired") ? 2 : 1;
  }
}

// Run directly (node operator/src/cli/main.ts via tsx, or dist/cli/main.js): not when imported by bin/.
const invoked = process.argv[1] ?? "";
if (/cli[\\/]main\.(ts|js)$/.test(invoked)) {
  process.exitCode = await main(process.argv.slice(2));
}
