/**
 * Behaviour of loadManifests beyond single fixtures: caching by blob oid, independence from input order,
 * positions (locate, key vs value columns), frozen output, path filtering and the schema location.
 */
import { existsSync } from "node:fs";
import path from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { KINDS, type Kind } from "../../../operator/src/api/objects.js";
import { canonicalJson } from "../../../operator/src/api/canonical.js";
import { ManifestCache, blobOid, formatFieldPath, isManifestPath, loadManifests, parseFieldPath, resolveCrdDir, type ManifestFile, type ManifestSet } from "../../../operator/src/manifest/index.js";
import { discoverCases } from "./fixture-files.js";

function deployment(name: string, replicas: number): string {
  return [
    "apiVersion: apps/v1",
    "kind: Deployment",
    "metadata:",
    `  name: ${name}`,
    "spec:",
    `  replicas: ${replicas}`,
    "  selector:",
    `    matchLabels: {app: ${name}}`,
    "  template:",
    "    metadata:",
    `      labels: {app: ${name}}`,
    "    spec:",
    "      containers:",
    `        - name: ${name}`,
    `          image: ${name}:1`,
    "",
  ].join("\n");
}

function file(p: string, content: string): ManifestFile {
  return { path: p, content, oid: blobOid(content) };
}

/** Everything a load returns, as comparable data (ManifestObject.locate is a function). */
function snapshot(set: ManifestSet): unknown {
  return {
    objects: set.objects.map((o) => ({ key: o.key, source: o.source, object: canonicalJson(o.object) })),
    diagnostics: set.diagnostics,
  };
}

describe("the parse cache", () => {
  it("re-parses only the blob that changed between two loads", () => {
    const cache = new ManifestCache();
    const files = [file("a.yaml", deployment("a", 1)), file("b.yaml", deployment("b", 1)), file("c.yaml", deployment("c", 1))];
    loadManifests(files, { cache });
    expect(cache.stats.parses).toBe(3);

    const again = loadManifests(files, { cache });
    expect(cache.stats.parses).toBe(3);
    expect(cache.stats.hits).toBe(3);
    expect(again.objects.map((o) => o.key)).toEqual(["Deployment/default/a", "Deployment/default/b", "Deployment/default/c"]);

    const changed = [files[0]!, file("b.yaml", deployment("b", 5)), files[2]!];
    const next = loadManifests(changed, { cache });
    expect(cache.stats.parses).toBe(4);
    const b = next.objects.find((o) => o.key === "Deployment/default/b")!;
    expect(b.object.kind === "Deployment" && b.object.spec.replicas).toBe(5);
  });

  it("keys files without an oid by their Git blob oid, so identical content is parsed once", () => {
    const cache = new ManifestCache();
    const text = deployment("same", 2);
    loadManifests([{ path: "x/one.yaml", content: text }], { cache });
    loadManifests([{ path: "y/two.yaml", content: new TextEncoder().encode(text) }], { cache });
    expect(cache.stats.parses).toBe(1);
    expect(cache.stats.hits).toBe(1);
  });

  it("computes the same blob oid as git hash-object", () => {
    // `printf 'hello\n' | git hash-object --stdin`
    expect(blobOid("hello\n")).toBe("ce013625030ba8dba906f756967f9e9ca394464a");
  });

  it("evicts the least recently used files beyond its bound", () => {
    const cache = new ManifestCache({ maxEntries: 2 });
    const a = file("a.yaml", deployment("a", 1));
    const b = file("b.yaml", deployment("b", 1));
    const c = file("c.yaml", deployment("c", 1));
    loadManifests([a, b], { cache });
    loadManifests([a], { cache }); // a is now the most recent
    loadManifests([c], { cache }); // evicts b
    expect(cache.size).toBe(2);
    expect(cache.stats.evictions).toBe(1);
    const parses = cache.stats.parses;
    loadManifests([a], { cache });
    expect(cache.stats.parses).toBe(parses);
    loadManifests([b], { cache });
    expect(cache.stats.parses).toBe(parses + 1);
  });

  it("gives the same result with and without the cache, and with a warm cache", () => {
    const files = [...discoverCases("valid"), ...discoverCases("invalid")].flatMap((c) => c.files.map((f) => ({ ...f, path: `${c.name}/${f.path}` })));
    const cache = new ManifestCache();
    const uncached = snapshot(loadManifests(files, { cache: null }));
    expect(snapshot(loadManifests(files, { cache }))).toEqual(uncached);
    expect(snapshot(loadManifests(files, { cache }))).toEqual(uncached);
  });
});

