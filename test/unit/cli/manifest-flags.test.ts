/**
 * `--manifest-max-file-size`, `--manifest-max-documents`, `--manifest-max-total-size`, `--strict`, `--policy-file`, `--age-key-file` (run, plan,
 * validate) and `--manifest-cache-size` (run): what they turn into, and the errors for bad values (asserted
 * by code).
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { writeFile, rm } from "node:fs/promises";
import path from "node:path";
import { MANIFEST_LIMIT_FLAGS, parse, parseByteSize, parseManifestFlags, readAgeKeyFlag } from "../../../operator/src/cli/args.js";
import { runOptions } from "../../../operator/src/cli/run.js";
import { ManifestCache } from "../../../operator/src/manifest/index.js";
import { codeOf, coxErrorOf } from "../../support/errors.js";
import { tempDir } from "../../support/git-repo.js";
import { newAgeKey } from "../../support/sops.js";

type Flags = Parameters<typeof parseManifestFlags>[0];

describe("manifest flags", () => {
  it("give nothing when none is set, so the defaults apply", () => {
    expect(parseManifestFlags({})).toEqual({});
  });

  it.each<[string, number]>([
    ["1048576", 1048576],
    ["512Ki", 512 * 1024],
    ["4Mi", 4 * 2 ** 20],
    ["1Gi", 2 ** 30],
    ["10M", 10_000_000],
    ["2k", 2000],
  ])("read the size %s as %i bytes", (text, bytes) => {
    expect(parseByteSize("--manifest-max-file-size", text)).toBe(bytes);
  });

  it("turn the limits given into limits, leaving the others to their defaults", () => {
    expect(parseManifestFlags({ "manifest-max-file-size": "8Mi", "manifest-max-documents": "5000" })).toEqual({ limits: { maxFileBytes: 8 * 2 ** 20, maxDocumentsPerFile: 5000 } });
    expect(parseManifestFlags({ "manifest-max-total-size": "64Mi" })).toEqual({ limits: { maxTotalBytes: 64 * 2 ** 20 } });
  });

  it("turn --strict into the reading's strict option, which run hands to the operator", async () => {
    const { values } = parse(["--strict"], { ...MANIFEST_LIMIT_FLAGS });
    expect(parseManifestFlags(values)).toEqual({ strict: true });
    const opts = await runOptions(["--repo", "/nonexistent", "--runtime", "process", "--strict"], () => undefined);
    expect(opts.manifests).toEqual({ strict: true });
    const lax = await runOptions(["--repo", "/nonexistent", "--runtime", "process"], () => undefined);
    expect(lax.manifests).toBeUndefined();
  });

  it("read --policy-file once, into the reading's policy, which run hands to the operator", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cx-policy-"));
    try {
      const file = join(dir, "policy.yaml");
      writeFileSync(file, "namespaces:\n  monitoring: {allowPrivileged: true}\n");
      expect(parseManifestFlags({ "policy-file": file }).policy?.namespaces.get("monitoring")?.allowPrivileged).toBe(true);
      const opts = await runOptions(["--repo", "/nonexistent", "--runtime", "process", "--policy-file", file], () => undefined);
      expect(opts.manifests?.policy?.file).toBe(file);
      writeFileSync(file, "namespaces:\n  monitoring: {allowPrivileged: maybe}\n");
      expect(codeOf(() => parseManifestFlags({ "policy-file": file }))).toBe("InvalidArgument");
      expect(codeOf(() => parseManifestFlags({ "policy-file": join(dir, "missing.yaml") }))).toBe("InvalidArgument");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("make a parse cache of the size given", () => {
    const { cache } = parseManifestFlags({ "manifest-cache-size": "128Mi" });
    expect(cache).toBeInstanceOf(ManifestCache);
    expect(cache!.maxBytes).toBe(128 * 2 ** 20);
  });

  it.each<[string, Flags]>([
    ["a size with a unit Kubernetes does not know", { "manifest-max-file-size": "4MB" }],
    ["a size of zero", { "manifest-max-total-size": "0" }],
    ["a negative size", { "manifest-max-file-size": "-1" }],
    ["an empty size", { "manifest-max-file-size": "" }],
    ["a document count of zero", { "manifest-max-documents": "0" }],
    ["a fractional document count", { "manifest-max-documents": "2.5" }],
    ["a document count with a unit", { "manifest-max-documents": "1k" }],
    ["a cache of zero bytes", { "manifest-cache-size": "0" }],
  ])("refuse %s with InvalidArgument", (_, flags) => {
    expect(codeOf(() => parseManifestFlags(flags))).toBe("InvalidArgument");
  });

  it("--age-key-file wins over SOPS_AGE_KEY_FILE, an empty SOPS_AGE_KEY_FILE counts as unset, and a bad file is InvalidArgument", async () => {
    const dir = await tempDir("coxswain-age-flag-");
    try {
      const a = await newAgeKey();
      const b = await newAgeKey();
      await writeFile(path.join(dir, "a.txt"), a.file);
      await writeFile(path.join(dir, "b.txt"), b.file);
      const env = { SOPS_AGE_KEY_FILE: path.join(dir, "b.txt") };
      expect((await readAgeKeyFlag({ "age-key-file": path.join(dir, "a.txt") }, env))?.recipients).toEqual([a.recipient]);
      expect((await readAgeKeyFlag({}, env))?.recipients).toEqual([b.recipient]);
      expect(await readAgeKeyFlag({}, { SOPS_AGE_KEY_FILE: "" })).toBeUndefined();
      expect((await coxErrorOf(readAgeKeyFlag({ "age-key-file": path.join(dir, "none.txt") }, {}))).code).toBe("InvalidArgument");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
