/**
 * SOPS-encrypted Secrets: a file sops 3.9.0 really wrote opens with its published test key; files of our
 * own encrypter (test/support/sops.ts) round-trip under both rules; a wrong key, a changed value, a value
 * moved to another key, a changed MAC, a missing key and an encrypted non-Secret each refuse the file with
 * SecretUndecryptable at file:line — and no message ever holds a decrypted value.
 */
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Secret } from "../../../operator/src/api/objects.js";
import { formatDiagnostic, readManifestFiles, secretValue, ManifestCache, type Diagnostic, type ManifestSet, type SourceFile } from "../../../operator/src/manifest/index.js";
import { AgeKeyring, goFormatFloat, rfc3339AsGoFormats } from "../../../operator/src/manifest/sops.js";
import { coxErrorOf } from "../../support/errors.js";
import { tempDir } from "../../support/git-repo.js";
import { newAgeKey, sopsEncrypt } from "../../support/sops.js";

const FIXTURES = fileURLToPath(new URL("../../fixtures/sops/", import.meta.url));
const TOKEN = "Tq83sopsPlainValueZk";
const PASSWORD = "Pw19anotherPlainXy";

/** Reads in-memory files as a commit would be read (readManifestFiles unlocks the data keys itself). */
function read(files: Record<string, string>, opts: { age?: AgeKeyring; cache?: ManifestCache | null } = {}): Promise<ManifestSet> {
  const sources: SourceFile[] = Object.entries(files).map(([p, text]) => ({ path: p, read: async () => Buffer.from(text, "utf8") }));
  return readManifestFiles(sources, { cache: opts.cache === undefined ? null : opts.cache, ...(opts.age ? { age: opts.age } : {}) });
}

function secretDoc(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { apiVersion: "v1", kind: "Secret", metadata: { name: "db", namespace: "shop" }, type: "Opaque", stringData: { token: TOKEN, password: PASSWORD }, ...extra };
}

function errorsOf(set: ManifestSet): Diagnostic[] {
  return set.diagnostics.filter((d) => d.severity === "error");
}

function secretOf(set: ManifestSet, key: string): Secret {
  const o = set.objects.find((x) => x.key === key);
  expect(o, `${key} in ${JSON.stringify(set.diagnostics)}`).toBeDefined();
  return o!.object as Secret;
}