describe("output order", () => {
  const files: ManifestFile[] = [...discoverCases("valid"), ...discoverCases("invalid")].flatMap((c) => c.files.map((f) => ({ ...f, path: `${c.name}/${f.path}` })));
  // Also the same objects under other paths, so that DuplicateObject has to pick "the second" by path.
  files.push(file("zz/dup.yaml", deployment("web", 3)), file("aa/dup.yaml", deployment("web", 2)));

  it("does not depend on the order of the input files", () => {
    const cache = new ManifestCache();
    const reference = snapshot(loadManifests(files, { cache }));
    fc.assert(
      fc.property(fc.shuffledSubarray(files, { minLength: files.length, maxLength: files.length }), (shuffled) => {
        expect(snapshot(loadManifests(shuffled, { cache }))).toEqual(reference);
      }),
      { numRuns: 40 },
    );
  });

  it("sorts objects by key and diagnostics by file, line, column", () => {
    const set = loadManifests(files, { cache: new ManifestCache() });
    const keys = set.objects.map((o) => o.key);
    expect(keys).toEqual([...keys].sort());
    for (let i = 1; i < set.diagnostics.length; i++) {
      const a = set.diagnostics[i - 1]!;
      const b = set.diagnostics[i]!;
      expect(a.file < b.file || (a.file === b.file && (a.line < b.line || (a.line === b.line && a.col <= b.col)))).toBe(true);
    }
  });

  it("keeps the first of two duplicate objects in path order and reports the second", () => {
    const set = loadManifests([file("zz/dup.yaml", deployment("web", 3)), file("aa/dup.yaml", deployment("web", 2))], { cache: null });
    expect(set.objects.map((o) => o.source.file)).toEqual(["aa/dup.yaml"]);
    expect(set.diagnostics.map((d) => [d.code, d.file])).toEqual([["DuplicateObject", "zz/dup.yaml"]]);
  });
});

