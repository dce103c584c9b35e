/**
 * Credentials of a remote repository, against the smart-HTTP server with basic auth: from the
 * environment (a token alone, or username and password) or a credentials file; sent up front (one round
 * trip); wrong ones fail as GitAuthFailed. And they are written nowhere: not in the state dir (objects
 * decompressed), not in the server's repository (status branch, notes), not in the operator's log lines,
 * not in any error message.
 */
import { execFile } from "node:child_process";
import { chmod, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterEach, describe, expect, it } from "vitest";
import type { CoxError } from "../../../operator/src/api/errors.js";
import { FakeRuntime } from "../../../operator/src/runtime/fake/index.js";
import { openRepository, readCredentialsFile, resolveGitCredentials } from "../../../operator/src/source/index.js";
import { StatusWriter } from "../../../operator/src/status/writer.js";
import { startOperator } from "../../../operator/src/sync/operator.js";
import { makeRepo, runGit, tempDir } from "../../support/git-repo.js";
import { createBareRepo, startGitServer, type GitServer } from "../../support/git-server.js";
import { configMapYaml, deploymentYaml } from "../../support/manifests.js";
import { waitFor } from "../../support/wait.js";
import { lineLogger } from "../../support/log.js";

const execFileAsync = promisify(execFile);
const USER = "deploy-bot";
const TOKEN = "tok_Q7vW2mZ9xL4kP1sR8nB3";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface Env {
  root: string;
  bare: string;
  server: GitServer;
  url: string;
  authHeaders: (string | undefined)[];
  deploy: string;
  state: string;
}

async function env(username = USER, password = TOKEN): Promise<Env> {
  const root = await tempDir("coxswain-server-");
  cleanups.push(() => rm(root, { recursive: true, force: true }));
  const bare = await createBareRepo(root, "app.git");
  const authHeaders: (string | undefined)[] = [];
  const server = await startGitServer({ root, auth: { username, password }, onAuthorization: (h) => authHeaders.push(h) });
  cleanups.push(() => server.close());
  const work = await makeRepo();
  cleanups.push(() => work.cleanup());
  await work.write("config.yaml", configMapYaml("app-config", { GREETING: "hello" }));
  await work.write("web.yaml", deploymentYaml({ replicas: 1 }));
  const deploy = await work.commit("deploy");
  await work.push(server.urlWithCredentials("app.git", username, password), "main");
  const state = await tempDir("coxswain-state-");
  cleanups.push(() => rm(state, { recursive: true, force: true }));
  authHeaders.length = 0;
  return { root, bare, server, url: server.url("app.git"), authHeaders, deploy, state };
}

/** Every spelling of the secret that could leak: as is, and inside a basic-auth header. */
function secretForms(username: string, password: string): string[] {
  return [password, Buffer.from(`${username}:${password}`).toString("base64"), Buffer.from(password).toString("base64")];
}

/** All files under dir, plus every object of each git repository in it, decompressed. */
async function everythingUnder(dir: string): Promise<Buffer> {
  const parts: Buffer[] = [];
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    const path = join(e.parentPath, e.name);
    if (e.isFile()) parts.push(await readFile(path));
    if (e.isDirectory() && (e.name.endsWith(".git") || e.name === ".git")) {
      const { stdout } = await execFileAsync("git", ["--git-dir", path, "cat-file", "--batch-all-objects", "--batch", "--unordered"], {
        encoding: "buffer",
        maxBuffer: 256 * 1024 * 1024,
      });
      parts.push(stdout);
    }
  }
  return Buffer.concat(parts);
}

function expectNoSecret(haystack: Buffer | string, forms: string[]): void {
  const buf = typeof haystack === "string" ? Buffer.from(haystack) : haystack;
  for (const s of forms) expect(buf.includes(Buffer.from(s)), `found ${s.slice(0, 4)}… in the output`).toBe(false);
}

describe("credentials from the environment", () => {
  it("authenticate clone and fetch with a token alone, sent with the first request", async () => {
    const e = await env("x-access-token", TOKEN);
    const creds = await resolveGitCredentials({ env: { COXSWAIN_GIT_PASSWORD: TOKEN } });
    expect(creds?.source).toMatch(/environment/);
    const repo = await openRepository({ repo: e.url, stateDir: e.state, auth: creds!.credentials, timeoutMs: 10_000 });
    cleanups.push(() => repo.close());
    expect(await repo.head("main")).toBe(e.deploy);
    // Up front: no request went out without the header (no 401 round trip first).
    expect(e.authHeaders.length).toBeGreaterThan(0);
    expect(e.authHeaders.every((h) => h === `Basic ${Buffer.from(`x-access-token:${TOKEN}`).toString("base64")}`)).toBe(true);
  });

  it("fail with GitAuthFailed when wrong, naming neither username nor secret", async () => {
    const e = await env();
    const creds = await resolveGitCredentials({ env: { COXSWAIN_GIT_USERNAME: USER, COXSWAIN_GIT_PASSWORD: `${TOKEN}-old` } });
    const err = (await openRepository({ repo: e.url, stateDir: e.state, auth: creds!.credentials }).catch((x: unknown) => x)) as CoxError;
    expect(err.code).toBe("GitAuthFailed");
    expectNoSecret(`${err.message} ${JSON.stringify(err.details)} ${String(err.cause)}`, secretForms(USER, `${TOKEN}-old`));
  });
});

