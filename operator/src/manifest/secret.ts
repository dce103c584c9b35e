/**
 * Secrets: Kubernetes' rules for data and stringData, the merge of stringData into data that the API server
 * does on write, and readers for the stages after this one. No message here ever contains a value: only key
 * names, sizes and what was expected.
 */
import type { Secret } from "../api/objects.js";
import { fieldError, type Issue } from "./issue.js";

/** Kubernetes refuses Secrets whose data exceed 1 MiB (MaxSecretSize). */
const MAX_SECRET_BYTES = 1024 * 1024;

/** The Secret types a pull Secret may have, with the key holding its JSON. */
export const PULL_SECRET_KEYS: Readonly<Record<string, string>> = Object.freeze({
  "kubernetes.io/dockerconfigjson": ".dockerconfigjson",
  "kubernetes.io/dockercfg": ".dockercfg",
});

/** The keys a kubernetes.io/tls Secret must hold. */
const TLS_SECRET_KEYS: readonly string[] = ["tls.crt", "tls.key"];

/**
 * True when `value` is standard base64 with padding, as Kubernetes decodes Secret data (Go's StdEncoding:
 * line breaks are ignored, everything else must be in the alphabet, the length a multiple of 4).
 */
export function isBase64(value: string): boolean {
  const s = value.replace(/[\r\n]/g, "");
  return s.length % 4 === 0 && /^[A-Za-z0-9+/]*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(s);
}

/** Rules for one Secret (InvalidField): base64 data, required keys of kubernetes.io/tls, JSON of the Docker config types, total size. */
export function secretIssues(secret: Secret): Issue[] {
  const issues: Issue[] = [];
  const data = secret.data ?? {};
  const stringData = secret.stringData ?? {};
  let size = 0;
  for (const key of Object.keys(data).sort()) {
    const value = data[key]!;
    if (!isBase64(value)) {
      issues.push(fieldError("InvalidField", ["data", key], "must be base64 (standard alphabet, padded with '='), e.g. as printed by `base64 -w0`; the value is secret and not shown"));
    } else if (!Object.hasOwn(stringData, key)) {
      size += Buffer.byteLength(key) + Buffer.from(value, "base64").byteLength;
    }
  }
  for (const [key, value] of Object.entries(stringData)) size += Buffer.byteLength(key) + Buffer.byteLength(value);
  if (size > MAX_SECRET_BYTES) {
    issues.push(fieldError("InvalidField", ["data"], `must hold at most ${MAX_SECRET_BYTES} bytes, as in Kubernetes (got ${size} bytes in data and stringData)`));
  }
  const configKey = secret.type === undefined ? undefined : PULL_SECRET_KEYS[secret.type];
  if (configKey !== undefined) {
    // Kubernetes' rule for these types: the key is there and holds JSON (what it holds is pull-secrets.ts's to judge).
    const value = secretValue(secret, configKey);
    let json = value !== undefined;
    try {
      if (value !== undefined) JSON.parse(value.toString("utf8"));
    } catch {
      json = false;
    }
    if (!json) {
      issues.push(fieldError("InvalidField", ["data", configKey], `a ${secret.type} Secret must hold ${configKey} (in data or stringData) as JSON, as in Kubernetes; the value is secret and not shown`));
    }
  }
  if (secret.type === "kubernetes.io/tls") {
    for (const key of TLS_SECRET_KEYS) {
      if (!Object.hasOwn(data, key) && !Object.hasOwn(stringData, key)) {
        issues.push(fieldError("InvalidField", ["data", key], `a kubernetes.io/tls Secret must hold ${key} (in data or stringData), as in Kubernetes`));
      }
    }
  }
  return issues;
}

/**
 * Merges stringData into data (base64 of the UTF-8 text; stringData wins for a key in both) and removes
 * stringData, in place: what the Kubernetes API server stores, so two ways of writing the same Secret are
 * the same object.
 */
export function mergeStringData(secret: Secret): void {
  if (secret.stringData === undefined) return;
  const data = (secret.data ??= {});
  for (const [key, value] of Object.entries(secret.stringData)) data[key] = Buffer.from(value, "utf8").toString("base64");
  delete secret.stringData;
}

/** The key names a Secret holds (data and stringData), sorted. */
export function secretKeys(secret: Secret): string[] {
  return [...new Set([...Object.keys(secret.data ?? {}), ...Object.keys(secret.stringData ?? {})])].sort();
}

/** The decoded bytes of one key (stringData first, then base64 data); undefined when the Secret lacks it. */
export function secretValue(secret: Secret, key: string): Buffer | undefined {
  const text = secret.stringData?.[key];
  if (text !== undefined) return Buffer.from(text, "utf8");
  const b64 = secret.data?.[key];
  return b64 === undefined ? undefined : Buffer.from(b64.replace(/[\r\n]/g, ""), "base64");
}
