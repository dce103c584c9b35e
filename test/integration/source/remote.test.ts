/**
 * Remote repositories over a real smart-HTTP server (git http-backend) with basic auth: the mirror is
 * cloned on first open, refreshed by fetch, reused on the next open; our refs are pushed; credentials
 * never leak into `location`, errors or files under the state dir.
 */
import { readdir, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CoxError, isCoxError } from "../../../operator/src/api/errors.js";
import { mirrorPath, openRepository } from "../../../operator/src/source/index.js";
import type { Repository } from "../../../operator/src/source/types.js";
import { makeRepo, runGit, tempDir, type TestRepo } from "../../support/git-repo.js";
import { createBareRepo, startGitServer, type GitServer } from "../../support/git-server.js";

const USER = "deployer";
const PASS = "s3cret-Pa55word";
const STATUS = "refs/heads/coxswain/status";
const NOTES = "refs/notes/coxswain";

let root: string;
let server: GitServer;
let work: TestRepo;
const opened: Repository[] = [];
const dirs: string[] = [];
/** Every error our code raised in this file, checked for credentials at the end. */
const errors: unknown[] = [];

async function newStateDir(): Promise<string> {
  const d = await tempDir("coxswain-state-");
  dirs.push(d);
  return d;
}
async function open(url: string, stateDir: string, extra: { auth?: { username: string; password: string } } = {}): Promise<Repository> {
  const repo = await openRepository({ repo: url, stateDir, timeoutMs: 10_000, ...extra });
  opened.push(repo);
  return repo;
}
async function failure(p: Promise<unknown>): Promise<CoxError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(CoxError);
  errors.push(err);
  return err as CoxError;
}
const bare = (name: string): string => join(root, name);
const serverGit = (name: string, ...args: string[]): Promise<string> => runGit(["--git-dir", bare(name), ...args]);

beforeAll(async () => {
  root = await tempDir("coxswain-server-");
  await createBareRepo(root, "app.git");
  server = await startGitServer({ root, auth: { username: USER, password: PASS } });
  work = await makeRepo();
  await work.git(["remote", "add", "origin", server.urlWithCredentials("app.git", USER, PASS)]);
  await work.write("apps/web/deployment.yaml", "kind: Deployment\nname: web\n");
  await work.write("apps/web/service.yaml", "kind: Service\n");
  await work.write("README.md", "hi\n");
  await work.commit("first");
  await work.git(["tag", "v1"]);
  await work.push("origin", "main");
  await work.git(["push", "--quiet", "origin", "v1"]);
});

afterAll(async () => {
  for (const r of opened) await r.close();
  await server?.close();
  await work?.cleanup();
  for (const d of [root, ...dirs]) if (d) await rm(d, { recursive: true, force: true });
});

