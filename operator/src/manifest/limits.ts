/**
 * The bounds of one reading of manifests (a commit, or a directory for `coxswain validate`). Without them a
 * single pushed file decides how much memory and CPU the operator spends: a 50 MB file of 297,000 documents
 * took 2.5 GB and starved the event loop for 35 s. Every limit is checked before the content it guards is
 * parsed, and a set of files over any of them is an error like any other manifest error: nothing from it
 * is applied.
 *
 * Defaults, and why:
 * - 4 MiB per file: Kubernetes refuses one object above about 1.5 MiB (etcd's request limit), so 4 MiB holds
 *   a file of a few such objects or thousands of ordinary ones.
 * - 1,000 documents per file: far above a rendered install manifest (a few hundred documents), far below
 *   the hundreds of thousands that make one file cost gigabytes.
 * - 16 MiB per commit: Argo CD caps a directory application's manifests at 10 MB by default for the same
 *   reason; loaded manifests take about 7–10 times their YAML size in memory (test/bench/manifest.bench.ts),
 *   so the default keeps one commit near 160 MiB at worst.
 * - the parse cache keeps 32 MiB of YAML: a full-size commit and the one before it, so switching between
 *   them (a rollback, a plan) reuses the parsed files.
 */
import { CoxError } from "../api/errors.js";

/** What one reading of manifests may hold. All values are positive integers. */
export interface ManifestLimits {
  /** Largest manifest file, in bytes (`--manifest-max-file-size`). */
  maxFileBytes: number;
  /** Most YAML documents in one file (`--manifest-max-documents`); empty documents do not count. */
  maxDocumentsPerFile: number;
  /** Largest sum of the manifest files' sizes of one commit or directory, in bytes (`--manifest-max-total-size`). */
  maxTotalBytes: number;
}

/** The defaults (see the module comment for the reasoning). */
export const DEFAULT_MANIFEST_LIMITS: Readonly<ManifestLimits> = Object.freeze({
  maxFileBytes: 4 * 2 ** 20,
  maxDocumentsPerFile: 1_000,
  maxTotalBytes: 16 * 2 ** 20,
});

/** Default bound of the parse cache: bytes of YAML whose parsed form it keeps (`--manifest-cache-size`). */
export const DEFAULT_CACHE_BYTES = 32 * 2 ** 20;

/** The command-line flag that changes each limit; every limit error names it. */
export const LIMIT_FLAGS: Readonly<Record<keyof ManifestLimits, string>> = Object.freeze({
  maxFileBytes: "--manifest-max-file-size",
  maxDocumentsPerFile: "--manifest-max-documents",
  maxTotalBytes: "--manifest-max-total-size",
});

/**
 * The defaults with `given` applied. InvalidArgument when a given value is not a positive integer (a limit
 * of 0 would refuse every commit; a fraction of a byte means a mistake).
 */
export function resolveLimits(given: Partial<ManifestLimits> = {}): ManifestLimits {
  const out: ManifestLimits = { ...DEFAULT_MANIFEST_LIMITS };
  for (const key of Object.keys(DEFAULT_MANIFEST_LIMITS) as (keyof ManifestLimits)[]) {
    const v = given[key];
    if (v === undefined) continue;
    if (!Number.isSafeInteger(v) || v < 1) throw new CoxError("InvalidArgument", `${LIMIT_FLAGS[key]}: expected a positive whole number (got ${String(v)})`);
    out[key] = v;
  }
  return out;
}

/** Bytes for messages: "4 MiB", "1.5 MiB", "512 KiB", "300 bytes". */
export function formatBytes(n: number): string {
  const units: [number, string][] = [
    [2 ** 30, "GiB"],
    [2 ** 20, "MiB"],
    [2 ** 10, "KiB"],
  ];
  for (const [size, unit] of units) {
    if (n >= size) {
      const v = n / size;
      return `${Number.isInteger(v) ? v : v.toFixed(1)} ${unit}`;
    }
  }
  return `${n} bytes`;
}
