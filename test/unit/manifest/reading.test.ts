/**
 * The one reading of a set of manifest files (readManifestFiles, loadManifests): strict UTF-8 with the
 * position of the first bad byte, flow collections nested at most 256 deep, the limits checked before parsing (and again on cache hits), the parse
 * cache bounded in bytes, cached files never read again, a bounded number of reads in flight, and the
 * event loop served between files.
 */
import { describe, expect, it } from "vitest";
import { DEFAULT_MANIFEST_LIMITS, ManifestCache, blobOid, decodeUtf8, loadManifests, readManifestFiles, resolveLimits, type SourceFile } from "../../../operator/src/manifest/index.js";
import { codeOf } from "../../support/errors.js";

const enc = new TextEncoder();

function namespace(name: string, pad = 0): string {
  return `apiVersion: v1\nkind: Namespace\nmetadata: {name: ${name}}\n${pad > 0 ? `# ${"x".repeat(pad)}\n` : ""}`;
}

/** An in-memory source file that records its reads. */
function source(path: string, text: string | Uint8Array, log: { reads: string[] } = { reads: [] }, withOid = true): SourceFile {
  const bytes = typeof text === "string" ? enc.encode(text) : text;
  return {
    path,
    ...(withOid ? { oid: blobOid(bytes) } : {}),
    read: async () => {
      log.reads.push(path);
      return bytes;
    },
  };
}

const codes = (set: { diagnostics: { code: string; file: string; line: number; col: number }[] }) => set.diagnostics.map((d) => [d.code, d.file, d.line, d.col]);

describe("decoding", () => {
  it.each<[string, number[], { line: number; col: number } | "ok"]>([
    ["plain ASCII", [0x61, 0x0a, 0x62], "ok"],
    ["two- to four-byte characters", [0xc3, 0xa9, 0xe2, 0x82, 0xac, 0xf0, 0x9f, 0x98, 0x80], "ok"],
    ["a byte-order mark", [0xef, 0xbb, 0xbf, 0x61], "ok"],
    ["a stray continuation byte at the start", [0x80, 0x61], { line: 1, col: 1 }],
    ["0xFF after text on the third line", [0x61, 0x0a, 0x0a, 0x61, 0x62, 0xff], { line: 3, col: 3 }],
    ["a bad byte after a multi-byte character (columns count characters)", [0xc3, 0xa9, 0xc3, 0xa9, 0xfe], { line: 1, col: 3 }],
    ["a bad byte after a byte-order mark (the mark is no column)", [0xef, 0xbb, 0xbf, 0x61, 0xff], { line: 1, col: 2 }],
    ["an overlong encoding of '/'", [0x61, 0xc0, 0xaf], { line: 1, col: 2 }],
    ["an overlong three-byte form", [0xe0, 0x80, 0xaf], { line: 1, col: 1 }],
    ["a UTF-16 surrogate", [0x61, 0x0a, 0xed, 0xa0, 0x80], { line: 2, col: 1 }],
    ["a code point above U+10FFFF", [0xf4, 0x90, 0x80, 0x80], { line: 1, col: 1 }],
    ["a sequence cut off at the end", [0x61, 0x62, 0xe2, 0x82], { line: 1, col: 3 }],
    ["Latin-1 text", [0x63, 0x61, 0x66, 0xe9, 0x0a], { line: 1, col: 4 }],
  ])("accepts or places %s", (_, bytes, want) => {
    const d = decodeUtf8(new Uint8Array(bytes));
    if (want === "ok") expect(d).toEqual({ text: new TextDecoder().decode(new Uint8Array(bytes)) });
    else expect("invalidAt" in d ? { line: d.invalidAt.line, col: d.invalidAt.col } : d).toEqual(want);
  });

  it("never applies a value decoded leniently: the file is an error and yields no object", () => {
    const bytes = new Uint8Array([...enc.encode('apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {v: "a'), 0xff, ...enc.encode('b"}\n')]);
    const set = loadManifests([{ path: "c.yaml", content: bytes }], { cache: null });
    expect(set.objects).toEqual([]);
    expect(codes(set)).toEqual([["YamlSyntax", "c.yaml", 4, 13]]); // data: {v: "a|
  });
});

