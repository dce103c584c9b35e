/**
 * The parse pool (manifest/parse-pool.ts) and readManifestFiles' use of it: a reading on workers yields
 * exactly the set an in-thread reading yields (objects, diagnostics with file:line, positions, order), files
 * come back in the order given whatever the timing, a failing worker is a CoxError (never a crash), workers
 * never keep the process alive, and small readings do not start workers at all.
 */
import { spawn } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { afterAll, describe, expect, it } from "vitest";
import { canonicalJson } from "../../../operator/src/api/canonical.js";
import { isCoxError } from "../../../operator/src/api/errors.js";
import { checkFile } from "../../../operator/src/manifest/check.js";
import { ManifestCache, loadManifests, readManifestFiles, type ManifestSet, type SourceFile } from "../../../operator/src/manifest/index.js";
import { ParsePool, sharedParsePool } from "../../../operator/src/manifest/parse-pool.js";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
const enc = new TextEncoder();

/** A valid Deployment, a Service, a ConfigMap with a warning, or a document with errors, by i. */
function manifest(i: number): string {
  switch (i % 4) {
    case 0:
      return `apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d${i}}\nspec:\n  selector: {matchLabels: {app: d${i}}}\n  template:\n    metadata: {labels: {app: d${i}}}\n    spec:\n      containers: [{name: web, image: "web:${i}"}]\n`;
    case 1:
      return `apiVersion: v1\nkind: Service\nmetadata: {name: s${i}}\nspec:\n  selector: {app: d${i - 1}}\n  ports: [{port: 80}]\n`;
    case 2:
      return `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c${i}\n  uid: abc\ndata: {a: "${"x".repeat(i % 50)}"}\n`;
    default:
      return `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: bad${i}}\ndata:\n  a: [1, 2\n---\nkind: Nope\napiVersion: x/v1\nmetadata: {name: n${i}}\n`;
  }
}

function sources(contents: string[], dup = false): SourceFile[] {
  return contents.map((c, i) => ({
    path: `apps/${String(i).padStart(5, "0")}.yaml`,
    ...(dup ? {} : { oid: `${i}`.padStart(40, "0") }),
    read: async () => enc.encode(c),
  }));
}

/** Everything a caller sees of a set, positions of every object included. */
function view(set: ManifestSet): string {
  return canonicalJson({
    objects: set.objects.map((o) => ({ key: o.key, object: o.object, source: o.source, name: o.locate(["metadata", "name"]), frozen: Object.isFrozen(o.object) })),
    diagnostics: set.diagnostics,
    read: set.read,
    incomplete: set.incomplete ?? false,
  });
}

describe("ParsePool", () => {
  const pool = new ParsePool({ size: 2 });
  afterAll(() => pool.close());

  it("returns each batch's files in the order given, equal to checkFile in-thread, whatever worker answers first", async () => {
    // A large batch first and small ones after: the small ones finish first on the other worker.
    const big = Array.from({ length: 400 }, (_, i) => manifest(i));
    const small = [[manifest(1)], [manifest(2), manifest(3)], [manifest(0)]];
    const batches = [big, ...small].map((texts) => texts.map((t) => enc.encode(t)));
    const results = await Promise.all(batches.map((b) => pool.check(b, 1000)));
    for (const [bi, batch] of batches.entries()) {
      expect(results[bi]).toHaveLength(batch.length);
      for (const [i, bytes] of batch.entries()) {
        const local = checkFile(bytes, { maxDocuments: 1000 });
        const remote = results[bi]![i]!;
        expect(canonicalJson({ ...remote, documents: remote.documents.map(({ positions: _, ...d }) => d) })).toBe(canonicalJson({ ...local, documents: local.documents.map(({ positions: _, ...d }) => d) }));
        for (const d of remote.documents) if (d.object) expect(Object.isFrozen(d.object)).toBe(true);
        // Positions are rebuilt from the bytes and agree with the in-thread ones.
        for (const [di, d] of remote.documents.entries()) {
          expect(d.positions.document(d.ordinal).locate(["metadata", "name"])).toEqual(local.documents[di]!.positions.document(d.ordinal).locate(["metadata", "name"]));
        }
      }
    }
    expect(pool.started).toBe(2);
  });

  it("applies the document limit as checkFile does", async () => {
    const [file] = await pool.check([enc.encode(`${manifest(2)}---\n${manifest(6)}`)], 1);
    expect(file!.stoppedAtLimit).toBe(1);
    expect(file!.issues.map((i) => i.code)).toEqual(["TooManyDocuments"]);
  });

  it("rejects with a CoxError when a worker throws, dies or is closed, and keeps serving", async () => {
    const failing = (code: string) => () => new Worker(code, { eval: true });
    const throws = new ParsePool({ size: 1, start: failing(`require("node:worker_threads").parentPort.on("message", () => { throw new Error("boom"); });`) });
    const dies = new ParsePool({ size: 1, start: failing(`require("node:worker_threads").parentPort.on("message", () => process.exit(3));`) });
    const replies = new ParsePool({ size: 1, start: failing(`const { parentPort } = require("node:worker_threads"); parentPort.on("message", (b) => parentPort.postMessage({ id: b.id, error: "bad" }));`) });
    try {
      for (const p of [throws, dies, replies]) {
        const err = await p.check([enc.encode(manifest(0))], 10).catch((e: unknown) => e);
        expect(isCoxError(err, "ParseWorkerFailed")).toBe(true);
      }
      // The worker that answered with an error is still in the pool; the dead ones were replaced on demand.
      expect(replies.started).toBe(1);
      expect(isCoxError(await dies.check([enc.encode(manifest(0))], 10).catch((e: unknown) => e), "ParseWorkerFailed")).toBe(true);
    } finally {
      await Promise.all([throws.close(), dies.close(), replies.close()]);
    }
    const closed = new ParsePool({ size: 1 });
    const inFlight = closed.check([enc.encode(manifest(0))], 10).catch((e: unknown) => e);
    await closed.close();
    expect(isCoxError(await inFlight, "ParseWorkerFailed")).toBe(true);
    expect(isCoxError(await closed.check([enc.encode(manifest(0))], 10).catch((e: unknown) => e), "ParseWorkerFailed")).toBe(true);
  });

  it("ends idle workers after idleMs and starts them again on demand", async () => {
    const p = new ParsePool({ size: 1, idleMs: 50 });
    try {
      await p.check([enc.encode(manifest(0))], 10);
      expect(p.started).toBe(1);
      const { waitFor } = await import("../../support/wait.js");
      await waitFor("idle workers ended", () => p.started === 0, 10_000);
      const [file] = await p.check([enc.encode(manifest(1))], 10);
      expect(file!.documents[0]!.identity?.key).toBe("Service/default/s1");
    } finally {
      await p.close();
    }
  });
});

