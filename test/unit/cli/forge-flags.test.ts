/**
 * `coxswain run --forge …`: the forge, its API base, the repository on it and the token (from a file, else
 * COXSWAIN_FORGE_TOKEN) are read before anything starts; a combination that cannot work is InvalidArgument
 * (exit code 2), and what is printed names where the token came from, never the token.
 */
import { chmod, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { main } from "../../../operator/src/cli/main.js";
import { FORGE_TOKEN_ENV, runOptions } from "../../../operator/src/cli/run.js";
import { coxErrorOf } from "../../support/errors.js";
import { tempDir } from "../../support/git-repo.js";

const TOKEN = "forge-token-4d1e8b2a7c";
let dir: string;
let tokenFile: string;

beforeEach(async () => {
  dir = await tempDir("coxswain-forge-flags-");
  tokenFile = join(dir, "token");
  await writeFile(tokenFile, `${TOKEN}\n`);
  await chmod(tokenFile, 0o600);
  delete process.env[FORGE_TOKEN_ENV];
});
afterEach(() => {
  delete process.env[FORGE_TOKEN_ENV];
});

/** A line of `run`'s text log without its time. */
const untimed = (line: string) => line.replace(/^\d\d:\d\d:\d\d /, "");
const run = (printed: string[], ...flags: string[]) => runOptions(["--repo", "/srv/repo", "--preview-branches", "pr/*", ...flags], (l) => printed.push(untimed(l)));

describe("--forge flags", () => {
  it.each([
    { what: "an unknown forge", flags: ["--forge", "bitbucket", "--forge-repo", "a/b"] },
    { what: "--forge without a token (no file, no environment)", flags: ["--forge", "github", "--forge-repo", "a/b"] },
    { what: "--forge without proposals to follow", flags: ["--forge", "github", "--forge-repo", "a/b"], plain: true },
    { what: "gitea without --forge-url", flags: ["--forge", "gitea", "--forge-repo", "a/b"], env: true },
    { what: "a --forge-url that is not http(s)", flags: ["--forge", "github", "--forge-repo", "a/b", "--forge-url", "ftp://x"], env: true },
    { what: "a --forge-url that is no URL", flags: ["--forge", "github", "--forge-repo", "a/b", "--forge-url", "http://[::1"], env: true },
    { what: "a --forge-url with credentials in it", flags: ["--forge", "github", "--forge-repo", "a/b", "--forge-url", "https://me:secret@api.github.com"], env: true },
    { what: "no --forge-repo with a repository on disk", flags: ["--forge", "github"], env: true },
    { what: "a --forge-repo without an owner", flags: ["--forge", "github", "--forge-repo", "deploy"], env: true },
    { what: "--forge-url without --forge", flags: ["--forge-url", "https://api.github.com"] },
    { what: "--forge-token-file without --forge", flags: ["--forge-token-file", "/nonexistent"] },
    { what: "a token file that does not exist", flags: ["--forge", "github", "--forge-repo", "a/b", "--forge-token-file", "/nonexistent/token"] },
  ])("refuses $what: InvalidArgument", async ({ flags, plain, env }) => {
    if (env) process.env[FORGE_TOKEN_ENV] = TOKEN;
    const p = plain ? runOptions(["--repo", "/srv/repo", ...flags], () => undefined) : run([], ...flags);
    expect((await coxErrorOf(p)).code).toBe("InvalidArgument");
  });

  it("reads the token from the file, the default API base of the forge and the repository of an http(s) --repo", async () => {
    const printed: string[] = [];
    const o = await runOptions(["--repo", "https://github.com/acme/deploy.git", "--preview-branches", "pr/*", "--forge", "github", "--forge-token-file", tokenFile], (l) => printed.push(untimed(l)));
    expect(o.forge).toEqual({ kind: "github", url: "https://api.github.com", repo: "acme/deploy", token: TOKEN });
    expect(printed).toContain(`forge token: from file ${tokenFile}`);
    expect(printed.join("\n")).not.toContain(TOKEN);
  });

  it("reads the token from COXSWAIN_FORGE_TOKEN, and a GitLab project path with groups", async () => {
    process.env[FORGE_TOKEN_ENV] = TOKEN;
    const printed: string[] = [];
    const o = await run(printed, "--forge", "gitlab", "--forge-repo", "group/sub/deploy");
    expect(o.forge).toEqual({ kind: "gitlab", url: "https://gitlab.com/api/v4", repo: "group/sub/deploy", token: TOKEN });
    expect(printed).toContain(`forge token: from environment (${FORGE_TOKEN_ENV})`);
    expect(printed.join("\n")).not.toContain(TOKEN);
  });

  it("gitea with its API base", async () => {
    const o = await run([], "--forge", "gitea", "--forge-url", "https://gitea.example/api/v1/", "--forge-repo", "acme/deploy", "--forge-token-file", tokenFile);
    expect(o.forge).toMatchObject({ kind: "gitea", url: "https://gitea.example/api/v1/", repo: "acme/deploy" });
  });

  it.each([
    ["--forge without a token", ["--forge", "github", "--forge-repo", "a/b"]],
    ["an unknown forge", ["--forge", "sourcehut", "--forge-repo", "a/b"]],
  ])("coxswain run exits 2 on %s", async (_what, flags) => {
    const stderr = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    try {
      expect(await main(["run", "--repo", "/srv/repo", "--preview-branches", "pr/*", ...flags])).toBe(2);
      expect(stderr.mock.calls.map((c) => String(c[0])).join("")).toMatch(/^error InvalidArgument: /);
    } finally {
      stderr.mockRestore();
    }
  });
});
