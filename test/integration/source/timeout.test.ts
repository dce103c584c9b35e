/**
 * Deadlines: a server that accepts connections and never answers (or sends headers and then nothing)
 * must make clone, fetch and push fail with GitTimeout at the configured deadline, and leave the mirror
 * usable once the server answers again.
 */
import { readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CoxError } from "../../../operator/src/api/errors.js";
import { openRepository } from "../../../operator/src/source/index.js";
import type { Repository } from "../../../operator/src/source/types.js";
import { makeRepo, tempDir, type TestRepo } from "../../support/git-repo.js";
import { createBareRepo, startGitServer, type GitServer, type StallMode } from "../../support/git-server.js";

const TIMEOUT_MS = 600;

let root: string;
let state: string;
let server: GitServer;
let work: TestRepo;
let repo: Repository;

beforeAll(async () => {
  root = await tempDir("coxswain-server-");
  state = await tempDir("coxswain-state-");
  await createBareRepo(root, "app.git");
  server = await startGitServer({ root });
  work = await makeRepo();
  await work.write("a.yaml", "a: 1\n");
  await work.commit("first");
  await work.push(server.url("app.git"), "main");
  repo = await openRepository({ repo: server.url("app.git"), stateDir: state, timeoutMs: TIMEOUT_MS });
});

afterAll(async () => {
  await repo?.close();
  await server?.close();
  await work?.cleanup();
  for (const d of [root, state]) if (d) await rm(d, { recursive: true, force: true });
});

/** Runs op against a stalling server; returns the error and how long it took. */
async function stalled(mode: Exclude<StallMode, false>, op: () => Promise<unknown>): Promise<{ err: unknown; ms: number }> {
  server.stall(mode);
  const t0 = performance.now();
  try {
    const err = await op().then(
      () => undefined,
      (e: unknown) => e,
    );
    return { err, ms: performance.now() - t0 };
  } finally {
    server.stall(false);
  }
}

const MODES: Exclude<StallMode, false>[] = ["no-response", "headers-then-stall"];
/** What to run, and the operation the error must name. */
const OPS: [string, "clone" | "fetch" | "push", () => Promise<unknown>][] = [
  // The mirror is made by a fetch into an empty repository: its error names a fetch.
  ["a first clone", "fetch", () => openRepository({ repo: server.url("app.git"), stateDir: join(state, "fresh"), timeoutMs: TIMEOUT_MS })],
  ["a refresh", "fetch", () => repo.refresh()],
  [
    "a push",
    "push",
    async () => {
      await repo.writer.commitFiles({ ref: "refs/heads/coxswain/status", files: [{ path: "t", content: String(Math.random()) }], message: "t" });
      return repo.writer.push(["refs/heads/coxswain/status"]);
    },
  ],
  ["a fetch of one ref", "fetch", () => repo.writer.fetchRemoteRef("refs/heads/coxswain/status")],
];

describe.each(MODES)("a server that stalls (%s)", (mode) => {
  it.each(OPS)("fails %s with GitTimeout at the deadline", async (_what, opName, op) => {
    const { err, ms } = await stalled(mode, op);
    expect(err).toBeInstanceOf(CoxError);
    // Ended by our deadline (GitTimeout naming it), not by the server or the OS, and not before it.
    expect((err as CoxError).code).toBe("GitTimeout");
    expect((err as CoxError).retry).toBe("transient");
    expect((err as CoxError).details).toMatchObject({ op: opName, timeoutMs: TIMEOUT_MS });
    expect(ms).toBeGreaterThanOrEqual(TIMEOUT_MS - 50);
  });
});

describe("after a timeout", () => {
  it("leaves no half-made mirror behind and fetches normally once the server answers", async () => {
    await stalled("no-response", () => repo.refresh());
    const fresh = join(state, "fresh", "mirrors");
    const leftovers = await readdir(fresh).catch(() => []);
    expect(leftovers).toEqual([]);
    await work.write("a.yaml", "a: 2\n");
    const next = await work.commit("second");
    await work.push(server.url("app.git"), "main");
    await repo.refresh();
    expect(await repo.head("main")).toBe(next);
  });
});
