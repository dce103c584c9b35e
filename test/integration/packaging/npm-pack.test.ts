/**
 * What `npm pack` puts in the package, as `npm publish` would (its "prepare" script compiles operator/dist
 * first): the command, the compiled code, the schemas the validator reads (crds/) and the quickstart's
 * examples-repo/, and nothing else — no test/, no fixtures, no TypeScript source, no charts or CI files, and
 * no source maps (they point at operator/src, which is not shipped).
 */
import { execFile } from "node:child_process";
import { readdirSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { ROOT } from "../../support/cli.js";

/** Top-level entries of the package besides the folders of package.json "files" (npm always adds these). */
const ALWAYS = ["LICENSE", "README.md", "package.json"];
const FOLDERS = ["crds/", "examples-repo/", "operator/bin/", "operator/dist/"];

describe("npm pack", () => {
  it("ships the built package only", async () => {
    const { stdout } = await promisify(execFile)("npm", ["pack", "--dry-run", "--json"], { cwd: ROOT, maxBuffer: 1 << 26 });
    const [pack] = JSON.parse(stdout.slice(stdout.indexOf("[\n"))) as { files: { path: string }[]; size: number; unpackedSize: number }[];
    const files = pack!.files.map((f) => f.path).sort();
    expect(files.filter((f) => !ALWAYS.includes(f) && !FOLDERS.some((d) => f.startsWith(d)))).toEqual([]);
    expect(files.filter((f) => /\.(ts|mts|cts)$/.test(f) && !f.endsWith(".d.ts"))).toEqual([]);
    expect(files.filter((f) => /(^|\/)(test|tests|fixtures|__tests__)\//.test(f))).toEqual([]);
    expect(files.filter((f) => f.endsWith(".map"))).toEqual([]);
    expect(files).toContain("operator/bin/coxswain.js");
    expect(files).toContain("operator/dist/cli/main.js");
    // Every schema the validator reads, and the whole example the quickstart copies.
    for (const crd of readdirSync(path.join(ROOT, "crds"))) expect(files).toContain(`crds/${crd}`);
    expect(files).toContain("examples-repo/apps/hello/deployment.yaml");
    // A compiled module for every source module (a file left out of the build would fail at run time).
    const sources = (readdirSync(path.join(ROOT, "operator/src"), { recursive: true }) as string[]).filter((f) => f.endsWith(".ts") && !f.endsWith(".d.ts"));
    for (const src of sources) expect(files, src).toContain(`operator/dist/${src.replace(/\.ts$/, ".js")}`);
    console.log(`npm pack: ${files.length} files, ${pack!.size} bytes packed, ${pack!.unpackedSize} bytes unpacked`);
  }, 300_000);
});