describe("nesting of flow collections", () => {
  const cm = (value: string, name = "deep"): string => `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ${name}}\ndata:\n  a: ${value}\n`;
  const load = (text: string) => loadManifests([{ path: "f.yaml", content: text }], { cache: null });

  it("refuses flow collections nested past 256 levels at the bracket past the limit, lists and mappings alike", () => {
    for (const [open, close] of [
      ["[", "]"],
      ["{a: ", "}"],
    ] as const) {
      const set = load(cm(`${open.repeat(257)}1${close.repeat(257)}`));
      expect(set.diagnostics.map((d) => [d.code, d.line, d.col])).toEqual([["YamlSyntax", 5, 6 + 256 * open.length]]);
    }
  });

  it("reads 256 levels as YAML (a ConfigMap value must be a string: the schema says so, not the nesting)", () => {
    expect(load(cm(`${"[".repeat(256)}${"]".repeat(256)}`)).diagnostics.map((d) => d.code)).toEqual(["SchemaViolation"]);
  });

  it("counts no bracket inside a string or a comment, nor across documents", () => {
    const brackets = "[".repeat(300);
    expect(load(cm(`"${brackets}" # ${brackets}`)).diagnostics).toEqual([]);
    const shallow = Array.from({ length: 300 }, (_, i) => cm("[[x]]", `c${i}`).replace("  a: [[x]]", '  a: "[[x]]"\n  b: "y"')).join("---\n");
    expect(load(shallow).diagnostics).toEqual([]);
  });
});

describe("limits", () => {
  it("defaults to 4 MiB per file, 1,000 documents per file and 16 MiB per commit", () => {
    expect(resolveLimits()).toEqual({ maxFileBytes: 4 * 2 ** 20, maxDocumentsPerFile: 1000, maxTotalBytes: 16 * 2 ** 20 });
    expect(resolveLimits({ maxDocumentsPerFile: 5 })).toEqual({ ...DEFAULT_MANIFEST_LIMITS, maxDocumentsPerFile: 5 });
  });

  it.each([0, -1, 1.5, Number.NaN])("refuses a limit of %s with InvalidArgument", (v) => {
    expect(codeOf(() => resolveLimits({ maxFileBytes: v }))).toBe("InvalidArgument");
  });

  it("checks a cached file against the limits of each reading, so a lower limit is never bypassed by the cache", () => {
    const cache = new ManifestCache();
    const text = `${namespace("a")}---\n${namespace("b")}---\n${namespace("c")}`;
    const files = [{ path: "abc.yaml", content: text }];
    expect(loadManifests(files, { cache }).objects).toHaveLength(3);
    expect(codes(loadManifests(files, { cache, limits: { maxDocumentsPerFile: 2 } }))).toEqual([["TooManyDocuments", "abc.yaml", 9, 1]]);
    expect(codes(loadManifests(files, { cache, limits: { maxFileBytes: 100 } }))).toEqual([["FileTooLarge", "abc.yaml", 1, 1]]);
    // Refused under a limit of 2: that result is reused under the same limit, and not under another one.
    const parses = cache.stats.parses;
    expect(codes(loadManifests(files, { cache, limits: { maxDocumentsPerFile: 2 } }))).toEqual([["TooManyDocuments", "abc.yaml", 9, 1]]);
    expect(cache.stats.parses).toBe(parses);
    expect(loadManifests(files, { cache }).objects).toHaveLength(3);
    expect(cache.stats.parses).toBe(parses + 1);
  });

  it("stops parsing a file at the first document past the limit", () => {
    // Document 3 is invalid YAML: parsing stops before it, so only the limit is reported.
    const text = `${namespace("a")}---\n${namespace("b")}---\nkind: [broken\n`;
    expect(codes(loadManifests([{ path: "x.yaml", content: text }], { cache: null, limits: { maxDocumentsPerFile: 2 } }))).toEqual([["TooManyDocuments", "x.yaml", 9, 1]]);
  });
});

describe("the parse cache bounded in bytes", () => {
  it("evicts the least recently used files to stay within its bytes, and counts them", () => {
    const a = namespace("a", 100);
    const b = namespace("b", 100);
    const c = namespace("c", 100);
    const size = enc.encode(a).byteLength;
    const cache = new ManifestCache({ maxBytes: size * 2 });
    loadManifests(
      [
        { path: "a.yaml", content: a },
        { path: "b.yaml", content: b },
      ],
      { cache },
    );
    expect(cache.bytes).toBe(size * 2);
    loadManifests([{ path: "a.yaml", content: a }], { cache }); // a is now the most recent
    loadManifests([{ path: "c.yaml", content: c }], { cache }); // evicts b
    expect(cache.size).toBe(2);
    expect(cache.bytes).toBeLessThanOrEqual(size * 2);
    expect(cache.stats.evictions).toBe(1);
    expect(cache.has(blobOid(b))).toBe(false);
    expect(cache.has(blobOid(a))).toBe(true);
  });

  it("does not keep a file larger than its whole budget", () => {
    const cache = new ManifestCache({ maxBytes: 10 });
    loadManifests([{ path: "a.yaml", content: namespace("a") }], { cache });
    expect(cache.size).toBe(0);
    expect(cache.bytes).toBe(0);
  });
});

