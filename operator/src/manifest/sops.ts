/**
 * SOPS-encrypted Secrets, as `sops --encrypt --age <recipient>` writes them for YAML: values replaced by
 * `ENC[AES256_GCM,data:…,iv:…,tag:…,type:…]`, and a top-level `sops:` block holding the data key encrypted
 * for each age recipient, `lastmodified`, the encrypted `mac` and the rule that chose which values were
 * encrypted (unencrypted_suffix, encrypted_suffix, unencrypted_regex or encrypted_regex).
 *
 * Decryption follows SOPS itself (getsops/sops: stores/yaml/store.go reads the tree, sops.go walks it,
 * aes/cipher.go decrypts a value, decrypt/decrypt.go checks the MAC): the data key comes from the age
 * stanzas (through age-encryption, a maintained implementation); each value is AES-256-GCM with the value's
 * key path joined by ":" plus a trailing ":" as additional data (list items take their list's path); the
 * MAC is SHA-512 over the plaintext values in file order (null values and comments are not part of it), hex
 * in capitals, stored encrypted with the data key and `lastmodified` (re-formatted as RFC 3339) as
 * additional data. A file is one unit: the MAC covers every document of it, and the metadata is read from
 * the first document, as SOPS does.
 *
 * Only Secrets may be encrypted: a SOPS file holding another kind is refused. Nothing here ever puts a
 * value — encrypted or decrypted — into a message: messages name files, lines, fields and recipients.
 */
import { createDecipheriv, createHash, timingSafeEqual } from "node:crypto";
import { readFile } from "node:fs/promises";
import { Decrypter, armor, identityToRecipient } from "age-encryption";
import { Composer, LineCounter, Parser, isAlias, isMap, isScalar, isSeq, type Node as YamlNode } from "yaml";
import { CoxError } from "../api/errors.js";
import type { FileIssue, LineCol } from "./parse.js";
import { formatFieldPath, type PathSegment } from "./paths.js";

/** The top-level key SOPS keeps its metadata under. */
const SOPS_KEY = "sops";

