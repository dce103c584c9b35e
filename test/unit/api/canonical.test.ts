/**
 * dataEqual compares plain data in place; whatever it is given, its answer is exactly whether the two values
 * have the same canonical JSON (which it used to compute for both every time).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { canonicalJson, dataEqual } from "../../../operator/src/api/canonical.js";

const byText = (a: unknown, b: unknown): boolean => canonicalJson(a) === canonicalJson(b);

/** A value and one close to it: the same, reordered, with one leaf changed, a key added or an undefined field. */
const near = (v: unknown): fc.Arbitrary<unknown> =>
  fc.oneof(
    fc.constant(structuredClone(v)),
    fc.constant(reordered(v)),
    fc.anything().map((x) => withLeaf(v, x)),
    fc.constant(withLeaf(v, undefined)),
  );

function reordered(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(reordered);
  if (v && typeof v === "object" && Object.getPrototypeOf(v) === Object.prototype) {
    return Object.fromEntries(
      Object.entries(v)
        .reverse()
        .map(([k, x]) => [k, reordered(x)]),
    );
  }
  return v;
}

/** `v` with its first leaf (depth first) replaced by `x`, or `x` itself when `v` has none. */
function withLeaf(v: unknown, x: unknown): unknown {
  if (Array.isArray(v) && v.length > 0) return [withLeaf(v[0], x), ...v.slice(1)];
  if (v && typeof v === "object" && Object.getPrototypeOf(v) === Object.prototype) {
    const keys = Object.keys(v);
    if (keys.length > 0) return { ...v, [keys[0]!]: withLeaf((v as Record<string, unknown>)[keys[0]!], x) };
    return { added: x };
  }
  return x;
}

describe("dataEqual", () => {
  it("is equality of canonical JSON for any two values, near or not", () => {
    const value = fc.anything({ withDate: true, withNullPrototype: true, withSparseArray: true, withBoxedValues: true, maxDepth: 4 });
    fc.assert(
      fc.property(
        value.chain((v) => fc.tuple(fc.constant(v), near(v))),
        ([a, b]) => {
          expect(dataEqual(a, b)).toBe(byText(a, b));
          expect(dataEqual(b, a)).toBe(byText(a, b));
        },
      ),
      { numRuns: 2_000 },
    );
    fc.assert(
      fc.property(value, value, (a, b) => {
        expect(dataEqual(a, b)).toBe(byText(a, b));
      }),
      { numRuns: 1_000 },
    );
  });

  it("ignores key order and undefined fields, and tells apart what JSON writes differently", () => {
    expect(dataEqual({ a: 1, b: [1, { c: "x" }] }, { b: [1, { c: "x" }], a: 1 })).toBe(true);
    expect(dataEqual({ a: 1, u: undefined }, { a: 1 })).toBe(true);
    expect(dataEqual({ a: 1 }, { a: "1" })).toBe(false);
    expect(dataEqual([1, undefined], [1, null])).toBe(true);
    expect(dataEqual({ n: Number.NaN }, { n: null })).toBe(true);
    expect(dataEqual({ d: new Date(0) }, { d: {} })).toBe(true);
    expect(dataEqual([], {})).toBe(false);
    expect(dataEqual(-0, 0)).toBe(true);
  });
});
