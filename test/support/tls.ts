/**
 * Test PKI without the openssl CLI and without a package: Node's crypto makes the ECDSA P-256 keys and
 * the signatures; this file only encodes the X.509 v3 structures in DER (RFC 5280). That is a dozen
 * ASN.1 types, which is less to trust than a dependency tree: @peculiar/x509 needs tsyringe plus a
 * reflect-metadata polyfill (~20 packages), node-forge generates RSA keys in JavaScript (slow) and is
 * ~1.7 MB. The certificates are checked by Node (X509Certificate, TLS) in unit tests and by dockerd
 * (Go's crypto/x509, strict) in the TLS integration tests.
 *
 * makeTestPki() gives what a Docker engine with --tlsverify and its client need: a CA, a server
 * certificate for 127.0.0.1 and localhost (SAN; serverAuth) and a client certificate (clientAuth), all
 * as PEM text.
 */
import { createHash, createPublicKey, generateKeyPairSync, randomBytes, sign, type KeyObject } from "node:crypto";
import { isIP } from "node:net";

// ---------------------------------------------------------------- DER

function derLength(length: number): Buffer {
  if (length < 0x80) return Buffer.from([length]);
  const bytes: number[] = [];
  for (let n = length; n > 0; n = Math.floor(n / 256)) bytes.unshift(n % 256);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

/** One TLV: tag byte, DER length, content. */
function tlv(tag: number, content: Buffer): Buffer {
  return Buffer.concat([Buffer.from([tag]), derLength(content.length), content]);
}

const seq = (...items: Buffer[]): Buffer => tlv(0x30, Buffer.concat(items));
const set = (...items: Buffer[]): Buffer => tlv(0x31, Buffer.concat(items));
/** [n] EXPLICIT (constructed, context-specific). */
const explicit = (n: number, inner: Buffer): Buffer => tlv(0xa0 + n, inner);
const octetString = (content: Buffer): Buffer => tlv(0x04, content);
const utf8String = (text: string): Buffer => tlv(0x0c, Buffer.from(text, "utf8"));
const boolTrue = (): Buffer => tlv(0x01, Buffer.from([0xff]));

/** A non-negative INTEGER from big-endian bytes, minimal, with a 0x00 in front when the top bit is set. */
function unsignedInteger(bytes: Buffer): Buffer {
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0) i++;
  const trimmed = bytes.subarray(i);
  return tlv(0x02, trimmed[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), trimmed]) : trimmed);
}

/** BIT STRING with the given number of unused trailing bits. */
function bitString(content: Buffer, unusedBits = 0): Buffer {
  return tlv(0x03, Buffer.concat([Buffer.from([unusedBits]), content]));
}

function oid(dotted: string): Buffer {
  const parts = dotted.split(".").map(Number);
  const bytes: number[] = [40 * parts[0]! + parts[1]!];
  for (const part of parts.slice(2)) {
    const chunk: number[] = [part & 0x7f];
    for (let n = Math.floor(part / 128); n > 0; n = Math.floor(n / 128)) chunk.unshift(0x80 | (n & 0x7f));
    bytes.push(...chunk);
  }
  return tlv(0x06, Buffer.from(bytes));
}

/** UTCTime (years 1950–2049) or GeneralizedTime, as RFC 5280 §4.1.2.5 requires, always with seconds and Z. */
function time(date: Date): Buffer {
  const pad = (n: number) => String(n).padStart(2, "0");
  const rest = `${pad(date.getUTCMonth() + 1)}${pad(date.getUTCDate())}${pad(date.getUTCHours())}${pad(date.getUTCMinutes())}${pad(date.getUTCSeconds())}Z`;
  const year = date.getUTCFullYear();
  if (year >= 1950 && year < 2050) return tlv(0x17, Buffer.from(`${pad(year % 100)}${rest}`, "ascii"));
  return tlv(0x18, Buffer.from(`${year}${rest}`, "ascii"));
}

// ---------------------------------------------------------------- X.509

const OID = {
  ecdsaWithSha256: "1.2.840.10045.4.3.2",
  commonName: "2.5.4.3",
  organization: "2.5.4.10",
  subjectKeyIdentifier: "2.5.29.14",
  keyUsage: "2.5.29.15",
  subjectAltName: "2.5.29.17",
  basicConstraints: "2.5.29.19",
  authorityKeyIdentifier: "2.5.29.35",
  extKeyUsage: "2.5.29.37",
  serverAuth: "1.3.6.1.5.5.7.3.1",
  clientAuth: "1.3.6.1.5.5.7.3.2",
} as const;

function name(commonName: string): Buffer {
  return seq(set(seq(oid(OID.organization), utf8String("coxswain tests"))), set(seq(oid(OID.commonName), utf8String(commonName))));
}

function extension(id: string, critical: boolean, value: Buffer): Buffer {
  return critical ? seq(oid(id), boolTrue(), octetString(value)) : seq(oid(id), octetString(value));
}

/** The subjectPublicKey bits of an SPKI (for key identifiers: SHA-1 of them, RFC 5280 §4.2.1.2 method 1). */
function keyIdentifier(publicKey: KeyObject): Buffer {
  const spki = publicKey.export({ type: "spki", format: "der" });
  // SPKI = SEQUENCE { AlgorithmIdentifier, BIT STRING }: the BIT STRING is the last TLV; skip its header and unused-bits byte.
  const bits = lastTlvContent(spki);
  return createHash("sha1").update(bits.subarray(1)).digest();
}