describe("a credentials file", () => {
  it("is read with a warning when others can read it, and its credentials work", async () => {
    const e = await env();
    const dir = await tempDir("coxswain-creds-");
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const file = join(dir, "git-credentials");
    await writeFile(file, `# CI bot\nprotocol=http\nhost=127.0.0.1\nusername=${USER}\npassword=${TOKEN}\n`);
    await chmod(file, 0o640);
    const { credentials, warnings } = await readCredentialsFile(file);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/0640.*chmod 600/);
    await chmod(file, 0o600);
    expect((await readCredentialsFile(file)).warnings).toEqual([]);
    // The file wins over the environment.
    const resolved = await resolveGitCredentials({ file, env: { COXSWAIN_GIT_USERNAME: "someone", COXSWAIN_GIT_PASSWORD: "else" } });
    expect(resolved?.credentials).toEqual(credentials);
    const repo = await openRepository({ repo: e.url, stateDir: e.state, auth: credentials });
    cleanups.push(() => repo.close());
    expect(await repo.head("main")).toBe(e.deploy);
  });

  it("that is missing or malformed is InvalidArgument, and the message quotes nothing from it", async () => {
    const dir = await tempDir("coxswain-creds-");
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const file = join(dir, "creds");
    await writeFile(file, `${TOKEN}\n`, { mode: 0o600 });
    const bad = (await readCredentialsFile(file).catch((x: unknown) => x)) as CoxError;
    expect(bad.code).toBe("InvalidArgument");
    expectNoSecret(bad.message, [TOKEN]);
    await expect(readCredentialsFile(join(dir, "missing"))).rejects.toMatchObject({ code: "InvalidArgument" });
  });
});

describe("credentials are written nowhere", () => {
  it("not by the status writer pushing to the remote, nor in the mirror", async () => {
    const e = await env();
    const repo = await openRepository({ repo: e.url, stateDir: e.state, auth: { username: USER, password: TOKEN }, timeoutMs: 10_000 });
    cleanups.push(() => repo.close());
    const errors: CoxError[] = [];
    const w = new StatusWriter({ writer: repo.writer, remote: true, debounceMs: 10, onError: (x) => errors.push(x) });
    await w.load();
    w.store.setCommit({
      commit: e.deploy,
      branch: "main",
      subject: "deploy",
      phase: "Succeeded",
      message: "ok",
      changes: [],
      errors: [],
      timings: { seen: "2024-01-01T00:00:00.000Z" },
    });
    await w.close();
    expect(errors).toEqual([]);
    expect(await runGit(["--git-dir", e.bare, "notes", "--ref=coxswain", "show", e.deploy])).toBe("coxswain: Succeeded — ok");
    const forms = secretForms(USER, TOKEN);
    expectNoSecret(await everythingUnder(e.state), forms);
    expectNoSecret(await everythingUnder(e.root), forms);
  });

  it("not by a whole operator run: state dir, server repository, log lines, error messages", async () => {
    const e = await env();
    const lines: string[] = [];
    const op = await startOperator({
      repo: e.server.urlWithCredentials("app.git", USER, TOKEN),
      stateDir: e.state,
      runtime: "process",
      pollMs: 200,
      fleetPollMs: 200,
      statusDebounceMs: 50,
      gitTimeoutMs: 10_000,
      log: lineLogger((l) => lines.push(l)),
      runtimeFactory: () => new FakeRuntime({ name: "local", cpuMillis: 4000, memoryBytes: 8 * 2 ** 30 }),
    });
    let stopped = false;
    cleanups.push(async () => {
      if (!stopped) await op.stop();
    });
    await waitFor(
      "the commit recorded on the server",
      async () => /phase: Succeeded/.test(await runGit(["--git-dir", e.bare, "show", `coxswain/status:commits/${e.deploy.slice(0, 2)}/${e.deploy}.yaml`]).catch(() => "")),
      60_000,
      100,
    );
    // A fetch that fails (the server refuses for a moment) must not leak either.
    e.server.stall("reset");
    await waitFor("a failed fetch reported", () => lines.some((l) => l.startsWith("source: GitFetchFailed")), 30_000, 20);
    e.server.stall(false);
    await op.stop();
    stopped = true;
    const forms = [...secretForms(USER, TOKEN), `${USER}:${TOKEN}`];
    expect(lines.some((l) => l.includes("following"))).toBe(true);
    expectNoSecret(lines.join("\n"), forms);
    const state = await everythingUnder(e.state);
    // The search does see inside compressed objects: the manifest text is found there.
    expect(state.includes(Buffer.from(`GREETING: "hello"`))).toBe(true);
    expectNoSecret(state, forms);
    expectNoSecret(await everythingUnder(e.root), forms);
  });
});