describe("readManifestFiles on workers", () => {
  it("yields the same set as an in-thread reading: objects, diagnostics, positions, duplicates, limits", async () => {
    // More bytes than POOL_MIN_BYTES (load.ts), so that the reading goes to the workers.
    const texts = Array.from({ length: 2_500 }, (_, i) => `# ${"-".repeat(400)}\n${manifest(i)}`);
    // A duplicate object in a later file, and the same blob at two paths.
    texts.push(texts[0]!, texts[5]!);
    const files = sources(texts);
    files[files.length - 1] = { ...files[files.length - 1]!, oid: files[5]!.oid! };
    const inThread = loadManifests(
      texts.map((c, i) => ({ path: files[i]!.path, content: c })),
      { cache: null },
    );
    const cache = new ManifestCache();
    const pooled = await readManifestFiles(files, { cache });
    expect(sharedParsePool().started).toBeGreaterThan(0);
    expect(view(pooled)).toBe(view(inThread));
    expect(pooled.diagnostics.some((d) => d.code === "DuplicateObject")).toBe(true);
    // The repeated blob was parsed once and found in the cache the second time, as without workers.
    expect(cache.stats).toEqual({ parses: files.length - 1, hits: 1, evictions: 0 });
    // A total limit stops the reading at the same file either way (after more than POOL_MIN_BYTES).
    const limits = { maxTotalBytes: Math.floor(texts.reduce((n, t) => n + t.length, 0) * 0.9) };
    const limited = await readManifestFiles(files, { cache: null, limits });
    expect(limited.incomplete).toBe(true);
    expect(view(limited)).toBe(
      view(
        loadManifests(
          texts.map((c, i) => ({ path: files[i]!.path, content: c })),
          { cache: null, limits },
        ),
      ),
    );
  });

  it("starts no worker for a small reading, one for a large file, and never keeps the process alive", async () => {
    // In a process of its own, so that the shared pool starts empty; it ends without closing the pool.
    const script = `
      import { writeSync } from "node:fs";
      import { readManifestFiles } from ${JSON.stringify(path.join(ROOT, "operator/src/manifest/load.ts"))};
      import { sharedParsePool } from ${JSON.stringify(path.join(ROOT, "operator/src/manifest/parse-pool.ts"))};
      const enc = new TextEncoder();
      const file = (p, text) => ({ path: p, read: async () => enc.encode(text) });
      const cm = (n) => "apiVersion: v1\\nkind: ConfigMap\\nmetadata: {name: c" + n + "}\\n";
      const small = await readManifestFiles(Array.from({ length: 20 }, (_, i) => file("a/" + i + ".yaml", cm(i))), { cache: null });
      const afterSmall = sharedParsePool().started;
      const large = await readManifestFiles([file("big.yaml", cm("big") + "#" + "x".repeat(400 * 1024) + "\\n")], { cache: null });
      console.log(JSON.stringify({ small: small.objects.length, afterSmall, large: large.objects.length, afterLarge: sharedParsePool().started }));
      // Held by the pool, the process would live until the idle timer ended the worker: at exit it would have none.
      process.on("exit", () => writeSync(1, JSON.stringify({ workersAtExit: sharedParsePool().started }) + "\\n"));
    `;
    const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
    expect({ code, err }).toEqual({ code: 0, err: "" });
    const [readings, exit] = out
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, number>);
    expect(readings).toEqual({ small: 20, afterSmall: 0, large: 1, afterLarge: 1 });
    // The worker was still there when the process ended: it ended before the idle timer fired (which ends the
    // workers), so neither that timer nor the idle worker held it — an event, not a wall-clock limit.
    expect(exit).toEqual({ workersAtExit: 1 });
  });
});