describe("positions", () => {
  const text = [
    "# comment",
    "apiVersion: apps/v1", // 2
    "kind: Deployment",
    "metadata:",
    "  name: web", // 5
    "spec:", // 6
    "  replicas: 2", // 7
    "  selector:",
    "    matchLabels: {app: web}", // 9
    "  template:",
    "    metadata:",
    "      labels: {app: web}",
    "    spec:",
    "      containers:",
    "        - name: web", // 15
    "          image: web:1", // 16
    "          ports:",
    "            - containerPort: 80", // 18
    "",
  ].join("\n");

  it("locates fields by path and falls back to the nearest parent for absent ones, naming the object", () => {
    const [o] = loadManifests([{ path: "d.yaml", content: text }], { cache: null }).objects;
    const at = (line: number, col: number) => ({ file: "d.yaml", line, col, object: "Deployment/default/web" });
    expect(o!.source).toEqual({ file: "d.yaml", line: 2, col: 1 });
    expect(o!.locate(["spec", "replicas"])).toEqual(at(7, 13));
    expect(o!.locate(["spec", "template", "spec", "containers", 0, "image"])).toEqual(at(16, 18));
    expect(o!.locate(["spec", "template", "spec", "containers", 0, "ports", 0, "containerPort"])).toEqual(at(18, 30));
    expect(o!.locate(["spec", "selector", "matchLabels", "app"])).toEqual(at(9, 24));
    // Defaulted fields are not in the file: their nearest written parent is "spec" (a block mapping: its key).
    expect(o!.locate(["spec", "strategy", "rollingUpdate", "maxSurge"])).toEqual(at(6, 1));
    expect(o!.locate(["spec", "template", "spec", "containers", 0, "ports", 0, "protocol"])).toEqual(at(18, 15));
    expect(o!.locate([])).toEqual(at(2, 1));
  });

  it("locates fields of objects served from the cache exactly as on the first load", () => {
    const cache = new ManifestCache();
    const paths: (string | number)[][] = [["spec", "replicas"], ["spec", "template", "spec", "containers", 0, "image"], ["metadata", "name"], ["nope"]];
    const first = loadManifests([{ path: "d.yaml", content: text }], { cache }).objects[0]!;
    const second = loadManifests([{ path: "other/d.yaml", content: text }], { cache }).objects[0]!;
    expect(cache.stats.hits).toBe(1);
    for (const p of paths) expect(second.locate(p)).toEqual({ ...first.locate(p), file: "other/d.yaml" });
  });

  it("points an unknown field at its key and a wrong value at the value", () => {
    const bad = text.replace("          image: web:1", "          image: web:1\n          imagePulPolicy: Always").replace("replicas: 2", "replicas: two");
    const set = loadManifests([{ path: "d.yaml", content: bad }], { cache: null });
    const unknown = set.diagnostics.find((d) => d.field === "spec.template.spec.containers[0].imagePulPolicy")!;
    expect([unknown.code, unknown.line, unknown.col]).toEqual(["SchemaViolation", 17, 11]);
    const wrong = set.diagnostics.find((d) => d.field === "spec.replicas")!;
    expect([wrong.code, wrong.line, wrong.col]).toEqual(["SchemaViolation", 7, 13]);
    expect(set.objects).toEqual([]);
  });
});

describe("returned objects", () => {
  it("are deeply frozen, because the cache shares them between loads", () => {
    const [o] = loadManifests([file("a.yaml", deployment("a", 1))], { cache: new ManifestCache() }).objects;
    expect(Object.isFrozen(o!.object)).toBe(true);
    expect(o!.object.kind === "Deployment" && Object.isFrozen(o!.object.spec.template.spec.containers[0])).toBe(true);
  });
});

describe("which paths are manifests", () => {
  it.each([
    ["apps/web.yaml", true],
    ["web.yml", true],
    ["./web.yaml", true],
    ["web.json", false],
    ["README.md", false],
    ["web.yaml.bak", false],
    [".github/workflows/ci.yml", false],
    ["apps/.hidden.yaml", false],
    ["WEB.YAML", false],
  ])("treats %s as a manifest: %s", (p, want) => {
    expect(isManifestPath(p)).toBe(want);
  });
});

describe("schemas", () => {
  it("finds crds/ next to the operator sources, with a CRD file for every kind", () => {
    const dir = resolveCrdDir();
    expect(path.basename(dir)).toBe("crds");
    for (const kind of Object.keys(KINDS) as Kind[]) expect(existsSync(path.join(dir, KINDS[kind].crd)), kind).toBe(true);
  });
});

describe("field paths", () => {
  it("prints and parses paths as inverse operations", () => {
    const segment = fc.oneof(fc.nat({ max: 50 }), fc.string({ minLength: 1, maxLength: 12 }));
    fc.assert(
      fc.property(fc.array(segment, { maxLength: 6 }), (p) => {
        // A path starts with a key in practice; a bare leading index prints as "[0]" and parses back too.
        expect(parseFieldPath(formatFieldPath(p))).toEqual(p);
      }),
    );
  });

  it("prints list indexes in brackets and quotes keys that are not identifiers", () => {
    expect(formatFieldPath(["spec", "template", "spec", "containers", 0, "ports", 1, "containerPort"])).toBe("spec.template.spec.containers[0].ports[1].containerPort");
    expect(formatFieldPath(["metadata", "labels", "app.kubernetes.io/name"])).toBe('metadata.labels["app.kubernetes.io/name"]');
  });
});
