/**
 * TLS credentials for Docker engines, without an engine: PEM checks (SecretInvalid), endpoint forms, the
 * classification of TLS failures, and the test PKI itself (checked by Node's X.509 and TLS stacks).
 */
import { X509Certificate } from "node:crypto";
import { createServer } from "node:https";
import { connect } from "node:tls";
import { describe, expect, it } from "vitest";
import { isCoxError, type ErrorCode } from "../../../operator/src/api/errors.js";
import { checkTlsCredentials, classifyEngineError, isTlsError, parseEndpoint } from "../../../operator/src/runtime/docker/client.js";
import { DockerRuntime } from "../../../operator/src/runtime/docker/index.js";
import type { TlsCredentials } from "../../../operator/src/runtime/types.js";
import { issueCertificate, makeTestPki } from "../../support/tls.js";

const pki = makeTestPki();
const good: TlsCredentials = { ca: pki.ca.cert, cert: pki.client.cert, key: pki.client.key };

function codeOf(fn: () => unknown): { code: ErrorCode | "ok" | "not a CoxError"; field?: unknown; message?: string } {
  try {
    fn();
    return { code: "ok" };
  } catch (err) {
    return isCoxError(err) ? { code: err.code, field: err.details?.field, message: err.message } : { code: "not a CoxError" };
  }
}

describe("TLS credentials of a Docker endpoint", () => {
  it.each([
    { name: "accepts a CA with a matching client certificate and key", tls: good, code: "ok", field: undefined },
    { name: "accepts a CA alone (an engine that does not ask for a client certificate)", tls: { ca: pki.ca.cert }, code: "ok", field: undefined },
    { name: "accepts a CA bundle of several certificates", tls: { ...good, ca: makeTestPki().ca.cert + pki.ca.cert }, code: "ok", field: undefined },
    { name: "rejects an empty CA", tls: { ...good, ca: "" }, code: "SecretInvalid", field: "ca" },
    { name: "rejects a CA that is not PEM", tls: { ...good, ca: "not a certificate" }, code: "SecretInvalid", field: "ca" },
    {
      name: "rejects a CA whose PEM block holds garbage",
      tls: { ...good, ca: "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n" },
      code: "SecretInvalid",
      field: "ca",
    },
    { name: "rejects a client certificate without its key", tls: { ca: pki.ca.cert, cert: pki.client.cert }, code: "SecretInvalid", field: "key" },
    { name: "rejects a key without its client certificate", tls: { ca: pki.ca.cert, key: pki.client.key }, code: "SecretInvalid", field: "cert" },
    { name: "rejects a client certificate that is not PEM", tls: { ...good, cert: "garbage" }, code: "SecretInvalid", field: "cert" },
    { name: "rejects a key that is not PEM", tls: { ...good, key: "garbage" }, code: "SecretInvalid", field: "key" },
    { name: "rejects a key that belongs to another certificate", tls: { ...good, key: pki.server.key }, code: "SecretInvalid", field: "key" },
  ])("$name", ({ tls, code, field }) => {
    const result = codeOf(() => checkTlsCredentials(tls as TlsCredentials, "tcp://127.0.0.1:2376"));
    expect(result.code).toBe(code);
    expect(result.field).toBe(field);
    // A Secret's content never ends up in a message.
    for (const value of Object.values(tls as TlsCredentials)) {
      const body = /-----\n([A-Za-z0-9+/=]{24})/.exec(String(value))?.[1];
      if (body !== undefined) expect(result.message ?? "").not.toContain(body);
    }
  });

  it("checks the credentials when the runtime is made, before any connection", () => {
    expect(codeOf(() => new DockerRuntime({ endpoint: "tcp://127.0.0.1:2376", owner: "x", tls: { ...good, key: "garbage" } })).code).toBe("SecretInvalid");
    expect(codeOf(() => new DockerRuntime({ endpoint: "tcp://127.0.0.1:2376", owner: "x", tls: good })).code).toBe("ok");
  });

  it.each([
    { name: "a unix socket with TLS credentials", endpoint: "unix:///var/run/docker.sock", tls: good, code: "InvalidArgument" },
    { name: "a tcp endpoint with TLS credentials", endpoint: "tcp://127.0.0.1:2376", tls: good, code: "ok" },
    { name: "a tcp endpoint without TLS", endpoint: "tcp://127.0.0.1:2375", tls: undefined, code: "ok" },
  ])("parses $name → $code", ({ endpoint, tls, code }) => {
    expect(codeOf(() => parseEndpoint(endpoint, tls)).code).toBe(code);
  });

  it("keeps the credentials on a tcp target", () => {
    expect(parseEndpoint("tcp://127.0.0.1:2376", good)).toEqual({ kind: "tcp", host: "127.0.0.1", port: 2376, endpoint: "tcp://127.0.0.1:2376", tls: good });
  });
});