describe("a remote repository", () => {
  it("is cloned into a bare mirror on first open and reads the same trees as the server", async () => {
    const state = await newStateDir();
    const repo = await open(server.urlWithCredentials("app.git", USER, PASS), state);
    expect(repo.remote).toBe(true);
    expect(repo.location).toBe(server.url("app.git"));
    const head = await serverGit("app.git", "rev-parse", "main");
    expect(await repo.head("main")).toBe(head);
    expect(await repo.reader.resolve("main")).toBe(head);
    expect(await repo.reader.resolve("refs/heads/main")).toBe(head);
    expect(await repo.reader.resolve("v1")).toBe(await serverGit("app.git", "rev-parse", "v1^{commit}"));
    const lsTree = (await serverGit("app.git", "ls-tree", "-r", "main")).split("\n").map((l) => ({ path: l.split("\t")[1]!, oid: l.split(" ")[2]!.split("\t")[0]! }));
    expect(await repo.reader.listFiles(head, "")).toEqual(lsTree);
    const mirror = mirrorPath(state, server.url("app.git"));
    expect(await runGit(["--git-dir", mirror, "rev-parse", "--is-bare-repository"])).toBe("true");
    expect(await runGit(["--git-dir", mirror, "config", "remote.origin.url"])).toBe(server.url("app.git"));
  });

  it("takes credentials from the auth option as well", async () => {
    const repo = await open(server.url("app.git"), await newStateDir(), { auth: { username: USER, password: PASS } });
    expect(await repo.head("main")).toBe(await serverGit("app.git", "rev-parse", "main"));
  });

  it("sees a commit pushed to the server only after refresh, in refs/remotes/origin and never in a local branch", async () => {
    const state = await newStateDir();
    const repo = await open(server.urlWithCredentials("app.git", USER, PASS), state);
    const before = await repo.head("main");
    await work.write("apps/web/deployment.yaml", "kind: Deployment\nname: web\nreplicas: 2\n");
    const next = await work.commit("scale web");
    await work.push("origin", "main");
    expect(await repo.head("main")).toBe(before);
    await repo.refresh();
    expect(await repo.head("main")).toBe(next);
    expect(await repo.reader.changedFiles(before!, next, "")).toEqual([{ path: "apps/web/deployment.yaml", before: expect.any(String), after: expect.any(String) }]);
    const refs = (await runGit(["--git-dir", mirrorPath(state, server.url("app.git")), "for-each-ref", "--format=%(refname)"])).split("\n");
    expect(refs).toContain("refs/remotes/origin/main");
    expect(refs).not.toContain("refs/heads/main");
  });

  it("reuses an existing mirror on the next open without talking to the server", async () => {
    const state = await newStateDir();
    await open(server.urlWithCredentials("app.git", USER, PASS), state);
    const requests = server.requests;
    const again = await open(server.urlWithCredentials("app.git", USER, PASS), state);
    expect(server.requests).toBe(requests);
    expect(await again.head("main")).toBe(await serverGit("app.git", "rev-parse", "main"));
  });

  it("mirrors an empty repository and picks up its first branch on refresh", async () => {
    await createBareRepo(root, "empty.git");
    const repo = await open(server.urlWithCredentials("empty.git", USER, PASS), await newStateDir());
    expect(await repo.head("main")).toBeUndefined();
    const r = await makeRepo();
    try {
      await r.write("a.yaml", "a: 1\n");
      const oid = await r.commit("first");
      await r.push(server.urlWithCredentials("empty.git", USER, PASS), "main");
      await repo.refresh();
      expect(await repo.head("main")).toBe(oid);
    } finally {
      await r.cleanup();
    }
  });

  it("fetches a remote whose HEAD names a branch that does not exist", async () => {
    await createBareRepo(root, "headless.git");
    await serverGit("headless.git", "symbolic-ref", "HEAD", "refs/heads/trunk");
    await work.push(server.urlWithCredentials("headless.git", USER, PASS), "main");
    const repo = await open(server.urlWithCredentials("headless.git", USER, PASS), await newStateDir());
    expect(await repo.head("main")).toBe(await serverGit("headless.git", "rev-parse", "main"));
  });

  it("repacks the mirror once fetches have piled up packs, and still reads every file", async () => {
    await createBareRepo(root, "busy.git");
    const url = server.urlWithCredentials("busy.git", USER, PASS);
    const r = await makeRepo();
    try {
      await r.write("n.yaml", "n: 0\n");
      await r.commit("0");
      await r.push(url, "main");
      const state = await newStateDir();
      const repo = await open(url, state);
      for (let i = 1; i <= 40; i++) {
        await r.write("n.yaml", `n: ${i}\n`);
        await r.write(`files/f${i}.yaml`, `f: ${i}\n`);
        await r.commit(String(i));
        await r.push(url, "main");
        await repo.refresh();
      }
      const packs = (await readdir(join(mirrorPath(state, server.url("busy.git")), "objects", "pack"))).filter((n) => n.endsWith(".pack"));
      expect(packs.length).toBeLessThan(32);
      const head = await repo.head("main");
      expect(head).toBe(await r.revParse("main"));
      const files = await repo.reader.listFiles(head!, "files");
      expect(files).toHaveLength(40);
      for (const f of files) expect(new TextDecoder().decode(await repo.reader.readBlob(f.oid))).toMatch(/^f: \d+\n$/);
    } finally {
      await r.cleanup();
    }
  });
});

describe("failures of a remote repository", () => {
  it.each([
    ["wrong credentials", () => server.urlWithCredentials("app.git", USER, "wrong")],
    ["no credentials", () => server.url("app.git")],
  ])("rejects %s with GitAuthFailed and leaves no mirror behind", async (_what, url) => {
    const state = await newStateDir();
    const err = await failure(open(url(), state));
    expect(err.code).toBe("GitAuthFailed");
    expect(await readdir(join(state, "mirrors"))).toEqual([]);
  });

  it("rejects a URL where the server has no repository with RepoNotFound", async () => {
    const err = await failure(open(server.urlWithCredentials("missing.git", USER, PASS), await newStateDir()));
    expect(err.code).toBe("RepoNotFound");
  });

  it("reports a server that went away as GitFetchFailed on refresh", async () => {
    const other = await startGitServer({ root });
    const repo = await open(other.url("app.git"), await newStateDir());
    await other.close();
    const err = await failure(repo.refresh());
    expect(err.code).toBe("GitFetchFailed");
    expect(err.retry).toBe("transient");
  });
});

