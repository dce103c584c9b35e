/**
 * Command-line parsing shared by the subcommands: node:util parseArgs plus the errors users see.
 */
import path from "node:path";
import { parseArgs, type ParseArgsConfig } from "node:util";
import { CoxError } from "../api/errors.js";
import { formatMemory, parseMemory } from "../api/quantity.js";
import { MAX_TIMER_MS } from "../engine/queue.js";
import { DEFAULT_CACHE_BYTES, DEFAULT_MANIFEST_LIMITS, LIMIT_FLAGS, ManifestCache, type LoadOptions, type ManifestLimits } from "../manifest/index.js";
import { loadPolicyFile } from "../manifest/policy.js";
import { AgeKeyring } from "../manifest/sops.js";
import { createProfile, DEFAULT_PROFILE, type ProfileOptions, type SchedulerSettings } from "../scheduler/index.js";
import { assertRefName } from "../source/refs.js";

/**
 * Parses argv against `options`; unknown flags, missing values and empty values (`--branch ""`, usually an
 * unset shell variable) become InvalidArgument errors. `--path ""` stays allowed: it is the repository's root.
 */
export function parse<T extends NonNullable<ParseArgsConfig["options"]>>(
  argv: string[],
  options: T,
  allowPositionals = false,
): { values: { -readonly [K in keyof T]?: T[K]["type"] extends "boolean" ? boolean : string }; positionals: string[] } {
  let r: ReturnType<typeof parseArgs>;
  try {
    r = parseArgs({ args: argv, options, allowPositionals, strict: true });
  } catch (err) {
    throw new CoxError("InvalidArgument", (err as Error).message);
  }
  for (const [flag, value] of Object.entries(r.values).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const empty = Array.isArray(value) ? value.some((v) => v === "") : value === "";
    if (empty && flag !== "path") throw new CoxError("InvalidArgument", `--${flag}: expected a value (got an empty string)`);
  }
  return r as never;
}