describe("readManifestFiles", () => {
  it("does not read a file whose blob is cached", async () => {
    const cache = new ManifestCache();
    const log = { reads: [] as string[] };
    const files = [source("a.yaml", namespace("a"), log), source("b.yaml", namespace("b"), log)];
    await readManifestFiles(files, { cache });
    expect(log.reads.sort()).toEqual(["a.yaml", "b.yaml"]);
    log.reads.length = 0;
    const changed = [files[0]!, source("b.yaml", namespace("b2"), log)];
    const set = await readManifestFiles(changed, { cache });
    expect(log.reads).toEqual(["b.yaml"]);
    expect(set.objects.map((o) => o.key)).toEqual(["Namespace/a", "Namespace/b2"]);
  });

  it("never reads a symbolic link, and reports it with where it points", async () => {
    const log = { reads: [] as string[] };
    const link: SourceFile = { ...source("apps", "x", log), symlink: true, linkTarget: async () => "../shared/apps" };
    const set = await readManifestFiles([link, source("a.yaml", namespace("a"), log)], { cache: null });
    expect(log.reads).toEqual(["a.yaml"]);
    expect(codes(set)).toEqual([["SymlinkNotAllowed", "apps", 1, 1]]);
    expect(set.diagnostics[0]!.message).toContain("../shared/apps");
  });

  it("never parses a file that a source refuses by size, and reads nothing after the total is passed", async () => {
    const log = { reads: [] as string[] };
    const refusing: SourceFile = { path: "0-big.yaml", read: async (max) => ({ size: max + 1 }) };
    const files = [refusing, source("a.yaml", namespace("a", 200), log), source("b.yaml", namespace("b", 200), log), source("c.yaml", namespace("c"), log)];
    const set = await readManifestFiles(files, { cache: null, concurrency: 1, limits: { maxFileBytes: 1000, maxTotalBytes: 400 } });
    expect(codes(set)).toEqual([
      ["FileTooLarge", "0-big.yaml", 1, 1],
      ["ManifestsTooLarge", "b.yaml", 1, 1],
    ]);
    expect(set.incomplete).toBe(true);
    expect(log.reads).not.toContain("c.yaml");
    expect(set.objects.map((o) => o.key)).toEqual(["Namespace/a"]);
  });

  it("keeps at most `concurrency` reads in flight", async () => {
    let inFlight = 0;
    let most = 0;
    const files: SourceFile[] = Array.from({ length: 60 }, (_, i) => {
      const bytes = enc.encode(namespace(`n${i}`));
      return {
        path: `f${String(i).padStart(3, "0")}.yaml`,
        read: async () => {
          inFlight++;
          most = Math.max(most, inFlight);
          await new Promise((r) => setImmediate(r));
          inFlight--;
          return bytes;
        },
      };
    });
    const set = await readManifestFiles(files, { cache: null, concurrency: 4 });
    expect(set.objects).toHaveLength(60);
    expect(most).toBeGreaterThan(1);
    expect(most).toBeLessThanOrEqual(4);
  });

  it("gives the event loop a turn between files during a long load", async () => {
    // Reads resolve at once, so without yielding the whole load would run in one go of microtasks and the
    // immediate scheduled before it would run only afterwards. (Files are read and admitted first, then
    // parsed: the turn may come after the last read, but before the load ends.)
    let turn = false;
    let finished = false;
    let turnBeforeEnd = false;
    let done = 0;
    const N = 400;
    const files: SourceFile[] = Array.from({ length: N }, (_, i) => {
      const bytes = enc.encode(namespace(`n${i}`));
      return {
        path: `f${String(i).padStart(4, "0")}.yaml`,
        read: async () => {
          done++;
          return bytes;
        },
      };
    });
    setImmediate(() => {
      turn = true;
      turnBeforeEnd = !finished;
    });
    const set = await readManifestFiles(files, { cache: null });
    finished = true;
    expect(set.objects).toHaveLength(N);
    expect(done).toBe(N);
    expect(turn).toBe(true);
    expect(turnBeforeEnd).toBe(true);
  });

  it("gives the same result as loadManifests for the same files", async () => {
    const texts: [string, string | Uint8Array][] = [
      ["a.yaml", namespace("a")],
      ["b.yaml", new Uint8Array([...enc.encode("apiVersion: v1\nkind: Namespace\nmetadata: {name: b"), 0xfe, 0x7d, 0x0a])],
      ["c.yaml", `${namespace("c")}---\n${namespace("c")}`],
      ["d.txt", "not a manifest"],
    ];
    const viaRead = await readManifestFiles(
      texts.map(([p, t]) => source(p, t)),
      { cache: null },
    );
    const viaLoad = loadManifests(
      texts.map(([path, content]) => ({ path, content })),
      { cache: null },
    );
    expect(viaRead.diagnostics).toEqual(viaLoad.diagnostics);
    expect(viaRead.objects.map((o) => o.key)).toEqual(viaLoad.objects.map((o) => o.key));
  });
});
