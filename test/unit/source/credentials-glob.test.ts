/**
 * Pure helpers of source/ added for remotes and proposals: the credentials file format and the
 * environment variables, and branch globs (the retry delays of a remote that is down: api/backoff.test.ts).
 */
import { describe, expect, it } from "vitest";
import { CoxError } from "../../../operator/src/api/errors.js";
import { credentialsFromEnv, DEFAULT_TOKEN_USERNAME, parseCredentials } from "../../../operator/src/source/credentials.js";
import { refGlob } from "../../../operator/src/source/refs.js";

const TOKEN = "ghp_Zx9token0000secret";

function failure(fn: () => unknown): CoxError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(CoxError);
    return err as CoxError;
  }
  throw new Error("expected a CoxError");
}

describe("parseCredentials", () => {
  it.each([
    ["username and password", "username=deployer\npassword=pa ss=word\n", { username: "deployer", password: "pa ss=word" }],
    ["a token alone (default username)", `password=${TOKEN}\n`, { username: DEFAULT_TOKEN_USERNAME, password: TOKEN }],
    ["git credential fill output", `protocol=https\nhost=git.example.com\nusername=bot\npassword=${TOKEN}\n`, { username: "bot", password: TOKEN }],
    ["comments, blank lines and CRLF", `# deploy bot\r\n\r\nusername=bot\r\npassword=${TOKEN}\r\n`, { username: "bot", password: TOKEN }],
    ["an empty username (default)", `username=\npassword=${TOKEN}`, { username: DEFAULT_TOKEN_USERNAME, password: TOKEN }],
  ])("reads %s", (_what, text, expected) => {
    expect(parseCredentials(text)).toEqual(expected);
  });

  it.each([
    ["no password", "username=bot\n"],
    ["an empty password", "username=bot\npassword=\n"],
    ["a bare token line", `${TOKEN}\n`],
    ["an unknown key", `user=bot\npassword=${TOKEN}\n`],
    ["a password given twice", `password=${TOKEN}\npassword=${TOKEN}x\n`],
  ])("rejects %s with InvalidArgument without quoting the secret", (_what, text) => {
    const err = failure(() => parseCredentials(text));
    expect(err.code).toBe("InvalidArgument");
    expect(err.message).not.toContain(TOKEN);
  });

  it("names the line of the problem", () => {
    expect(failure(() => parseCredentials(`username=bot\n\n${TOKEN}\n`)).message).toMatch(/line 3/);
  });
});

describe("credentialsFromEnv", () => {
  it.each([
    ["nothing set", {}, undefined],
    ["username and password", { COXSWAIN_GIT_USERNAME: "bot", COXSWAIN_GIT_PASSWORD: TOKEN }, { username: "bot", password: TOKEN }],
    ["a token alone", { COXSWAIN_GIT_PASSWORD: TOKEN }, { username: DEFAULT_TOKEN_USERNAME, password: TOKEN }],
  ])("reads %s", (_what, env, expected) => {
    expect(credentialsFromEnv(env)).toEqual(expected);
  });

  it("rejects a username without a password", () => {
    expect(failure(() => credentialsFromEnv({ COXSWAIN_GIT_USERNAME: "bot" })).code).toBe("InvalidArgument");
  });
});

describe("refGlob", () => {
  it.each([
    ["pr/*", "pr/login", true],
    ["pr/*", "pr/login/form", false],
    ["pr/*", "pr/", true],
    ["pr/*", "prx/login", false],
    ["pr/**", "pr/login/form", true],
    ["feature-?", "feature-a", true],
    ["feature-?", "feature-ab", false],
    ["*", "main", true],
    ["*", "coxswain/status", false],
    ["release.1", "releasex1", false],
    ["a+b", "a+b", true],
  ])("%s matches %s: %s", (pattern, name, expected) => {
    expect(refGlob(pattern).test(name)).toBe(expected);
  });
});