describe("SOPS-encrypted Secrets", () => {
  let key: Awaited<ReturnType<typeof newAgeKey>>;
  let other: Awaited<ReturnType<typeof newAgeKey>>;
  let keyring: AgeKeyring;
  let otherRing: AgeKeyring;

  beforeAll(async () => {
    key = await newAgeKey();
    other = await newAgeKey();
    keyring = await AgeKeyring.fromText(key.file, "keys.txt");
    otherRing = await AgeKeyring.fromText(other.file, "other.txt");
  });

  it("opens a file sops 3.9.0 wrote (encrypted_regex, one age recipient) with its published test key", async () => {
    const ring = await AgeKeyring.fromFile(path.join(FIXTURES, "age.txt"));
    expect(ring.recipients).toEqual(["age1l44xcng8dqj32nlv6d930qvvrny05hglzcv9qpc7kxjc6902ma4qufys29"]);
    const text = await readFile(path.join(FIXTURES, "age-secret.enc.yaml"), "utf8");
    const set = await read({ "secret.yaml": text }, { age: ring });
    expect(errorsOf(set)).toEqual([]);
    const secret = secretOf(set, "Secret/default/age");
    expect(Object.keys(secret.data ?? {})).toEqual(["key"]);
    // The ciphertext "mHeXsmQ=" holds 5 bytes; the MAC check (above: no error) proves the plaintext is the one sops hashed.
    expect(secretValue(secret, "key")!.length).toBe(5);
  });

  it("refuses the sops-written file when one byte of its value changed, and when its MAC changed", async () => {
    const ring = await AgeKeyring.fromFile(path.join(FIXTURES, "age.txt"));
    const text = await readFile(path.join(FIXTURES, "age-secret.enc.yaml"), "utf8");
    const value = await read({ "secret.yaml": text.replace("data:mHeXsmQ=", "data:nHeXsmQ=") }, { age: ring });
    expect(errorsOf(value).map((d) => [d.code, d.line, d.field])).toEqual([["SecretUndecryptable", 6, "stringData.key"]]);
    const mac = await read({ "secret.yaml": text.replace("tag:Dg0HFdLgQltzPgnEmltAzQ==", "tag:Dg0HFdLgQltzPgnEmltAzA==") }, { age: ring });
    expect(errorsOf(mac).map((d) => [d.code, d.field])).toEqual([["SecretUndecryptable", "sops.mac"]]);
    expect(mac.objects).toEqual([]);
  });

  it("round-trips our encrypter's files: every value encrypted (the default rule) and encrypted_regex", async () => {
    const all = await sopsEncrypt(secretDoc(), { recipients: [key.recipient] });
    expect(all).toMatch(/^kind: ENC\[AES256_GCM,data:/m); // the default rule encrypts kind and name too
    const regex = await sopsEncrypt(secretDoc({ metadata: { name: "api", namespace: "shop" } }), { recipients: [other.recipient, key.recipient], encryptedRegex: "^(data|stringData)$" });
    const set = await read({ "all.yaml": all, "regex.yaml": regex }, { age: keyring });
    expect(errorsOf(set)).toEqual([]);
    for (const k of ["Secret/shop/db", "Secret/shop/api"]) {
      const s = secretOf(set, k);
      expect(secretValue(s, "token")!.toString()).toBe(TOKEN);
      expect(secretValue(s, "password")!.toString()).toBe(PASSWORD);
      expect(s.type).toBe("Opaque");
    }
  });

  it("keeps values under an _unencrypted key as written, and they count in the MAC", async () => {
    const doc = secretDoc({ metadata: { name: "db", namespace: "shop", labels: { tier_unencrypted: "gold" } } });
    const text = await sopsEncrypt(doc, { recipients: [key.recipient] });
    expect(text).toMatch(/tier_unencrypted: gold/);
    expect(errorsOf(await read({ "s.yaml": text }, { age: keyring }))).toEqual([]);
    const changed = await read({ "s.yaml": text.replace("tier_unencrypted: gold", "tier_unencrypted: lead") }, { age: keyring });
    expect(errorsOf(changed).map((d) => [d.code, d.field])).toEqual([["SecretUndecryptable", "sops.mac"]]);
  });

  it("refuses with SecretUndecryptable at file:line: wrong key, no key, changed value, moved value, changed MAC, another kind", async () => {
    const text = await sopsEncrypt(secretDoc(), { recipients: [key.recipient], encryptedRegex: "^(data|stringData)$" });
    const lines = text.split("\n");
    const lineOf = (re: RegExp): number => lines.findIndex((l) => re.test(l)) + 1;
    const tokenLine = lineOf(/^\s+token: ENC/);
    const tokenValue = /token: (ENC\[[^\]]+\])/.exec(text)![1]!;
    const passwordValue = /password: (ENC\[[^\]]+\])/.exec(text)![1]!;
    const flip = (enc: string): string => enc.replace(/data:(.)/, (_m, c: string) => `data:${c === "A" ? "B" : "A"}`);
    const cases: [string, string, AgeKeyring | undefined, number, string][] = [
      ["wrong key", text, otherRing, lineOf(/^sops:/) + 1, "sops"],
      ["no key", text, undefined, lineOf(/^sops:/) + 1, "sops"],
      ["changed value", text.replace(tokenValue, flip(tokenValue)), keyring, tokenLine, "stringData.token"],
      ["moved value", text.replace(tokenValue, "@@").replace(passwordValue, tokenValue).replace("@@", passwordValue), keyring, tokenLine, "stringData.token"],
      ["changed MAC", text.replace(/mac: ENC\[AES256_GCM,data:(.)/, (_m, c: string) => `mac: ENC[AES256_GCM,data:${c === "A" ? "B" : "A"}`), keyring, lineOf(/^\s+mac:/), "sops.mac"],
      ["a value added by hand", text.replace("    token: ENC", "    extra: plain\n    token: ENC"), keyring, tokenLine, "stringData.extra"],
    ];
    for (const [what, content, ring, line, field] of cases) {
      const set = await read({ "secret.yaml": content }, ring ? { age: ring } : {});
      expect(
        errorsOf(set).map((d) => [d.code, d.file, d.line, d.field]),
        what,
      ).toEqual([["SecretUndecryptable", "secret.yaml", line, field]]);
      expect(set.objects, what).toEqual([]);
      for (const d of set.diagnostics) expect(formatDiagnostic(d), what).not.toMatch(new RegExp(`${TOKEN}|${PASSWORD}`));
    }
    const config = await sopsEncrypt({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "c" }, data: { token: TOKEN } }, { recipients: [key.recipient], encryptedRegex: "^data$" });
    const set = await read({ "config.yaml": config }, { age: keyring });
    expect(errorsOf(set).map((d) => [d.code, d.line, d.field])).toEqual([["SecretUndecryptable", 2, "kind"]]);
  });

  it("reads a file of several documents as one unit: one MAC over all of them, in their order", async () => {
    const docs = [secretDoc({ metadata: { name: "one" } }), secretDoc({ metadata: { name: "two" }, stringData: { token: "other" } })];
    const text = await sopsEncrypt(docs, { recipients: [key.recipient], encryptedRegex: "^(data|stringData)$" });
    const set = await read({ "two.yaml": text }, { age: keyring });
    expect(errorsOf(set)).toEqual([]);
    expect(set.objects.map((o) => o.key)).toEqual(["Secret/default/one", "Secret/default/two"]);
    const [first, second] = text.split(/^---\n/m) as [string, string];
    const swapped = await read({ "two.yaml": `${second}---\n${first}` }, { age: keyring });
    expect(errorsOf(swapped).map((d) => [d.code, d.field])).toEqual([["SecretUndecryptable", "sops.mac"]]);
    const dropped = await read({ "two.yaml": first }, { age: keyring });
    expect(errorsOf(dropped).map((d) => [d.code, d.field, d.object])).toEqual([["SecretUndecryptable", "sops.mac", "Secret/default/one"]]);
  });

  it("keeps a Secret that cannot be decrypted known by name (no MissingReference noise, duplicates still found)", async () => {
    const text = await sopsEncrypt(secretDoc(), { recipients: [key.recipient], encryptedRegex: "^(data|stringData)$" });
    const plain = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  namespace: shop\nstringData:\n  a: b\n";
    const set = await read({ "a.yaml": text, "b.yaml": plain });
    expect(errorsOf(set).map((d) => [d.code, d.file])).toEqual([
      ["SecretUndecryptable", "a.yaml"],
      ["DuplicateObject", "b.yaml"],
    ]);
  });

  it("never caches a SOPS file: read without a key, then with one, it opens", async () => {
    const cache = new ManifestCache();
    const text = await sopsEncrypt(secretDoc(), { recipients: [key.recipient] });
    const files = [{ path: "s.yaml", oid: "1".repeat(40), read: async () => Buffer.from(text) }];
    expect(errorsOf(await readManifestFiles(files, { cache })).map((d) => d.code)).toEqual(["SecretUndecryptable"]);
    const opened = await readManifestFiles(files, { cache, age: keyring });
    expect(errorsOf(opened)).toEqual([]);
    expect(cache.size).toBe(0);
  });

  it("a file that merely has a top-level key named sops on a line of its own, but no sops mapping, is read as usual", async () => {
    const set = await read({ "x.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\nsops: 1\n" });
    expect(set.diagnostics.map((d) => d.code)).toEqual(["SchemaViolation"]);
  });
});

