/**
 * Secrets: values never reach a diagnostic, base64 follows Kubernetes (Go's StdEncoding), and the readers
 * give back what was written.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import YAML from "yaml";
import type { Secret } from "../../../operator/src/api/objects.js";
import { formatDiagnostic, isBase64, loadManifests, ManifestCache, secretKeys, secretValue } from "../../../operator/src/manifest/index.js";

/** A token that identifies one secret value; long and random enough never to occur in a message by chance. */
const tokenArb = fc.stringMatching(/^[A-Za-z0-9]{12,20}$/);
const keyArb = fc.stringMatching(/^[a-z][a-z0-9._-]{0,10}$/);

/** How a value is placed into a Secret; most shapes are invalid on purpose (wrong type, not base64, bad place). */
type Shape = "data-text" | "data-number" | "data-list" | "stringData-text" | "stringData-number" | "data-whole" | "stringData-whole" | "data-valid";
const shapeArb = fc.constantFrom<Shape>("data-text", "data-number", "data-list", "stringData-text", "stringData-number", "data-whole", "stringData-whole", "data-valid");

/** The YAML styles a value can be written in. */
const styleArb = fc.constantFrom<"PLAIN" | "QUOTE_DOUBLE" | "QUOTE_SINGLE" | "BLOCK_LITERAL">("PLAIN", "QUOTE_DOUBLE", "QUOTE_SINGLE", "BLOCK_LITERAL");

function secretDocument(name: string, entries: { key: string; token: string; suffix: string; shape: Shape }[], type: string): Record<string, unknown> {
  const doc: Record<string, unknown> = { apiVersion: "v1", kind: "Secret", metadata: { name }, type };
  const put = (field: "data" | "stringData", key: string, value: unknown) => {
    const current = doc[field];
    if (current === undefined || (typeof current === "object" && current !== null && !Array.isArray(current))) {
      doc[field] = { ...((current as Record<string, unknown>) ?? {}), [key]: value };
    }
  };
  for (const e of entries) {
    const text = `${e.token}${e.suffix}`;
    switch (e.shape) {
      case "data-text":
        put("data", e.key, `${text}!`); // "!" is never base64
        break;
      case "data-number":
        put(
          "data",
          e.key,
          Number(
            `9${e.token
              .replace(/[^0-9]/g, "")
              .padEnd(12, "7")
              .slice(0, 14)}`,
          ),
        );
        break;
      case "data-list":
        put("data", e.key, [text, text]);
        break;
      case "stringData-text":
        put("stringData", e.key, text);
        break;
      case "stringData-number":
        put(
          "stringData",
          e.key,
          Number(
            `8${e.token
              .replace(/[^0-9]/g, "")
              .padEnd(12, "3")
              .slice(0, 14)}`,
          ),
        );
        break;
      case "data-whole":
        doc.data = text;
        break;
      case "stringData-whole":
        doc.stringData = [text];
        break;
      case "data-valid":
        put("data", e.key, Buffer.from(text).toString("base64"));
        break;
    }
  }
  return doc;
}

/** Every string a value could be recognised by in a message: the token, its number form, its base64. */
function fingerprints(entries: { token: string; suffix: string }[]): string[] {
  return entries.flatMap((e) => {
    const digits = e.token.replace(/[^0-9]/g, "");
    return [e.token, Buffer.from(`${e.token}${e.suffix}`).toString("base64").slice(0, 12), ...(digits.length >= 8 ? [digits.slice(0, 8)] : [])];
  });
}

