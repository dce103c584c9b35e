/**
 * Every flag of every subcommand, with the nonsense values it must refuse: `error InvalidArgument: …` and
 * exit code 2, before anything starts. A flag is either listed with its nonsense values or named as free
 * text (a path, a file, a glob, a URL: checked where it is used); a new flag in neither list fails the
 * first test, so that no flag arrives without a decision about its values.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { MANIFEST_LIMIT_FLAGS } from "../../../operator/src/cli/args.js";
import { HISTORY_FLAGS } from "../../../operator/src/cli/history.js";
import { INIT_FLAGS } from "../../../operator/src/cli/init.js";
import { main } from "../../../operator/src/cli/main.js";
import { PLAN_FLAGS } from "../../../operator/src/cli/plan.js";
import { QUICKSTART_FLAGS } from "../../../operator/src/cli/quickstart.js";
import { RUN_FLAGS } from "../../../operator/src/cli/run.js";
import { READ_FLAGS } from "../../../operator/src/cli/status.js";

/** Nonsense for every duration, with a value just below the flag's own minimum and one beyond Node's timers. */
const duration = (belowMin: string, aboveMax = "600h") => ["0", "0s", "-1s", "abc", "1e400", "5d", "Infinity", belowMin, aboveMax];
/** Nonsense for a whole number of at least 1. */
const COUNT = ["0", "-1", "1.5", "abc", "1e400", "0x10", "99999999999999999999"];
const PORT = ["0", "-1", "65536", "abc", "1e400", "80.5"];
const SIZE = ["0", "-1", "abc", "1e400", "1Xi"];

/** Flag → values it must refuse. */
const NONSENSE: Record<string, string[]> = {
  "poll-interval": duration("99ms"),
  "node-grace": duration("1999ms"),
  "eviction-timeout": duration("999ms"),
  "git-timeout": duration("999ms"),
  "preview-ttl": duration("59s", "8761h"),
  "ready-fetch-failures": [...COUNT, "1000001"],
  "webhook-rate": ["0", "-1", "abc", "1e400", "Infinity", "0x10", "10001"],
  seed: ["-1", "1.5", "abc", "1e400", "99999999999999999999"],
  limit: COUNT,
  "manifest-max-documents": COUNT,
  "manifest-max-file-size": SIZE,
  "manifest-max-total-size": SIZE,
  "manifest-cache-size": SIZE,
  "percentage-of-nodes-to-score": ["-1", "101", "1.5", "abc", "1e400"],
  "scheduler-weight": ["NodeResourcesFit=0", "NodeResourcesFit=-1", "NodeResourcesFit=abc", "NodeResourcesFit=1e400", "Unknown=1", "NodeResourcesFit"],
  "scheduler-scoring": ["Packed", ""],
  "ingress-http-port": PORT,
  "ingress-https-port": PORT,
  "port-range": ["abc", "0-10", "10-5", "1-65536", "1e400-2", "30000"],
  runtime: ["kubernetes", ""],
  output: ["yaml", ""],
  "log-format": ["xml", ""],
  "log-level": ["trace", "INFO"],
  instance: ["a/b", "a".repeat(64), ""],
  branch: ["main..x", "my branch", ""],
  "status-branch": ["coxswain/status.lock", ""],
  "notes-ref": ["notes/coxswain", ""],
  "node-name": ["Node_1", "a".repeat(64), ""],
  "proxy-image": ["haproxy 2.6", ""],
};

/** Flags whose value is free text (paths, files, globs, URLs, commits), checked where it is used. */
const FREE_TEXT = new Set([
  "repo",
  "path",
  "state-dir",
  "git-credentials-file",
  "listen",
  "webhook-secret-file",
  "api-token-file",
  "preview-branches",
  "preview-envs",
  "forge",
  "forge-url",
  "forge-repo",
  "forge-token-file",
  "policy-file",
  "age-key-file",
  "from",
  "to",
]);

/** Flags another flag must come with for them to be read at all. */
const NEEDS: Record<string, string[]> = {
  "webhook-rate": ["--listen", "127.0.0.1:0"],
  "ready-fetch-failures": ["--listen", "127.0.0.1:0"],
  "preview-ttl": ["--preview-envs", "pr/*"],
};

type Flags = Readonly<Record<string, { readonly type: "string" | "boolean" }>>;

let dir: string;
/** Each subcommand, its flags, and the arguments it needs besides the flag under test. */
const COMMANDS: [string, Flags, () => string[]][] = [
  ["run", RUN_FLAGS, () => ["--repo", join(dir, "no-such-repo"), "--state-dir", join(dir, "state")]],
  ["plan", PLAN_FLAGS, () => ["--repo", join(dir, "no-such-repo"), "--offline"]],
  ["status", READ_FLAGS, () => ["--repo", join(dir, "no-such-repo")]],
  ["history", HISTORY_FLAGS, () => ["--repo", join(dir, "no-such-repo")]],
  ["validate", MANIFEST_LIMIT_FLAGS, () => [dir]],
  ["quickstart", QUICKSTART_FLAGS, () => ["--state-dir", join(dir, "quickstart")]],
  ["init", INIT_FLAGS, () => [join(dir, "init")]],
];

const CASES = COMMANDS.flatMap(([cmd, flags, base]) =>
  Object.entries(flags)
    .filter(([flag, spec]) => spec.type === "string" && NONSENSE[flag])
    .flatMap(([flag]) => NONSENSE[flag]!.map((value) => ({ cmd, flag, value, base }))),
);

describe("every flag of every subcommand", () => {
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "coxswain-flags-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("has its nonsense values listed here, or is free text", () => {
    const undecided = COMMANDS.flatMap(([cmd, flags]) =>
      Object.entries(flags)
        .filter(([flag, spec]) => spec.type === "string" && !NONSENSE[flag] && !FREE_TEXT.has(flag))
        .map(([flag]) => `${cmd} --${flag}`),
    );
    expect(undecided).toEqual([]);
  });

  it.each(CASES)("$cmd --$flag $value: exit 2, InvalidArgument", async ({ cmd, flag, value, base }) => {
    const stderr = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    const stdout = vi.spyOn(process.stdout, "write").mockImplementation(() => true);
    try {
      const code = await main([cmd, ...base(), ...(NEEDS[flag] ?? []), `--${flag}`, value]);
      const said = stderr.mock.calls.map((c) => String(c[0])).join("");
      expect({ code, said: said.slice(0, 22) }).toEqual({ code: 2, said: "error InvalidArgument:" });
    } finally {
      stderr.mockRestore();
      stdout.mockRestore();
    }
  });
});