describe("age key files", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await tempDir("coxswain-age-");
  });
  afterAll(async () => {
    const { rm } = await import("node:fs/promises");
    await rm(dir, { recursive: true, force: true });
  });

  it("reads identities, skipping comments and empty lines", async () => {
    const a = await newAgeKey();
    const b = await newAgeKey();
    const file = path.join(dir, "keys.txt");
    await writeFile(file, `${a.file}\n\n${b.file}`);
    expect((await AgeKeyring.fromFile(file)).recipients).toEqual([a.recipient, b.recipient]);
  });

  it("refuses a missing file, a line that is no identity, and a file with none, naming the file but never the line's content", async () => {
    const bad = path.join(dir, "bad.txt");
    await writeFile(bad, "# comment\nAGE-SECRET-KEY-1NOTAKEYATALLSECRETISH\n");
    const empty = path.join(dir, "empty.txt");
    await writeFile(empty, "# nothing\n");
    for (const f of [path.join(dir, "missing.txt"), bad, empty]) {
      const err = await coxErrorOf(AgeKeyring.fromFile(f));
      expect(err.code).toBe("InvalidArgument");
      expect(err.message).toContain(f);
      expect(err.message).not.toContain("NOTAKEYATALL");
    }
    expect((await coxErrorOf(AgeKeyring.fromFile(bad))).message).toContain("line 2");
  });
});

describe("Go's formatting, as the MAC needs it", () => {
  it("formats floats as strconv.FormatFloat(v, 'f', -1, 64)", () => {
    expect([1, 1.5, -2.25, 0.1, 1e21, 1.5e-7, 123456789012345680000, -0].map(goFormatFloat)).toEqual(["1", "1.5", "-2.25", "0.1", "1000000000000000000000", "0.00000015", "123456789012345680000", "-0"]);
  });

  it("re-formats lastmodified as time.Parse then Format(RFC3339)", () => {
    expect(rfc3339AsGoFormats("2024-11-12T13:33:42Z")).toBe("2024-11-12T13:33:42Z");
    expect(rfc3339AsGoFormats("2024-11-12T13:33:42.123456Z")).toBe("2024-11-12T13:33:42Z");
    expect(rfc3339AsGoFormats("2024-11-12T13:33:42+00:00")).toBe("2024-11-12T13:33:42Z");
    expect(rfc3339AsGoFormats("2024-11-12T13:33:42+02:00")).toBe("2024-11-12T13:33:42+02:00");
    expect(rfc3339AsGoFormats("12 Nov 2024")).toBeUndefined();
  });
});