describe("classifying TLS failures", () => {
  it.each([
    { code: "UNABLE_TO_VERIFY_LEAF_SIGNATURE", tls: true },
    { code: "DEPTH_ZERO_SELF_SIGNED_CERT", tls: true },
    { code: "CERT_HAS_EXPIRED", tls: true },
    { code: "ERR_TLS_CERT_ALTNAME_INVALID", tls: true },
    { code: "ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE", tls: true },
    { code: "ECONNREFUSED", tls: false },
  ])("$code is a TLS error: $tls", ({ code, tls }) => {
    const err = Object.assign(new Error(`boom ${code}`), { code });
    expect(isTlsError(err)).toBe(tls);
    const classified = classifyEngineError(err, { node: "n1", endpoint: "tcp://127.0.0.1:2376", what: "list containers" });
    expect(classified.code).toBe("NodeUnreachable");
    expect(classified.details?.tls).toBe(tls ? code : undefined);
  });

  it("takes EPROTO from OpenSSL as TLS, with OpenSSL's reason in the message", () => {
    const err = Object.assign(new Error("write EPROTO 80CC:error:0A00010B:SSL routines:ssl3_get_record:wrong version number:../ssl3_record.c:350:"), { code: "EPROTO" });
    const classified = classifyEngineError(err, { node: "n1", endpoint: "tcp://127.0.0.1:2376", what: "read the engine version" });
    expect(classified.code).toBe("NodeUnreachable");
    expect(classified.details?.tls).toBe("EPROTO");
    expect(classified.message).toContain("wrong version number");
  });
});

describe("the test PKI (test/support/tls.ts)", () => {
  it("makes a CA, a server certificate for 127.0.0.1 and localhost, and a client certificate, chained and matching their keys", () => {
    const ca = new X509Certificate(pki.ca.cert);
    const server = new X509Certificate(pki.server.cert);
    const client = new X509Certificate(pki.client.cert);
    expect(ca.ca).toBe(true);
    expect(server.ca).toBe(false);
    expect(server.checkIssued(ca) && client.checkIssued(ca)).toBe(true);
    expect(server.verify(ca.publicKey) && client.verify(ca.publicKey)).toBe(true);
    expect(server.checkIP("127.0.0.1")).toBe("127.0.0.1");
    expect(server.checkHost("localhost")).toBe("localhost");
    expect(server.checkHost("example.org")).toBeUndefined();
    expect(server.keyUsage).toEqual(["1.3.6.1.5.5.7.3.1"]);
    expect(client.keyUsage).toEqual(["1.3.6.1.5.5.7.3.2"]);
    expect(server.checkPrivateKey(pki.server.privateKey)).toBe(true);
    expect(new Date(server.validTo).getTime()).toBeGreaterThan(Date.now());
  });

  it("serves a TLS handshake that requires and checks a client certificate", async () => {
    const server = createServer({ cert: pki.server.cert, key: pki.server.key, ca: pki.ca.cert, requestCert: true, rejectUnauthorized: true }, (req, res) =>
      res.end((req.socket as import("node:tls").TLSSocket).getPeerCertificate().subject.CN),
    );
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as { port: number }).port;
    const handshake = (opts: { cert?: string; key?: string; ca: string }) =>
      new Promise<string>((resolve) => {
        const socket = connect({ host: "127.0.0.1", port, ...opts }, () => {
          resolve(socket.authorized ? "authorized" : `unauthorized: ${String(socket.authorizationError)}`);
          socket.end();
        });
        socket.on("error", (err: NodeJS.ErrnoException) => resolve(`error: ${err.code}`));
      });
    try {
      expect(await handshake({ ca: pki.ca.cert, cert: pki.client.cert, key: pki.client.key })).toBe("authorized");
      const other = makeTestPki();
      expect(await handshake({ ca: other.ca.cert, cert: pki.client.cert, key: pki.client.key })).toMatch(/^error: |^unauthorized/);
      const later = issueCertificate({ commonName: "later", usage: "client" }, pki.ca);
      expect(await handshake({ ca: pki.ca.cert, cert: later.cert, key: later.key })).toBe("authorized");
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