describe("writing to a remote repository", () => {
  it("pushes the status branch and notes so that they are visible in the server's repository", async () => {
    const repo = await open(server.urlWithCredentials("app.git", USER, PASS), await newStateDir());
    const head = (await repo.head("main"))!;
    const oid = await repo.writer.commitFiles({ ref: STATUS, files: [{ path: "summary.yaml", content: "ok: true\n" }], message: "status: test" });
    await repo.writer.setNote(NOTES, head, "coxswain: Succeeded — pushed");
    await repo.writer.push([STATUS, NOTES]);
    expect(await serverGit("app.git", "rev-parse", STATUS)).toBe(oid);
    expect(await serverGit("app.git", "show", `${STATUS}:summary.yaml`)).toBe("ok: true");
    expect(await serverGit("app.git", "notes", "--ref=coxswain", "show", head)).toBe("coxswain: Succeeded — pushed");
    expect(await repo.writer.fetchRemoteRef(STATUS)).toBe(oid);
    expect(await repo.writer.fetchRemoteRef("refs/heads/does-not-exist")).toBeUndefined();
  });

  it("rejects a push with GitPushRejected when someone else moved the remote ref", async () => {
    const ref = "refs/heads/coxswain/contended";
    const repo = await open(server.urlWithCredentials("app.git", USER, PASS), await newStateDir());
    await repo.writer.commitFiles({ ref, files: [{ path: "a", content: "ours 1" }], message: "ours 1" });
    await repo.writer.push([ref]);
    // Someone else adds a commit on top of ours on the server.
    const other = await makeRepo();
    try {
      await other.git(["fetch", "--quiet", server.urlWithCredentials("app.git", USER, PASS), `${ref}:${ref}`]);
      await other.git(["checkout", "--quiet", ref.replace("refs/heads/", "")]);
      await other.write("a", "theirs");
      await other.commit("theirs");
      await other.push(server.urlWithCredentials("app.git", USER, PASS), ref.replace("refs/heads/", ""));
    } finally {
      await other.cleanup();
    }
    await repo.writer.commitFiles({ ref, files: [{ path: "a", content: "ours 2" }], message: "ours 2" });
    const err = await failure(repo.writer.push([ref]));
    expect(err.code).toBe("GitPushRejected");
    expect(await serverGit("app.git", "show", `${ref}:a`)).toBe("theirs");
  });
});

describe("credentials", () => {
  it("never appear in the location, in error messages or in any file under the state dir", async () => {
    const state = await newStateDir();
    const repo = await open(server.urlWithCredentials("app.git", USER, PASS), state);
    await repo.refresh();
    await repo.writer.commitFiles({ ref: STATUS, files: [{ path: "x", content: String(Date.now()) }], message: "status" });
    await repo.writer.push([STATUS]).catch((e: unknown) => errors.push(e));
    errors.push(await failure(openRepository({ repo: server.urlWithCredentials("missing.git", USER, PASS), stateDir: state })));
    errors.push(await failure(openRepository({ repo: `http://${USER}:${PASS}@127.0.0.1:1/nothing.git`, stateDir: state, timeoutMs: 2_000 })));
    const secrets = [PASS, Buffer.from(`${USER}:${PASS}`).toString("base64"), `${USER}:`];
    expect(repo.location).not.toContain(USER);
    for (const e of errors) {
      const text = e instanceof CoxError ? `${e.message} ${JSON.stringify(e.details ?? {})}` : String(e);
      for (const s of secrets) expect(text).not.toContain(s);
    }
    // grep -r over everything under every state dir of this file, binary files included.
    const grep = async (dir: string): Promise<string[]> => {
      const hits: string[] = [];
      for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
        if (!entry.isFile()) continue;
        const path = join(entry.parentPath, entry.name);
        const bytes = await readFile(path);
        for (const s of secrets) if (bytes.includes(Buffer.from(s))) hits.push(`${path}: ${s}`);
      }
      return hits;
    };
    for (const d of dirs) expect(await grep(d)).toEqual([]);
    expect(isCoxError(errors[0])).toBe(true);
  });
});
