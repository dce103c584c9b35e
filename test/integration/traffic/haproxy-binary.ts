/**
 * The real HAProxy for the traffic suites: found on PATH or in the sbin directories a package puts it in.
 * Like requireDocker (test/support/docker-fleet.ts), a suite that needs it skips without it, except in CI
 * (CI=true), where a missing binary fails the suite instead of skipping it silently.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { delimiter, join } from "node:path";

/** The haproxy executable to run, or undefined (after a warning) when there is none outside CI; throws in CI. */
export function requireHaproxy(suiteName: string): string | undefined {
  const dirs = [...(process.env.PATH ?? "").split(delimiter), "/usr/sbin", "/usr/local/sbin", "/sbin"];
  const found = dirs.map((d) => join(d, "haproxy")).find((p) => existsSync(p) && spawnSync(p, ["-v"]).status === 0);
  if (found !== undefined) return found;
  const why = "needs HAProxy 2.6 or later (apt-get install -y haproxy)";
  if (process.env.CI === "true") throw new Error(`${suiteName}: haproxy is not available in CI: ${why}`);
  console.warn(`${suiteName}: skipped, haproxy is not available: ${why}`);
  return undefined;
}
