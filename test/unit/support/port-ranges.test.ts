/**
 * The suites that run pods as local processes bind real host ports from the node's port range, and vitest
 * runs suite files side by side: two files with one range would hand the same port to two pods. Each such
 * file must have a range of its own (processServiceNetwork derives its Service network from it, too).
 */
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const TEST_ROOT = fileURLToPath(new URL("../../", import.meta.url));

function testFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? testFiles(join(dir, e.name)) : e.name.endsWith(".test.ts") ? [join(dir, e.name)] : []));
}

describe("process-runtime port ranges", () => {
  it("are one per suite file: no two files that run local processes share a range", () => {
    const owners = new Map<string, string[]>();
    for (const file of testFiles(join(TEST_ROOT, "integration")).concat(testFiles(join(TEST_ROOT, "e2e")))) {
      const text = readFileSync(file, "utf8");
      if (!/ProcessRuntime|startProcessOperator|runtime: "process"|"--runtime", "process"/.test(text)) continue;
      for (const m of new Set([...text.matchAll(/from: (\d{4,5}), to: (\d{4,5})/g)].map((x) => x[1]!))) {
        owners.set(m, [...(owners.get(m) ?? []), relative(TEST_ROOT, file)]);
      }
    }
    expect(owners.size).toBeGreaterThan(5); // the scan finds the suites (it cannot pass by finding none)
    expect([...owners].filter(([, files]) => files.length > 1)).toEqual([]);
  });
});
