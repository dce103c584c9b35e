/**
 * Dependencies point one way: a module under operator/src imports only from itself, from api/, and from
 * modules listed above it in operator/README.md's map. The order is read from that table, so the map a
 * newcomer reads and what this test enforces cannot drift apart.
 */
import { readFileSync, readdirSync, statSync } from "node:fs";
import { dirname, join, normalize, relative } from "node:path";
import { describe, expect, it } from "vitest";

const root = join(__dirname, "../../..");
const src = join(root, "operator/src");

function moduleOrder(): string[] {
  const map = readFileSync(join(root, "operator/README.md"), "utf8");
  return [...map.matchAll(/^\| `([a-z]+)\/` \|/gm)].map((m) => m[1]!);
}

function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? tsFiles(p) : p.endsWith(".ts") ? [p] : [];
  });
}

describe("operator/src layering", () => {
  const order = moduleOrder();

  it("the map in operator/README.md names every folder under operator/src", () => {
    const folders = readdirSync(src)
      .filter((n) => statSync(join(src, n)).isDirectory())
      .sort();
    expect([...order].sort()).toEqual(folders);
  });

  it("no module imports from a module listed below it", () => {
    const violations: string[] = [];
    for (const file of tsFiles(src)) {
      const from = relative(src, file).split("/")[0]!;
      const text = readFileSync(file, "utf8");
      for (const m of text.matchAll(/from "(\.[^"]+)"/g)) {
        const target = relative(src, normalize(join(dirname(file), m[1]!))).split("/")[0]!;
        if (target === from || target === "api" || target.startsWith("..")) continue;
        if (order.indexOf(target) > order.indexOf(from)) {
          violations.push(`${relative(root, file)} imports ${m[1]} (${from} → ${target})`);
        }
      }
    }
    expect(violations).toEqual([]);
  });
});
