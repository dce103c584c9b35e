/**
 * How the running operator reads commits (in-process, real Git repository, fake runtime): a commit over a
 * manifest limit, with a file that is not UTF-8 or with a symbolic link is Invalid and applies nothing
 * while the previous commit keeps running; /healthz answers while a large commit is being parsed; and
 * nothing keeps a replaced commit's parsed objects beyond the bounded parse cache.
 */
import { symlink, writeFile } from "node:fs/promises";
import http from "node:http";
import path from "node:path";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ManifestCache } from "../../../operator/src/manifest/index.js";
import type { FakeRuntime } from "../../../operator/src/runtime/fake/index.js";
import { LABELS } from "../../../operator/src/runtime/labels.js";
import type { OperatorOptions, RunningOperator } from "../../../operator/src/sync/operator.js";
import { makeRepo, runGit, tempDir, type TestRepo } from "../../support/git-repo.js";
import { configMapYaml, deploymentYaml } from "../../support/manifests.js";
import { waitFor } from "../../support/wait.js";
import { fakeRuntimeFactory, startTestOperator, stopTestOperator } from "../../support/operator-fixture.js";

describe("the operator reading commits", () => {
  let repo: TestRepo;
  let stateDir: string;
  let runtimes: Map<string, FakeRuntime>;
  let op: RunningOperator | undefined;
  const lines: string[] = [];

  beforeEach(async () => {
    repo = await makeRepo();
    stateDir = await tempDir("coxswain-state-");
    runtimes = new Map();
    lines.length = 0;
  });

  afterEach(async () => {
    await stopTestOperator(op, repo, stateDir);
    op = undefined;
  });

  async function start(extra: Partial<OperatorOptions> = {}): Promise<RunningOperator> {
    op = await startTestOperator(repo, stateDir, lines, { seed: 1, runtimeFactory: fakeRuntimeFactory(runtimes, 4000), ...extra });
    return op;
  }

  async function running(): Promise<{ pod: string; commit: string }[]> {
    const out = [];
    for (const rt of runtimes.values()) {
      for (const c of await rt.list()) if (c.state === "running") out.push({ pod: c.labels[LABELS.pod]!, commit: c.labels[LABELS.commit]! });
    }
    return out.sort((a, b) => (a.pod < b.pod ? -1 : 1));
  }

  async function record(oid: string): Promise<string> {
    await op!.flushStatus();
    return runGit(["show", `coxswain/status:commits/${oid.slice(0, 2)}/${oid}.yaml`], { cwd: repo.dir }).catch(() => "");
  }

  async function phase(oid: string): Promise<string | undefined> {
    return /^phase: (\w+)/m.exec(await record(oid))?.[1];
  }

  /** Applies a good commit, then `change`s the tree and commits; returns the bad commit's record once Invalid. */
  async function invalidAfterGood(change: () => Promise<void>, extra: Partial<OperatorOptions> = {}): Promise<{ text: string; good: string }> {
    await repo.write("web.yaml", deploymentYaml({ replicas: 2, image: "app:v1", env: [{ name: "GREETING", value: "ab" }] }));
    const good = await repo.commit("good");
    await start(extra);
    await waitFor("good Succeeded", async () => (await phase(good)) === "Succeeded");
    const before = await running();
    expect(before).toHaveLength(2);
    await change();
    const bad = await repo.commit("bad");
    await waitFor("bad Invalid", async () => (await phase(bad)) === "Invalid");
    expect(await running()).toEqual(before);
    expect(op!.sync.commit()).toBe(good);
    return { text: await record(bad), good };
  }

  it.each<[string, () => Promise<void>, Partial<OperatorOptions>, RegExp[]]>([
    [
      "a file above the per-file limit, never parsed (its YAML error is not reported)",
      () => writeFile(path.join(repo.dir, "big.yaml"), `kind: [broken\n# ${"x".repeat(5000)}\n`),
      { manifests: { limits: { maxFileBytes: 4096 } } },
      [/code: FileTooLarge/, /file: big.yaml/, /--manifest-max-file-size/],
    ],
    [
      "a file with more documents than allowed",
      () => repo.write("many.yaml", [1, 2, 3].map((i) => configMapYaml(`c${i}`, { k: "v" })).join("---\n")),
      { manifests: { limits: { maxDocumentsPerFile: 2 } } },
      [/code: TooManyDocuments/, /file: many.yaml/, /line: 15\n/, /--manifest-max-documents/],
    ],
    [
      "manifests above the total limit",
      () => repo.write("more.yaml", configMapYaml("more", { k: "x".repeat(3000) })),
      { manifests: { limits: { maxTotalBytes: 2048 } } },
      [/code: ManifestsTooLarge/, /file: more.yaml/, /--manifest-max-total-size/],
    ],
    [
      'an environment value that is not UTF-8 (it used to run as "a\\uFFFDb")',
      () =>
        writeFile(
          path.join(repo.dir, "web.yaml"),
          Buffer.from(
            deploymentYaml({ replicas: 2, image: "app:v2", env: [{ name: "GREETING", value: "ab" }] })
              .replace('"ab"', '"a\u0000b"')
              .replace("\u0000", "\xff"),
            "latin1",
          ),
        ),
      {},
      [/code: YamlSyntax/, /file: web.yaml/, /line: 21\n/, /col: 24\n/],
    ],
    ["a symbolic link to a manifest", () => symlink("web.yaml", path.join(repo.dir, "link.yaml")), {}, [/code: SymlinkNotAllowed/, /file: link.yaml/]],
    [
      "a symbolic link to a directory",
      async () => {
        await repo.write("shared/cm.yaml", configMapYaml("shared", { k: "v" }));
        await symlink("shared", path.join(repo.dir, "apps"));
      },
      {},
      [/code: SymlinkNotAllowed/, /file: apps\n/],
    ],
  ])("applies nothing from a commit with %s; the previous commit keeps running", async (_, change, extra, expected) => {
    const { text } = await invalidAfterGood(change, extra);
    for (const re of expected) expect(text).toMatch(re);
  });

  it("answers /healthz over HTTP while a large commit is being parsed", async () => {
    await repo.write("seed.yaml", configMapYaml("seed", { k: "v" }));
    const seed = await repo.commit("seed");
    const cache = new ManifestCache();
    await start({ listen: "127.0.0.1:0", manifests: { cache } });
    await waitFor("seed Succeeded", async () => (await phase(seed)) === "Succeeded");

    // Large but allowed: many files, every one a cache miss.
    const N = 3000;
    for (let i = 0; i < N; i++) await repo.write(`many/cm-${String(i).padStart(4, "0")}.yaml`, configMapYaml(`cm-${i}`, { index: String(i), text: "some data ".repeat(8) }));
    cache.resetStats();
    const big = await repo.commit("3,000 ConfigMaps");

    // The poll itself only runs when the loop is free: seeing a parse count between 0 and N means the
    // parsing gives way; then a real request must be answered before the parsing is over.
    const seen = await waitFor("parsing to start", () => (cache.stats.parses >= N ? "all parsed before the poll ran" : cache.stats.parses > 0 ? "under way" : undefined), 90_000, 5);
    expect(seen).toBe("under way");
    const health = await get(`${op!.server!.url}/healthz`);
    const parsedWhenAnswered = cache.stats.parses;
    expect(health.status).toBe(200);
    expect(JSON.parse(health.body)).toMatchObject({ ok: true });
    expect(parsedWhenAnswered).toBeLessThan(N);
    await waitFor("big Succeeded", async () => (await phase(big)) === "Succeeded", 120_000);
    expect(cache.stats.parses).toBe(N);
  });

  it("keeps no parsed object of a replaced commit beyond the bounded parse cache", async () => {
    setFlagsFromString("--expose-gc");
    const gc = runInNewContext("gc") as () => void;
    const write = async (dir: string, fill: string): Promise<number> => {
      let bytes = 0;
      for (let i = 0; i < 20; i++) {
        const text = configMapYaml(`${dir}-${i}`, { k: fill.repeat(200) });
        bytes += Buffer.byteLength(text);
        await repo.write(`${dir}/cm-${i}.yaml`, text);
      }
      return bytes;
    };
    await write("a", "v");
    const a = await repo.commit("A");
    // The cache holds one commit's files and not one more, so loading B must evict all of A's.
    const cache = new ManifestCache({ maxBytes: 20 * 270 });
    await start({ manifests: { cache } });
    await waitFor("A Succeeded", async () => (await phase(a)) === "Succeeded");
    // What A left: the applied graph's objects, the cached parsed files and their position data (the text).
    // Taken in a function of its own so that no variable of this test keeps them.
    const oids = (await runGit(["ls-tree", "-r", "--format=%(objectname)", a, "a/"], { cwd: repo.dir })).split("\n");
    expect(oids).toHaveLength(20);
    const refs = weakRefsOf(op!, cache, oids);
    expect(refs).toHaveLength(80);

    await repo.rm("a");
    expect(await write("b", "w")).toBeLessThanOrEqual(cache.maxBytes);
    const b = await repo.commit("B replaces every object");
    await waitFor("B Succeeded", async () => (await phase(b)) === "Succeeded");
    expect(oids.some((oid) => cache.has(oid))).toBe(false);

    await waitFor(
      "A's objects collected",
      async () => {
        await new Promise((r) => setImmediate(r)); // WeakRef targets stay alive until the current job ends
        gc();
        return refs.every((r) => r.deref() === undefined);
      },
      30_000,
    );
  });
});

/** Weak references to the applied graph's objects and to the cache's entries for `oids` (file, object, positions). */
function weakRefsOf(op: RunningOperator, cache: ManifestCache, oids: string[]): WeakRef<object>[] {
  const graph = op.sync.graph()!;
  const refs: WeakRef<object>[] = graph.keys().map((k) => new WeakRef(graph.get(k)!.object));
  for (const oid of oids) {
    const checked = cache.get(oid)!;
    refs.push(new WeakRef(checked), new WeakRef(checked.documents[0]!.object!), new WeakRef(checked.documents[0]!.positions));
  }
  return refs;
}

function get(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (d: string) => (body += d));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on("error", reject);
  });
}