function lastTlvContent(der: Buffer): Buffer {
  // Walk the SEQUENCE's children and return the content of the last one.
  const [start] = header(der, 0);
  let pos = start;
  let last: Buffer = Buffer.alloc(0);
  while (pos < der.length) {
    const [contentStart, length] = header(der, pos);
    last = der.subarray(contentStart, contentStart + length);
    pos = contentStart + length;
  }
  return last;
}

/** [content start, content length] of the TLV at pos. */
function header(der: Buffer, pos: number): [number, number] {
  const first = der[pos + 1]!;
  if (first < 0x80) return [pos + 2, first];
  const n = first & 0x7f;
  let length = 0;
  for (let i = 0; i < n; i++) length = length * 256 + der[pos + 2 + i]!;
  return [pos + 2 + n, length];
}

function pem(label: string, der: Buffer): string {
  const b64 = der.toString("base64").replace(/.{1,64}/g, "$&\n");
  return `-----BEGIN ${label}-----\n${b64}-----END ${label}-----\n`;
}

/** A key pair and its certificate, as PEM text. */
export interface TestCertificate {
  /** The certificate, PEM. */
  cert: string;
  /** Its private key, PEM (PKCS#8). */
  key: string;
  /** The private key object, for signing further certificates (CAs). */
  privateKey: KeyObject;
  /** The subject's common name. */
  commonName: string;
}

/** What a certificate is for. */
export interface CertificateOptions {
  commonName: string;
  /** IP addresses and DNS names for the subjectAltName (servers). */
  hosts?: readonly string[];
  /** "ca": may sign certificates; "server": TLS server auth; "client": TLS client auth. */
  usage: "ca" | "server" | "client";
  /** Validity start (default: one hour ago, for clock skew). */
  notBefore?: Date;
  /** Validity end (default: one day after notBefore + 1 h). */
  notAfter?: Date;
}

/**
 * Issues a certificate for a new ECDSA P-256 key: self-signed when `issuer` is undefined (a root CA),
 * else signed by the issuer's key. Serial numbers are 16 random bytes (positive).
 */
export function issueCertificate(options: CertificateOptions, issuer?: TestCertificate): TestCertificate {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  const signer = issuer?.privateKey ?? privateKey;
  const signerPublic = issuer ? createPublicKey(issuer.privateKey) : publicKey;
  const notBefore = options.notBefore ?? new Date(Date.now() - 3_600_000);
  const notAfter = options.notAfter ?? new Date(notBefore.getTime() + 25 * 3_600_000);
  const serial = randomBytes(16);
  serial[0] = serial[0]! & 0x7f;

  const extensions: Buffer[] = [];
  if (options.usage === "ca") {
    extensions.push(extension(OID.basicConstraints, true, seq(boolTrue())));
    // digitalSignature (bit 0) + keyCertSign (bit 5) + cRLSign (bit 6): 1000 0110, one unused bit.
    extensions.push(extension(OID.keyUsage, true, bitString(Buffer.from([0x86]), 1)));
  } else {
    extensions.push(extension(OID.basicConstraints, true, seq()));
    // digitalSignature (bit 0) alone: 1000 0000, seven unused bits.
    extensions.push(extension(OID.keyUsage, true, bitString(Buffer.from([0x80]), 7)));
    extensions.push(extension(OID.extKeyUsage, false, seq(oid(options.usage === "server" ? OID.serverAuth : OID.clientAuth))));
  }
  if (options.hosts && options.hosts.length > 0) {
    const names = options.hosts.map((host) => {
      const family = isIP(host);
      if (family === 4) return tlv(0x87, Buffer.from(host.split(".").map(Number)));
      if (family === 6) throw new Error(`IPv6 SANs are not needed by the tests: ${host}`);
      return tlv(0x82, Buffer.from(host, "ascii"));
    });
    extensions.push(extension(OID.subjectAltName, false, seq(...names)));
  }
  extensions.push(extension(OID.subjectKeyIdentifier, false, octetString(keyIdentifier(publicKey))));
  extensions.push(extension(OID.authorityKeyIdentifier, false, seq(tlv(0x80, keyIdentifier(signerPublic)))));

  const algorithm = seq(oid(OID.ecdsaWithSha256));
  const tbs = seq(
    explicit(0, unsignedInteger(Buffer.from([2]))), // v3
    unsignedInteger(serial),
    algorithm,
    name(issuer?.commonName ?? options.commonName),
    seq(time(notBefore), time(notAfter)),
    name(options.commonName),
    publicKey.export({ type: "spki", format: "der" }),
    explicit(3, seq(...extensions)),
  );
  const signature = sign("sha256", tbs, signer); // DER ECDSA-Sig-Value, as X.509 wants it
  const der = seq(tbs, algorithm, bitString(signature));
  return {
    cert: pem("CERTIFICATE", der),
    key: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
    privateKey,
    commonName: options.commonName,
  };
}

/** Everything a TLS-verifying Docker engine and its client need. */
export interface TestPki {
  ca: TestCertificate;
  /** Server certificate for `hosts` (default 127.0.0.1 and localhost). */
  server: TestCertificate;
  /** Client certificate (clientAuth) signed by the same CA. */
  client: TestCertificate;
}

/** Makes a CA, a server certificate for `hosts` and a client certificate, all signed by that CA. */
export function makeTestPki(hosts: readonly string[] = ["127.0.0.1", "localhost"]): TestPki {
  const ca = issueCertificate({ commonName: "coxswain test CA", usage: "ca" });
  const server = issueCertificate({ commonName: hosts[0] ?? "server", hosts, usage: "server" }, ca);
  const client = issueCertificate({ commonName: "coxswain test client", usage: "client" }, ca);
  return { ca, server, client };
}