describe("Secret values in diagnostics", () => {
  it("never appear in any formatted diagnostic, whatever is wrong with the Secret", () => {
    const entryArb = fc.record({ key: keyArb, token: tokenArb, suffix: fc.string({ maxLength: 20 }), shape: shapeArb });
    fc.assert(
      fc.property(fc.array(entryArb, { minLength: 1, maxLength: 5 }), fc.constantFrom("Opaque", "kubernetes.io/tls", "kubernetes.io/basic-auth"), styleArb, (entries, type, style) => {
        const doc = secretDocument("s", entries, type);
        const text = YAML.stringify(doc, { defaultStringType: style, lineWidth: 0 });
        const set = loadManifests([{ path: "secret.yaml", content: text }], { cache: new ManifestCache() });
        const printed = set.diagnostics.map(formatDiagnostic).join("\n");
        for (const f of fingerprints(entries)) expect(printed).not.toContain(f);
      }),
      { numRuns: 300 },
    );
  });

  it("are measured, not printed, when a Secret holds more than 1 MiB", () => {
    const big = "A".repeat(700 * 1024);
    const doc = YAML.stringify({ apiVersion: "v1", kind: "Secret", metadata: { name: "big" }, data: { a: Buffer.from(big).toString("base64") }, stringData: { b: big } });
    const set = loadManifests([{ path: "big.yaml", content: doc }], { cache: new ManifestCache() });
    expect(set.diagnostics.map((d) => [d.code, d.field])).toEqual([["InvalidField", "data"]]);
    expect(set.diagnostics[0]!.message).not.toContain("AAAAAAAA");
    const half = loadManifests([{ path: "half.yaml", content: YAML.stringify({ apiVersion: "v1", kind: "Secret", metadata: { name: "half" }, stringData: { b: big } }) }], {
      cache: new ManifestCache(),
    });
    expect(half.diagnostics).toEqual([]);
  });

  it("are reported by key when data is not base64, so the property above exercises real diagnostics", () => {
    const set = loadManifests([{ path: "s.yaml", content: "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: {password: hunter2, n: 5}\n" }], { cache: new ManifestCache() });
    expect(set.diagnostics.map((d) => [d.code, d.field])).toEqual([["SchemaViolation", "data.n"]]);
    const again = loadManifests([{ path: "s.yaml", content: "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: {password: hunter2}\n" }], {
      cache: new ManifestCache(),
    });
    expect(again.diagnostics.map((d) => [d.code, d.field])).toEqual([["InvalidField", "data.password"]]);
  });
});

describe("base64 as Kubernetes reads Secret data", () => {
  it("accepts what Node's encoder writes, with or without line breaks", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.integer({ min: 1, max: 80 }), (bytes, width) => {
        const b64 = Buffer.from(bytes).toString("base64");
        expect(isBase64(b64)).toBe(true);
        const wrapped = b64.replace(new RegExp(`(.{${width}})`, "g"), "$1\n");
        expect(isBase64(wrapped)).toBe(true);
      }),
    );
  });

  const rejected: [string, string][] = [
    ["missing padding", "aGVsbG8"],
    ["padding in the middle", "aG=VsbG8="],
    ["URL-safe alphabet", "a-_b"],
    ["spaces", "aGVs bG8="],
    ["three padding characters", "a==="],
    ["a length that is not a multiple of 4", "aGVsbG8=a"],
  ];
  it.each(rejected)("rejects %s", (_why, value) => {
    expect(isBase64(value)).toBe(false);
  });
});

describe("Secret readers", () => {
  it("give back the bytes written in data or stringData, and list the keys", () => {
    fc.assert(
      fc.property(fc.dictionary(keyArb, fc.uint8Array({ maxLength: 50 })), fc.dictionary(keyArb, fc.string()), (data, stringData) => {
        const s: Secret = {
          apiVersion: "v1",
          kind: "Secret",
          metadata: { name: "s" },
          data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString("base64")])),
          stringData,
        };
        expect(secretKeys(s)).toEqual([...new Set([...Object.keys(data), ...Object.keys(stringData)])].sort());
        for (const [k, v] of Object.entries(stringData)) expect(secretValue(s, k)).toEqual(Buffer.from(v, "utf8"));
        for (const [k, v] of Object.entries(data)) if (!(k in stringData)) expect(secretValue(s, k)).toEqual(Buffer.from(v));
        expect(secretValue(s, "no such key!")).toBeUndefined();
      }),
    );
  });

  it("read the same values from a loaded Secret, whose stringData was merged into data", () => {
    const set = loadManifests([{ path: "s.yaml", content: 'apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: {a: aGVsbG8=, b: eA==}\nstringData: {b: wins, c: "ü"}\n' }], { cache: new ManifestCache() });
    expect(set.diagnostics).toEqual([]);
    const s = set.objects[0]!.object as Secret;
    expect(s.stringData).toBeUndefined();
    expect(secretKeys(s)).toEqual(["a", "b", "c"]);
    expect(secretValue(s, "a")?.toString()).toBe("hello");
    expect(secretValue(s, "b")?.toString()).toBe("wins");
    expect(secretValue(s, "c")?.toString()).toBe("ü");
  });
});