/** Units of parseDuration, in milliseconds. */
const DURATION_UNITS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * Parses a duration: "500ms", "5s", "2m", "24h" or a bare number of milliseconds, from `minMs` (default 1 ms:
 * no flag of coxswain's means anything with 0) to `maxMs` (default MAX_TIMER_MS: a longer timer would fire at once).
 */
export function parseDuration(flag: string, text: string, minMs = 1, maxMs = MAX_TIMER_MS): number {
  const m = /^([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!m) throw new CoxError("InvalidArgument", `${flag}: expected a duration like 500ms, 5s, 2m or 24h (got ${JSON.stringify(text)})`);
  const ms = Math.round(Number(m[1]) * DURATION_UNITS[m[2] ?? "ms"]!);
  if (!(ms >= minMs && ms <= maxMs)) {
    throw new CoxError("InvalidArgument", `${flag}: expected a duration from ${formatDuration(minMs)} to ${formatDuration(maxMs)} (got ${JSON.stringify(text)})`);
  }
  return ms;
}

/** A duration in the largest unit that divides it ("100ms", "2s", "1m", "24h"); ms otherwise. */
function formatDuration(ms: number): string {
  for (const [unit, size] of [
    ["h", 3_600_000],
    ["m", 60_000],
    ["s", 1000],
  ] as const)
    if (ms % size === 0) return `${ms / size}${unit}`;
  return `${ms}ms`;
}

/** Checks a branch name (without refs/heads/) the way git would refuse it. */
export function parseBranch(flag: string, text: string): string {
  checkRef(flag, `refs/heads/${text}`, text, "a branch name like main or coxswain/status");
  return text;
}

/** Checks a full ref name (refs/…) the way git would refuse it. */
export function parseRef(flag: string, text: string): string {
  checkRef(flag, text, text, "a full ref like refs/notes/coxswain");
  return text;
}

function checkRef(flag: string, ref: string, given: string, expected: string): void {
  try {
    assertRefName(ref);
  } catch {
    throw new CoxError("InvalidArgument", `${flag}: expected ${expected} (got ${JSON.stringify(given)})`);
  }
}

/**
 * Checks an operator instance name: it labels every container and names the Docker proxy container
 * (`cx-proxy-<instance>`), so it is a Kubernetes label value that Docker accepts in a container name.
 */
export function parseInstance(flag: string, text: string): string {
  if (!/^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/.test(text)) {
    throw new CoxError("InvalidArgument", `${flag}: expected up to 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit (got ${JSON.stringify(text)})`);
  }
  return text;
}

/** Parses a whole number of at least `min` (digits only), at most `max` (default Number.MAX_SAFE_INTEGER). */
export function parseWholeNumber(flag: string, text: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const n = Number(text.trim());
  if (!/^[0-9]+$/.test(text.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new CoxError("InvalidArgument", `${flag}: expected a whole number from ${min}${max === Number.MAX_SAFE_INTEGER ? " up" : ` to ${max}`} (got ${JSON.stringify(text)})`);
  }
  return n;
}

/** Parses a positive decimal number (digits, an optional fraction) of at most `max`. */
export function parsePositiveNumber(flag: string, text: string, max: number): number {
  const n = Number(text.trim());
  if (!/^[0-9]+(\.[0-9]+)?$/.test(text.trim()) || !(n > 0) || n > max) {
    throw new CoxError("InvalidArgument", `${flag}: expected a number above 0 and at most ${max}, like 10 or 0.5 (got ${JSON.stringify(text)})`);
  }
  return n;
}

/** Requires a flag. */
export function required(flag: string, value: string | undefined): string {
  if (!value) throw new CoxError("InvalidArgument", `${flag} is required`);
  return value;
}

/** Parses a port range "from-to" (1 ≤ from ≤ to ≤ 65535). */
export function parsePortRange(flag: string, text: string): { from: number; to: number } {
  const m = /^([0-9]{1,5})-([0-9]{1,5})$/.exec(text.trim());
  const from = Number(m?.[1]);
  const to = Number(m?.[2]);
  if (!m || from < 1 || to > 65535 || from > to) {
    throw new CoxError("InvalidArgument", `${flag}: expected a port range like 30000-32767 (got ${JSON.stringify(text)})`);
  }
  return { from, to };
}

/** Parses a port number (1–65535, digits only), as --port-range's ends are. */
export function parsePort(flag: string, text: string): number {
  const port = Number(text.trim());
  if (!/^[0-9]{1,5}$/.test(text.trim()) || port < 1 || port > 65535) {
    throw new CoxError("InvalidArgument", `${flag}: expected a port from 1 to 65535 like 8080 (got ${JSON.stringify(text)})`);
  }
  return port;
}

/** The scheduler flags shared by `run` and `plan` (KubeSchedulerConfiguration's knobs, as flags). */
export const SCHEDULER_FLAGS = {
  "scheduler-scoring": { type: "string" },
  "scheduler-weight": { type: "string", multiple: true },
  "percentage-of-nodes-to-score": { type: "string" },
} as const;

/** Help lines of SCHEDULER_FLAGS. */
export const SCHEDULER_USAGE = `  --scheduler-scoring <s>       NodeResourcesFit's strategy: LeastAllocated (default, spreads) or MostAllocated (packs)
  --scheduler-weight <P=N>      weight of a score plugin (repeatable), e.g. NodeResourcesBalancedAllocation=3 (defaults as
                                Kubernetes: TaintToleration 3, NodeAffinity 2, PodTopologySpread 2, InterPodAffinity 2,
                                NodeResourcesFit 1, NodeResourcesBalancedAllocation 1, ImageLocality 1)
  --percentage-of-nodes-to-score <n>  with ≥ 100 nodes, score max(100, N·n/100) feasible nodes (default 0: adaptive)`;

/**
 * Turns the scheduler flags into SchedulerSettings; undefined when none is given. InvalidArgument for an
 * unknown strategy or plugin, a weight that is not a positive number, or a percentage outside 0..100.
 */
export function parseSchedulerFlags(values: { "scheduler-scoring"?: string; "scheduler-weight"?: string | string[]; "percentage-of-nodes-to-score"?: string }): SchedulerSettings | undefined {
  const scoring = values["scheduler-scoring"];
  const weightFlags = ([] as string[]).concat(values["scheduler-weight"] ?? []);
  const pct = values["percentage-of-nodes-to-score"];
  if (scoring === undefined && weightFlags.length === 0 && pct === undefined) return undefined;
  const settings: SchedulerSettings = {};
  const options: ProfileOptions = {};
  if (scoring !== undefined) {
    if (scoring !== "LeastAllocated" && scoring !== "MostAllocated") {
      throw new CoxError("InvalidArgument", `--scheduler-scoring: expected LeastAllocated or MostAllocated (got ${JSON.stringify(scoring)})`);
    }
    options.scoringStrategy = { type: scoring };
  }
  const plugins = DEFAULT_PROFILE.scores.map((s) => s.name).sort();
  const weights: Record<string, number> = {};
  for (const w of weightFlags) {
    const m = /^([A-Za-z]+)=([0-9]+(?:\.[0-9]+)?)$/.exec(w.trim());
    if (!m || !plugins.includes(m[1]!) || !(Number(m[2]) > 0)) {
      throw new CoxError("InvalidArgument", `--scheduler-weight: expected PLUGIN=N with N > 0 and PLUGIN one of ${plugins.join(", ")} (got ${JSON.stringify(w)})`);
    }
    weights[m[1]!] = Number(m[2]);
  }
  if (Object.keys(weights).length > 0) options.weights = weights;
  if (options.scoringStrategy || options.weights) settings.profile = createProfile(options);
  if (pct !== undefined) {
    const n = Number(pct);
    if (!/^[0-9]{1,3}$/.test(pct.trim()) || n > 100) {
      throw new CoxError("InvalidArgument", `--percentage-of-nodes-to-score: expected an integer from 0 to 100 (got ${JSON.stringify(pct)})`);
    }
    settings.percentageOfNodesToScore = n;
  }
  return settings;
}

/**
 * The manifest flags shared by `run`, `plan` and `validate`: the limits (see manifest/limits.ts),
 * --strict (every warning of the reading is an error), --policy-file (manifest/policy.ts) and --age-key-file
 * (manifest/sops.ts).
 */
export const MANIFEST_LIMIT_FLAGS = {
  "manifest-max-file-size": { type: "string" },
  "manifest-max-documents": { type: "string" },
  "manifest-max-total-size": { type: "string" },
  strict: { type: "boolean" },
  "policy-file": { type: "string" },
  "age-key-file": { type: "string" },
} as const;

/** `run`'s flag for the parse cache. */
export const MANIFEST_CACHE_FLAG = { "manifest-cache-size": { type: "string" } } as const;

/** Help lines of MANIFEST_LIMIT_FLAGS. */
export const MANIFEST_LIMITS_USAGE = `  --strict                      every warning about the manifests is an error: nothing written in them is ignored
                                (kinds such as ServiceAccount, fields such as serviceAccountName, server-set metadata)
  --policy-file <path>          what pods may ask for per namespace: privileged, hostPID, hostIPC, hostPath, added capabilities
                                (YAML, see README "Security"); without it none of that is allowed
  --manifest-max-file-size <n>  largest manifest file: bytes, or 512Ki, 4Mi, 1Gi, 10M (default ${formatMemory(DEFAULT_MANIFEST_LIMITS.maxFileBytes)})
  --manifest-max-documents <n>  most YAML documents in one file (default ${DEFAULT_MANIFEST_LIMITS.maxDocumentsPerFile})
  --manifest-max-total-size <n> largest sum of manifest file sizes of one commit or directory (default ${formatMemory(DEFAULT_MANIFEST_LIMITS.maxTotalBytes)})
  --age-key-file <path>         age identities (as age-keygen writes them) that decrypt SOPS-encrypted Secrets
                                (default: the file SOPS_AGE_KEY_FILE names; without either, such a Secret is an error)`;

/** Help line of MANIFEST_CACHE_FLAG. */
export const MANIFEST_CACHE_USAGE = `  --manifest-cache-size <n>     parsed manifests kept across commits, counted in bytes of their YAML (default ${formatMemory(DEFAULT_CACHE_BYTES)};
                                in memory the parsed form takes about 7-10 times that)`;

/** A size flag: a positive whole number of bytes, or a Kubernetes quantity (512Ki, 4Mi, 1Gi, 10M). */
export function parseByteSize(flag: string, text: string): number {
  let n: number;
  try {
    n = parseMemory(text);
  } catch {
    n = NaN;
  }
  if (!Number.isSafeInteger(n) || n < 1) {
    throw new CoxError("InvalidArgument", `${flag}: expected a size in bytes like 4Mi, 512Ki, 1Gi or 1048576 (got ${JSON.stringify(text)})`);
  }
  return n;
}

/** A count flag: a positive whole number. */
function parseCount(flag: string, text: string): number {
  const n = Number(text.trim());
  if (!/^[0-9]+$/.test(text.trim()) || !Number.isSafeInteger(n) || n < 1) {
    throw new CoxError("InvalidArgument", `${flag}: expected a whole number above 0 (got ${JSON.stringify(text)})`);
  }
  return n;
}

/**
 * The age identities of `--age-key-file`, or of the file SOPS_AGE_KEY_FILE names (as sops reads it),
 * read once at start; undefined when neither is given. InvalidArgument naming the file when it cannot be
 * read or holds no identity.
 */
export async function readAgeKeyFlag(values: { "age-key-file"?: string }, env: NodeJS.ProcessEnv = process.env): Promise<AgeKeyring | undefined> {
  const file = values["age-key-file"] ?? (env.SOPS_AGE_KEY_FILE || undefined);
  return file === undefined ? undefined : AgeKeyring.fromFile(path.resolve(file));
}

/**
 * Turns the manifest flags into read options: the limits given (the others keep their defaults), --strict
 * and, with `--manifest-cache-size`, a parse cache of that size, and the policy of `--policy-file` (read here,
 * once). InvalidArgument for a value that is not a positive size or count, or a policy file that cannot be
 * read or is not valid (with file:line). {} when no flag is given.
 */
export function parseManifestFlags(values: {
  "manifest-max-file-size"?: string;
  "manifest-max-documents"?: string;
  "manifest-max-total-size"?: string;
  "manifest-cache-size"?: string;
  strict?: boolean;
  "policy-file"?: string;
}): LoadOptions {
  const limits: Partial<ManifestLimits> = {};
  const size = values["manifest-max-file-size"];
  const docs = values["manifest-max-documents"];
  const total = values["manifest-max-total-size"];
  const cache = values["manifest-cache-size"];
  if (size !== undefined) limits.maxFileBytes = parseByteSize(LIMIT_FLAGS.maxFileBytes, size);
  if (docs !== undefined) limits.maxDocumentsPerFile = parseCount(LIMIT_FLAGS.maxDocumentsPerFile, docs);
  if (total !== undefined) limits.maxTotalBytes = parseByteSize(LIMIT_FLAGS.maxTotalBytes, total);
  const out: LoadOptions = {};
  if (Object.keys(limits).length > 0) out.limits = limits;
  if (cache !== undefined) out.cache = new ManifestCache({ maxBytes: parseByteSize("--manifest-cache-size", cache) });
  if (values.strict) out.strict = true;
  if (values["policy-file"] !== undefined) out.policy = loadPolicyFile(values["policy-file"]);
  return out;
}
