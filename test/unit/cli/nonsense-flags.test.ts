/**
 * Flag values that mean nothing are refused before anything starts: InvalidArgument, exit code 2, for
 * every subcommand's parse (empty values, usually an unset shell variable) and `run`'s own checks.
 */
import { describe, expect, it, vi } from "vitest";
import { isCoxError } from "../../../operator/src/api/errors.js";
import { main } from "../../../operator/src/cli/main.js";
import { runOptions } from "../../../operator/src/cli/run.js";

const options = (...flags: string[]) => runOptions(["--repo", "/srv/repo", ...flags], () => undefined);

/** The CoxError code `coxswain run`'s options end with, or "ok". */
async function codeOfOptions(...flags: string[]): Promise<string> {
  try {
    await options(...flags);
    return "ok";
  } catch (err) {
    return isCoxError(err) ? err.code : "not a CoxError";
  }
}

const REFUSED: [string, string[]][] = [
  ["a poll interval of 0", ["--poll-interval", "0"]],
  ["a poll interval of 0s", ["--poll-interval", "0s"]],
  ["a poll interval below 100 ms", ["--poll-interval", "99ms"]],
  ["an empty poll interval", ["--poll-interval", ""]],
  ["a node grace of 0", ["--node-grace", "0s"]],
  ["an eviction timeout of 0", ["--eviction-timeout", "0"]],
  ["a git timeout of 0", ["--git-timeout", "0ms"]],
  ["a negative duration", ["--git-timeout", "-5s"]],
  ["an empty branch", ["--branch", ""]],
  ["a branch git refuses", ["--branch", "main..x"]],
  ["a branch with a space", ["--branch", "my branch"]],
  ["a status branch ending in .lock", ["--status-branch", "coxswain/status.lock"]],
  ["a notes ref outside refs/", ["--notes-ref", "notes/coxswain"]],
  ["an instance with a slash", ["--instance", "a/b"]],
  ["an instance of 64 characters", ["--instance", "a".repeat(64)]],
  ["a seed that is not a number", ["--seed", "abc"]],
  ["a fractional seed", ["--seed", "1.5"]],
  ["an empty port range", ["--port-range", ""]],
  ["an empty state dir", ["--state-dir", ""]],
  ["a webhook rate of 0", ["--listen", "127.0.0.1:0", "--webhook-rate", "0"]],
  ["an unknown log format", ["--log-format", "xml"]],
  ["an empty log format", ["--log-format", ""]],
  ["an unknown log level", ["--log-level", "trace"]],
  ["a log level in capitals", ["--log-level", "INFO"]],
];

const ACCEPTED: [string, string[], (o: Awaited<ReturnType<typeof options>>) => unknown, unknown][] = [
  ["a poll interval of 100 ms", ["--poll-interval", "100ms"], (o) => o.pollMs, 100],
  ["a poll interval of 1.5 s", ["--poll-interval", "1.5s"], (o) => o.pollMs, 1500],
  ["a nested branch", ["--branch", "release/v2"], (o) => o.branch, "release/v2"],
  ["a notes ref", ["--notes-ref", "refs/notes/deploys"], (o) => o.notesRef, "refs/notes/deploys"],
  ["an instance with dots and dashes", ["--instance", "team-a.prod"], (o) => o.instance, "team-a.prod"],
  ["a seed of 0", ["--seed", "0"], (o) => o.seed, 0],
  ["an empty path (the repository's root)", ["--path", ""], (o) => o.path, ""],
];

describe("coxswain run refuses nonsense flag values", () => {
  it.each(REFUSED)("refuses %s", async (_what, flags) => {
    expect(await codeOfOptions(...flags)).toBe("InvalidArgument");
  });

  it.each(ACCEPTED)("accepts %s", async (_what, flags, read, expected) => {
    expect(read(await options(...flags))).toEqual(expected);
  });
});

describe("every subcommand exits 2 on a nonsense flag value", () => {
  it.each([
    ["run", ["run", "--repo", "/srv/repo", "--poll-interval", "0"]],
    ["validate", ["validate", "--path", "/srv/repo", "--max-file-bytes", ""]],
    ["plan", ["plan", "--repo", "", "--to", "main"]],
    ["status", ["status", "--repo", ""]],
    ["history", ["history", "--repo", "/srv/repo", "--limit", "0"]],
  ])("%s", async (_cmd, argv) => {
    const stderr = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    try {
      expect(await main(argv)).toBe(2);
      expect(stderr.mock.calls.map((c) => String(c[0])).join("")).toMatch(/^error InvalidArgument: /);
    } finally {
      stderr.mockRestore();
    }
  });
});
