import { readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { generate } from "../../../operator/scripts/gen-types.js";

describe("generated types", () => {
  it("operator/src/api/generated is exactly what npm run gen makes from crds/", async () => {
    const files = await generate();
    expect(files.size).toBeGreaterThan(1);
    for (const [name, content] of files) {
      const onDisk = await readFile(new URL(`../../../operator/src/api/generated/${name}`, import.meta.url), "utf8");
      expect(onDisk, `${name} is stale: run npm run gen`).toBe(content);
    }
  });
});