/** A line that starts a top-level `sops:` key: only texts with one are looked at further. */
const SOPS_LINE = /^["']?sops["']?[ \t]*:/m;

/** SOPS' own marker of a MAC over encrypted values only (sops.go MACOnlyEncryptedInitialization: sha256("sops")). */
const MAC_ONLY_ENCRYPTED_INIT = Buffer.from("8a3fd2ad54ce66527b1034f3d147be0b0b975b3bf44f72c6fdadec8176f27d69", "hex");

/** aes/cipher.go's value format (anchored at the start only, as there). */
const ENC_VALUE = /^ENC\[AES256_GCM,data:(.+),iv:(.+),tag:(.+),type:(.+)\]/;

/** Go's base64.StdEncoding: the standard alphabet, padded. */
const STD_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Unwrapped data keys kept per encrypted stanza: enough for every SOPS file of a large repository. */
const MAX_REMEMBERED_KEYS = 4096;

/** What unwrapping one age-encrypted data key gave. */
type Unwrapped = { key: Buffer } | { noMatch: true } | { failed: string };

/**
 * The age identities given to coxswain (`--age-key-file`, SOPS_AGE_KEY_FILE), read once. Unwrapping a data
 * key is asynchronous (age-encryption is); readers call unlock() on a file's content before checking it,
 * and the synchronous check then finds the data keys here. Results are remembered per stanza, so a file
 * that did not change is not unwrapped again.
 */
export class AgeKeyring {
  /** Where the identities came from (a file path), for messages. */
  readonly source: string;
  /** The recipients (public keys) of the identities, for messages. */
  readonly recipients: readonly string[];
  readonly #decrypter = new Decrypter();
  readonly #unwrapped = new Map<string, Unwrapped>();

  private constructor(source: string, identities: readonly string[], recipients: readonly string[]) {
    this.source = source;
    this.recipients = recipients;
    for (const id of identities) this.#decrypter.addIdentity(id);
  }

  /**
   * The identities of an age identity file as age-keygen writes it: one AGE-SECRET-KEY-1… per line, empty
   * lines and lines starting with "#" skipped. InvalidArgument naming the file (and the line, never its
   * content) when it cannot be read, holds a line that is not an identity, or holds none.
   */
  static async fromFile(path: string): Promise<AgeKeyring> {
    let text: string;
    try {
      text = await readFile(path, "utf8");
    } catch (err) {
      const why = (err as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (err as Error).message;
      throw new CoxError("InvalidArgument", `age key file ${path}: cannot be read (${why})`);
    }
    return AgeKeyring.fromText(text, path);
  }

  /** The identities of an identity file's text (see fromFile); `source` names it in messages. */
  static async fromText(text: string, source: string): Promise<AgeKeyring> {
    const identities: string[] = [];
    const recipients: string[] = [];
    for (const [i, raw] of text.split("\n").entries()) {
      const line = raw.trim();
      if (line === "" || line.startsWith("#")) continue;
      let recipient: string;
      try {
        if (!/^AGE-SECRET-KEY-(PQ-)?1/.test(line)) throw new Error("not an identity");
        recipient = await identityToRecipient(line);
      } catch {
        throw new CoxError("InvalidArgument", `age key file ${source}: line ${i + 1} is not an age identity; expected one AGE-SECRET-KEY-1… per line (as age-keygen writes it), empty lines and # comments`);
      }
      identities.push(line);
      recipients.push(recipient);
    }
    if (identities.length === 0) throw new CoxError("InvalidArgument", `age key file ${source}: holds no age identity; expected a file as age-keygen writes it`);
    return new AgeKeyring(source, identities, recipients);
  }

  /** Unwraps (once) every age-encrypted data key in a file's SOPS metadata, so that a check of the file finds them. */
  async unlock(content: string | Uint8Array): Promise<void> {
    const text = typeof content === "string" ? content : mightHoldSops(content) ? new TextDecoder().decode(content) : undefined;
    if (text === undefined || !SOPS_LINE.test(text)) return;
    for (const doc of composeDocuments(text).docs) {
      for (const stanza of ageStanzas(doc.contents)) {
        if (typeof stanza.enc === "string" && !this.#unwrapped.has(stanza.enc)) this.#remember(stanza.enc, await this.#unwrap(stanza.enc));
      }
    }
  }

  /** The outcome of unwrapping one stanza, when unlock() saw it. */
  unwrapped(enc: string): Unwrapped | undefined {
    return this.#unwrapped.get(enc);
  }

  async #unwrap(enc: string): Promise<Unwrapped> {
    let sealed: Uint8Array;
    try {
      sealed = armor.decode(enc);
    } catch (err) {
      return { failed: `its enc is not an armored age file (${(err as Error).message})` };
    }
    try {
      const key = Buffer.from(await this.#decrypter.decrypt(sealed));
      return key.length === 32 ? { key } : { failed: `it holds ${key.length} bytes where a SOPS data key has 32` };
    } catch (err) {
      const message = (err as Error).message;
      return /no identity matched/.test(message) ? { noMatch: true } : { failed: `age could not decrypt it (${message})` };
    }
  }

  #remember(enc: string, outcome: Unwrapped): void {
    this.#unwrapped.set(enc, outcome);
    if (this.#unwrapped.size > MAX_REMEMBERED_KEYS) this.#unwrapped.delete(this.#unwrapped.keys().next().value as string);
  }
}

/** Cheap test on bytes before decoding: SOPS files hold "sops:" somewhere. */
function mightHoldSops(bytes: Uint8Array): boolean {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).includes("sops");
}

/** True when a manifest text may be a SOPS file (a line starts a top-level `sops:` key); openSopsFile decides. */
export function mightBeSops(text: string): boolean {
  return SOPS_LINE.test(text);
}

/** The documents of a text, composed as parse.ts composes them (merge keys on), with line:col lookup. */
function composeDocuments(text: string): { docs: { contents: YamlNode | null; start: LineCol; errors: number }[]; at: (offset: number) => LineCol } {
  const lc = new LineCounter();
  const parser = new Parser(lc.addNewLine);
  const composer = new Composer({ merge: true });
  const at = (offset: number): LineCol => lc.linePos(offset);
  const docs: { contents: YamlNode | null; start: LineCol; errors: number }[] = [];
  for (const doc of composer.compose(parser.parse(text))) {
    const contents = (doc.contents as YamlNode | null) ?? null;
    const empty = contents === null || (isScalar(contents) && contents.value === null);
    if (empty && doc.errors.length === 0) continue;
    docs.push({ contents, start: at(contents?.range?.[0] ?? doc.range[0]), errors: doc.errors.length });
  }
  return { docs, at };
}

/** The value node under a mapping key, when the node is a mapping that has it. */
function child(node: YamlNode | null | undefined, key: string): YamlNode | undefined {
  if (!isMap(node)) return undefined;
  for (const pair of node.items) {
    if (isScalar(pair.key) && pair.key.value === key) return (pair.value as YamlNode | null) ?? undefined;
  }
  return undefined;
}

/** A scalar's string value (undefined for anything else). */
function text(node: YamlNode | undefined): string | undefined {
  return isScalar(node) && typeof node.value === "string" ? node.value : undefined;
}

/** A list's items (empty for anything else, null included: SOPS writes `age: []` or omits it). */
function items(node: YamlNode | undefined): YamlNode[] {
  return isSeq(node) ? (node.items as YamlNode[]) : [];
}

/** The age stanzas of a document's `sops` block: the flat list, or that of the key groups. */
function ageStanzas(contents: YamlNode | null): { recipient?: string; enc?: string; node: YamlNode }[] {
  const meta = child(contents, SOPS_KEY);
  const lists = [child(meta, "age"), ...items(child(meta, "key_groups")).map((g) => child(g, "age"))];
  return lists.flatMap((l) => items(l).map((s) => ({ recipient: text(child(s, "recipient")), enc: text(child(s, "enc")), node: s })));
}

/** A problem that refuses the whole file, placed at a node. */
class SopsRefusal extends Error {
  readonly node: YamlNode | undefined;
  readonly path: PathSegment[];
  constructor(node: YamlNode | undefined, path: PathSegment[], message: string) {
    super(message);
    this.node = node;
    this.path = path;
  }
}

/** The metadata fields a decryption needs, from the first document's `sops` block. */
interface SopsMetadata {
  node: YamlNode;
  lastModified: string;
  mac: string;
  macOnlyEncrypted: boolean;
  rule: { kind: "unencrypted_suffix" | "encrypted_suffix"; suffix: string } | { kind: "unencrypted_regex" | "encrypted_regex"; regex: RegExp };
}

/** The comment rules need the YAML comments, which the manifests' reading does not keep. */
const COMMENT_RULES = ["unencrypted_comment_regex", "encrypted_comment_regex"];
const RULES = ["unencrypted_suffix", "encrypted_suffix", "unencrypted_regex", "encrypted_regex"] as const;

function readMetadata(meta: YamlNode): SopsMetadata {
  const at = (field: string): [YamlNode, PathSegment[]] => [child(meta, field) ?? meta, [SOPS_KEY, field]];
  for (const f of COMMENT_RULES) {
    if (child(meta, f) !== undefined) throw new SopsRefusal(...at(f), `sops.${f} is not supported: coxswain does not keep YAML comments; encrypt with encrypted_regex or a suffix rule instead`);
  }
  const lastModified = text(child(meta, "lastmodified"));
  if (lastModified === undefined) throw new SopsRefusal(...at("lastmodified"), "sops.lastmodified is missing or not a string; the file is not as sops writes it");
  const mac = text(child(meta, "mac")) ?? "";
  const given = RULES.filter((r) => text(child(meta, r)) !== undefined && text(child(meta, r)) !== "");
  if (given.length > 1) throw new SopsRefusal(...at(given[1]!), `sops: only one of ${RULES.join(", ")} may be set (got ${given.join(" and ")}), as sops requires`);
  const kind = given[0] ?? "unencrypted_suffix";
  const value = text(child(meta, kind)) ?? "_unencrypted";
  let rule: SopsMetadata["rule"];
  if (kind === "unencrypted_regex" || kind === "encrypted_regex") {
    try {
      rule = { kind, regex: new RegExp(value) };
    } catch {
      throw new SopsRefusal(...at(kind), `sops.${kind} is not a regular expression coxswain can read`);
    }
  } else rule = { kind, suffix: value };
  const only = child(meta, "mac_only_encrypted");
  return { node: meta, lastModified, mac, macOnlyEncrypted: isScalar(only) && only.value === true, rule };
}

/** sops.go shouldBeEncrypted, for the key rules (comment rules are refused by readMetadata). */
function shouldBeEncrypted(path: readonly string[], rule: SopsMetadata["rule"]): boolean {
  switch (rule.kind) {
    case "unencrypted_suffix":
      return !path.some((k) => k.endsWith(rule.suffix));
    case "encrypted_suffix":
      return path.some((k) => k.endsWith(rule.suffix));
    case "unencrypted_regex":
      return !path.some((k) => rule.regex.test(k));
    case "encrypted_regex":
      return path.some((k) => rule.regex.test(k));
  }
}

/**
 * What Go's time.Parse(RFC3339) then Format(RFC3339) makes of `lastmodified`, the MAC's additional data:
 * fractional seconds dropped, a zero offset written "Z".
 */
export function rfc3339AsGoFormats(value: string): string | undefined {
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.\d+)?(Z|[+-]\d{2}:\d{2})$/.exec(value);
  if (!m) return undefined;
  return `${m[1]}${m[2] === "+00:00" || m[2] === "-00:00" ? "Z" : m[2]}`;
}

/** Go's strconv.FormatFloat(v, 'f', -1, 64): the shortest digits that round-trip, never an exponent. */
export function goFormatFloat(v: number): string {
  if (Object.is(v, -0)) return "-0";
  const s = String(v);
  if (!/e/.test(s)) return s;
  const [mantissa, exp] = v.toExponential().split("e") as [string, string];
  const negative = mantissa.startsWith("-");
  const digits = mantissa.replace(/^-/, "").replace(".", "");
  const e = Number(exp);
  let out: string;
  if (e >= 0) out = digits.length > e + 1 ? `${digits.slice(0, e + 1)}.${digits.slice(e + 1)}` : digits.padEnd(e + 1, "0");
  else out = `0.${"0".repeat(-e - 1)}${digits}`;
  return negative ? `-${out}` : out;
}

/** sops.go ToBytes: what a plaintext value adds to the MAC. */
function macBytes(v: string | number | boolean | Buffer): Buffer {
  if (Buffer.isBuffer(v)) return v;
  if (typeof v === "boolean") return Buffer.from(v ? "True" : "False");
  if (typeof v === "number") return Buffer.from(goFormatFloat(v));
  return Buffer.from(v, "utf8");
}

const GO_TRUE = new Set(["1", "t", "T", "TRUE", "true", "True"]);
const GO_FALSE = new Set(["0", "f", "F", "FALSE", "false", "False"]);

/**
 * aes/cipher.go Decrypt: "" stays "" (sops does not encrypt empty strings); otherwise the value must match
 * the ENC[…] format and open with the key and additional data. Returns the typed plaintext and its MAC
 * bytes; throws a message (never holding a value) when it does not open.
 */
function decryptValue(value: string, key: Buffer, additionalData: string): { plain: string | number | boolean; mac: Buffer } {
  if (value === "") return { plain: "", mac: Buffer.alloc(0) };
  const m = ENC_VALUE.exec(value);
  if (!m) throw new Error("is not an ENC[AES256_GCM,…] value, though the file's rule says it is encrypted");
  const [data, iv, tag, type] = [m[1]!, m[2]!, m[3]!, m[4]!];
  if (![data, iv, tag].every((b) => STD_BASE64.test(b))) throw new Error("holds data, iv or tag that is not base64");
  const ivBytes = Buffer.from(iv, "base64");
  const tagBytes = Buffer.from(tag, "base64");
  if (ivBytes.length === 0 || tagBytes.length !== 16) throw new Error("has an iv or tag of the wrong size");
  let opened: Buffer;
  try {
    const d = createDecipheriv("aes-256-gcm", key, ivBytes, { authTagLength: 16 });
    d.setAAD(Buffer.from(additionalData, "utf8"));
    d.setAuthTag(tagBytes);
    opened = Buffer.concat([d.update(Buffer.from(data, "base64")), d.final()]);
  } catch {
    throw new Error("does not decrypt with the file's data key (changed after sops wrote it, or moved to another key)");
  }
  const s = opened.toString("utf8");
  switch (type) {
    case "str":
      return { plain: s, mac: opened };
    case "bytes":
      return { plain: s, mac: opened };
    case "int":
    case "int64":
      if (!/^[+-]?[0-9]+$/.test(s)) throw new Error(`decrypts to something that is not the ${type} its type says`);
      return { plain: Number(s), mac: Buffer.from(BigInt(s).toString()) };
    case "float": {
      const n = Number(s);
      if (s.trim() === "" || !Number.isFinite(n)) throw new Error("decrypts to something that is not a finite float");
      return { plain: n, mac: macBytes(n) };
    }
    case "bool":
      if (GO_TRUE.has(s)) return { plain: true, mac: macBytes(true) };
      if (GO_FALSE.has(s)) return { plain: false, mac: macBytes(false) };
      throw new Error("decrypts to something that is not a boolean");
    default:
      throw new Error(`has type ${JSON.stringify(type.slice(0, 20))}; expected str, int, float, bool or bytes`);
  }
}

/** Sets a key on a plain object, `__proto__` included (as a field, never the prototype). */
function setField(obj: Record<string, unknown>, key: string, value: unknown): void {
  if (key === "__proto__") Object.defineProperty(obj, key, { value, writable: true, enumerable: true, configurable: true });
  else obj[key] = value;
}

/** The outcome of opening a SOPS file: every document's plain data by its start "line:col", or the errors that refuse the file. */
export type SopsOpened = { documents: Map<string, unknown> } | { errors: FileIssue[] };

/** The key openSopsFile's document map uses for a document starting at `start`. */
export function documentKey(start: LineCol): string {
  return `${start.line}:${start.col}`;
}

/** How one file's walk is done: the data key, the rule, the running MAC. */
interface Walk {
  key: Buffer;
  meta: SopsMetadata;
  hash: ReturnType<typeof createHash>;
  /** Set when a value was decrypted: its path, for the Secret checks after the walk. */
  decrypted: PathSegment[][];
}

/** sops.go walkBranch/walkSlice over one node, building its plain data. Aliases and merge keys are refused: sops writes neither. */
function walkNode(node: YamlNode | null, sopsPath: string[], path: PathSegment[], w: Walk): unknown {
  if (node === null) return null;
  if (isAlias(node)) throw new SopsRefusal(node, path, "an alias in a SOPS-encrypted file is not supported (sops never writes one)");
  if (isMap(node)) {
    const out: Record<string, unknown> = {};
    for (const pair of node.items) {
      const k = pair.key as YamlNode | null;
      if (!isScalar(k) || typeof k.value !== "string") throw new SopsRefusal(k ?? node, path, "a SOPS-encrypted file may only have string keys, as sops requires");
      if (k.value === "<<") throw new SopsRefusal(k, path, "a merge key (<<) in a SOPS-encrypted file is not supported (sops never writes one)");
      setField(out, k.value, walkNode((pair.value as YamlNode | null) ?? null, [...sopsPath, k.value], [...path, k.value], w));
    }
    return out;
  }
  if (isSeq(node)) return node.items.map((item, i) => walkNode((item as YamlNode | null) ?? null, sopsPath, [...path, i], w));
  if (!isScalar(node)) throw new SopsRefusal(node, path, "a value of this kind is not supported in a SOPS-encrypted file");
  const v = node.value;
  if (v === null || v === undefined) return null; // sops.go walkValue: nil is neither decrypted nor part of the MAC
  if (typeof v !== "string" && typeof v !== "number" && typeof v !== "boolean") throw new SopsRefusal(node, path, "a value of this kind is not supported in a SOPS-encrypted file");
  const encrypted = shouldBeEncrypted(sopsPath, w.meta.rule);
  let plain: string | number | boolean = v;
  let mac = macBytes(v);
  if (encrypted) {
    if (typeof v !== "string") throw new SopsRefusal(node, path, "is not an ENC[AES256_GCM,…] value, though the file's rule says it is encrypted");
    try {
      ({ plain, mac } = decryptValue(v, w.key, `${sopsPath.join(":")}:`));
    } catch (err) {
      throw new SopsRefusal(node, path, `this value ${(err as Error).message}`);
    }
    w.decrypted.push(path);
  }
  if (!w.meta.macOnlyEncrypted || encrypted) w.hash.update(mac);
  return plain;
}

/** The data key from the first stanza the keyring could unwrap, or the refusal that says why there is none. */
function dataKey(contents: YamlNode | null, meta: YamlNode, keyring: AgeKeyring | undefined): Buffer {
  const groups = items(child(meta, "key_groups"));
  const flat = ["age", "pgp", "kms", "gcp_kms", "azure_kv", "hc_vault"].some((k) => items(child(meta, k)).length > 0);
  if (!flat && groups.length > 1)
    throw new SopsRefusal(
      child(meta, "key_groups"),
      [SOPS_KEY, "key_groups"],
      "the data key is split over several key groups (Shamir's secret sharing), which coxswain does not support; encrypt for age recipients in one group",
    );
  const stanzas = ageStanzas(contents);
  if (stanzas.length === 0) throw new SopsRefusal(meta, [SOPS_KEY], "the file is encrypted for no age recipient (only for PGP or a cloud KMS); coxswain decrypts with age keys only: encrypt with sops --age <recipient>");
  const recipients = stanzas.map((s) => s.recipient ?? "(unnamed)").join(", ");
  if (!keyring) {
    throw new SopsRefusal(meta, [SOPS_KEY], `the file is SOPS-encrypted (for ${recipients}) and coxswain was given no age key: start it with --age-key-file <path> or SOPS_AGE_KEY_FILE`);
  }
  const failures: string[] = [];
  for (const s of stanzas) {
    const u = s.enc === undefined ? undefined : keyring.unwrapped(s.enc);
    if (u === undefined) failures.push(`${s.recipient ?? "(unnamed)"}: ${s.enc === undefined ? "no enc" : "not unlocked before the check"}`);
    else if ("key" in u) return u.key;
    else if ("failed" in u) failures.push(`${s.recipient ?? "(unnamed)"}: ${u.failed}`);
  }
  if (failures.length > 0) throw new SopsRefusal(meta, [SOPS_KEY], `the data key cannot be decrypted with the age key file ${keyring.source} (${failures.join("; ")})`);
  throw new SopsRefusal(
    meta,
    [SOPS_KEY],
    `no identity in the age key file ${keyring.source} (${keyring.recipients.join(", ")}) is a recipient of this file (${recipients}); re-encrypt it for one with sops updatekeys, or give the key that matches`,
  );
}

/**
 * Opens a SOPS file: undefined when no document of it has a top-level `sops` mapping (not a SOPS file).
 * Otherwise every document's plain data (with `sops` removed) — or SecretUndecryptable errors at file:line
 * and nothing decrypted: no age key given or none that matches, a value that does not decrypt, a MAC that
 * does not match (a value, key or the order changed after sops wrote the file), metadata sops would refuse,
 * or a document that is not a Secret. The keyring must have unlock()ed this text before.
 */
export function openSopsFile(text: string, keyring: AgeKeyring | undefined): SopsOpened | undefined {
  const { docs, at } = composeDocuments(text);
  if (!docs.some((d) => isMap(child(d.contents, SOPS_KEY)))) return undefined;
  const refuse = (node: YamlNode | undefined, path: PathSegment[], message: string): SopsOpened => ({
    errors: [{ ...at(node?.range?.[0] ?? 0), code: "SecretUndecryptable", severity: "error", field: formatFieldPath(path), message }],
  });
  if (docs.some((d) => d.errors > 0)) return refuse(undefined, [], "the file is SOPS-encrypted and has YAML errors, so none of its values can be checked; fix the YAML first");
  const first = docs[0]!;
  const metaNode = child(first.contents, SOPS_KEY);
  try {
    if (!isMap(metaNode)) throw new SopsRefusal(first.contents ?? undefined, [], "the first document has no sops metadata, but a later one has: sops reads the metadata of a file from its first document");
    const meta = readMetadata(metaNode);
    const key = dataKey(first.contents, metaNode, keyring);
    const w: Walk = { key, meta, hash: createHash("sha512"), decrypted: [] };
    if (meta.macOnlyEncrypted) w.hash.update(MAC_ONLY_ENCRYPTED_INIT);
    const plain: { start: LineCol; data: Record<string, unknown>; decrypted: PathSegment[][]; contents: YamlNode | null }[] = [];
    for (const d of docs) {
      if (!isMap(d.contents)) throw new SopsRefusal(d.contents ?? undefined, [], "a document of a SOPS-encrypted file must be a mapping");
      const data: Record<string, unknown> = {};
      w.decrypted = [];
      for (const pair of d.contents.items) {
        const k = pair.key as YamlNode | null;
        if (isScalar(k) && k.value === SOPS_KEY) continue; // stores/yaml: the metadata is no part of the tree
        if (!isScalar(k) || typeof k.value !== "string") throw new SopsRefusal(k ?? d.contents, [], "a SOPS-encrypted file may only have string keys, as sops requires");
        setField(data, k.value, walkNode((pair.value as YamlNode | null) ?? null, [k.value], [k.value], w));
      }
      plain.push({ start: d.start, data, decrypted: w.decrypted, contents: d.contents });
    }
    checkMac(w, meta);
    const documents = new Map<string, unknown>();
    for (const p of plain) {
      secretOnly(p.data, p.decrypted, p.contents);
      documents.set(documentKey(p.start), p.data);
    }
    return { documents };
  } catch (err) {
    if (!(err instanceof SopsRefusal)) throw err;
    return refuse(err.node, err.path, err.message);
  }
}

/** decrypt/decrypt.go: the stored MAC, opened with lastmodified as additional data, equals the computed one. */
function checkMac(w: Walk, meta: SopsMetadata): void {
  const macNode = child(meta.node, "mac") ?? meta.node;
  const aad = rfc3339AsGoFormats(meta.lastModified);
  if (aad === undefined) throw new SopsRefusal(child(meta.node, "lastmodified"), [SOPS_KEY, "lastmodified"], "sops.lastmodified is not an RFC 3339 time; the file is not as sops writes it");
  let stored: string | number | boolean;
  try {
    stored = decryptValue(meta.mac, w.key, aad).plain;
  } catch (err) {
    throw new SopsRefusal(macNode, [SOPS_KEY, "mac"], `the MAC ${(err as Error).message}`);
  }
  const computed = w.hash.digest();
  const storedBytes = typeof stored === "string" && /^(?:[0-9a-fA-F]{2})*$/.test(stored) ? Buffer.from(stored, "hex") : Buffer.alloc(0);
  if (storedBytes.length !== computed.length || !timingSafeEqual(storedBytes, computed)) {
    throw new SopsRefusal(
      macNode,
      [SOPS_KEY, "mac"],
      meta.mac === ""
        ? "the file has no MAC, so its integrity cannot be checked; encrypt it with sops"
        : "the MAC does not match the file's values: a value, key or their order changed after sops wrote it; edit the file with sops, not by hand",
    );
  }
}

/**
 * Only a Secret may be encrypted, and what was decrypted under its data and stringData must be strings
 * (checked here, so that later messages never describe a decrypted value).
 */
function secretOnly(data: Record<string, unknown>, decrypted: PathSegment[][], contents: YamlNode | null): void {
  if (data.kind !== "Secret") {
    throw new SopsRefusal(child(contents, "kind") ?? contents ?? undefined, ["kind"], "only a Secret may be SOPS-encrypted; keep other objects in files of their own, unencrypted");
  }
  for (const field of ["data", "stringData"]) {
    const value = data[field];
    const touched = decrypted.some((p) => p[0] === field);
    if (!touched) continue;
    if (value === null || typeof value !== "object" || Array.isArray(value)) {
      throw new SopsRefusal(child(contents, field), [field], `${field} must be a mapping of key names to strings; the value is secret and not shown`);
    }
    for (const [k, v] of Object.entries(value)) {
      if (typeof v !== "string") throw new SopsRefusal(child(child(contents, field), k), [field, k], "must be a string (it decrypts to another type); the value is secret and not shown");
    }
  }
}
