/**
 * Test support: writes SOPS-encrypted YAML the way `sops --encrypt --age <recipient>` does (no sops binary
 * here), for fixtures of our own. Values become ENC[AES256_GCM,data:…,iv:…,tag:…,type:…] with a 32-byte IV
 * and the key path joined by ":" plus ":" as additional data (list items take their list's path); the data
 * key is age-encrypted per recipient and armored; the MAC is SHA-512 over the plaintext values in order,
 * hex in capitals, encrypted with lastmodified as additional data. Checked against a file sops really wrote
 * in test/unit/manifest/sops.test.ts.
 */
import { createCipheriv, createHash, randomBytes } from "node:crypto";
import { Encrypter, armor, generateIdentity, identityToRecipient } from "age-encryption";
import { stringify } from "yaml";

/** How to encrypt: the recipients and at most one of the rules (default: unencrypted_suffix "_unencrypted"). */
export interface SopsOptions {
  recipients: string[];
  encryptedRegex?: string;
  unencryptedSuffix?: string;
  /** RFC 3339, as sops writes it (default: now, to the second). */
  lastModified?: string;
}

/** A fresh age identity and its recipient, and an identity file's text for it (as age-keygen writes one). */
export async function newAgeKey(): Promise<{ identity: string; recipient: string; file: string }> {
  const identity = await generateIdentity();
  const recipient = await identityToRecipient(identity);
  return { identity, recipient, file: `# created: 2026-12-06T00:00:00Z\n# public key: ${recipient}\n${identity}\n` };
}

function goBool(v: boolean): string {
  return v ? "True" : "False";
}

function encryptValue(plain: string | number | boolean, key: Buffer, additionalData: string): string {
  if (plain === "") return "";
  const [type, bytes] =
    typeof plain === "string" ? ["str", Buffer.from(plain, "utf8")] : typeof plain === "boolean" ? ["bool", Buffer.from(goBool(plain))] : [Number.isInteger(plain) ? "int" : "float", Buffer.from(String(plain))];
  const iv = randomBytes(32);
  const c = createCipheriv("aes-256-gcm", key, iv);
  c.setAAD(Buffer.from(additionalData, "utf8"));
  const data = Buffer.concat([c.update(bytes), c.final()]);
  return `ENC[AES256_GCM,data:${data.toString("base64")},iv:${iv.toString("base64")},tag:${c.getAuthTag().toString("base64")},type:${type}]`;
}

function macBytes(v: string | number | boolean): Buffer {
  if (typeof v === "boolean") return Buffer.from(goBool(v));
  return Buffer.from(String(v), "utf8");
}

/**
 * Encrypts one manifest (a plain object), or several as one file (one data key, one MAC over all of them,
 * the same sops block in each document, as sops does), for the recipients; returns the YAML sops would write.
 */
export async function sopsEncrypt(docs: Record<string, unknown> | Record<string, unknown>[], opts: SopsOptions): Promise<string> {
  const key = randomBytes(32);
  const hash = createHash("sha512");
  const regex = opts.encryptedRegex === undefined ? undefined : new RegExp(opts.encryptedRegex);
  const suffix = opts.unencryptedSuffix ?? "_unencrypted";
  const encrypted = (path: string[]): boolean => (regex ? path.some((k) => regex.test(k)) : !path.some((k) => k.endsWith(suffix)));
  const walk = (v: unknown, path: string[]): unknown => {
    if (v === null || v === undefined) return v;
    if (Array.isArray(v)) return v.map((x) => walk(x, path));
    if (typeof v === "object") return Object.fromEntries(Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, walk(x, [...path, k])]));
    const leaf = v as string | number | boolean;
    hash.update(macBytes(leaf));
    return encrypted(path) ? encryptValue(leaf, key, `${path.join(":")}:`) : leaf;
  };
  const trees = (Array.isArray(docs) ? docs : [docs]).map((doc) => walk(doc, []) as Record<string, unknown>);
  const lastModified = opts.lastModified ?? new Date().toISOString().replace(/\.\d+Z$/, "Z");
  const age = [];
  for (const recipient of opts.recipients) {
    const e = new Encrypter();
    e.addRecipient(recipient);
    age.push({ recipient, enc: armor.encode(await e.encrypt(key)) });
  }
  const mac = encryptValue(hash.digest("hex").toUpperCase(), key, lastModified);
  const sops: Record<string, unknown> = { age, lastmodified: lastModified, mac, ...(regex ? { encrypted_regex: opts.encryptedRegex } : { unencrypted_suffix: suffix }), version: "3.9.0" };
  return trees.map((tree) => stringify({ ...tree, sops }, { indent: 4, lineWidth: 0 })).join("---\n");
}
