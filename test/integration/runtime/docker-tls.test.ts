/**
 * DockerRuntime over TCP with TLS against a real dockerd started with --tlsverify (test fleet option
 * `tls`): the happy path end to end, and each way the handshake can be refused.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { isCoxError, type CoxError } from "../../../operator/src/api/errors.js";
import { DockerRuntime } from "../../../operator/src/runtime/docker/index.js";
import { LABELS } from "../../../operator/src/runtime/labels.js";
import type { ContainerLaunch, TlsCredentials } from "../../../operator/src/runtime/types.js";
import { requireDocker, startFleet, type TestFleet } from "../../support/docker-fleet.js";
import { buildTestImages, TEST_IMAGES, TEST_PROXY_IMAGE } from "../../support/images.js";
import { issueCertificate, makeTestPki } from "../../support/tls.js";

const OWNER = "cx-test-tls";
const enabled = requireDocker("docker over TLS");

async function rejection(p: Promise<unknown>): Promise<CoxError> {
  try {
    await p;
  } catch (err) {
    if (!isCoxError(err)) throw err;
    return err;
  }
  throw new Error("expected a rejection");
}

describe.skipIf(!enabled)("DockerRuntime over tcp:// with TLS", () => {
  let fleet: TestFleet;
  const runtimes: DockerRuntime[] = [];

  function runtime(tls: TlsCredentials | undefined, endpoint = fleet.nodes[0]!.tcpEndpoint!): DockerRuntime {
    const r = new DockerRuntime({ endpoint, owner: OWNER, nodeName: "tls-node", callTimeoutMs: 10_000, ...(tls ? { tls } : {}) });
    runtimes.push(r);
    return r;
  }

  function launch(n: number): ContainerLaunch {
    const port = Number(fleet.nodes[0]!.portRange.split("-")[0]) + n;
    return {
      runtimeName: `cx_test_tls-${n}_app`,
      image: TEST_IMAGES.v1,
      env: { PORT: String(port) },
      network: "host",
      ports: [{ containerPort: port, hostPort: port, protocol: "TCP" }],
      limits: {},
      labels: { [LABELS.owner]: OWNER, [LABELS.pod]: `tls-${n}` },
    };
  }

  beforeAll(async () => {
    fleet = await startFleet({ nodes: 1, name: "tls", tls: true });
    await buildTestImages(fleet.nodes[0]!.socketPath);
  });

  afterAll(async () => {
    await Promise.all(runtimes.map((r) => r.close()));
    await fleet?.stop();
  });

  it("connects, runs, lists, watches, execs in, stops and removes a container over TLS with a client certificate", async () => {
    const node = fleet.nodes[0]!;
    expect(node.tcpEndpoint).toMatch(/^tcp:\/\/127\.0\.0\.1:\d+$/);
    const r = runtime(node.tls!);
    const info = await r.connect();
    expect(info.cpuMillis).toBeGreaterThan(0);
    expect(info.engine).toMatch(/^docker /);
    const seen: Array<string | undefined> = [];
    const unwatch = r.watch((id) => seen.push(id));
    const c = await r.run(launch(1));
    expect((await r.list()).map((x) => x.id)).toEqual([c.id]);
    expect(await r.images()).toContain(TEST_IMAGES.v1);
    expect(await r.exec(c.id, ["cat", "/www/healthz"], 5_000)).toEqual({ exitCode: 0, output: "ok\n" });
    await r.stop(c.id, 5);
    expect((await r.list())[0]).toMatchObject({ state: "exited", exitCode: 0 });
    await r.remove(c.id);
    expect(await r.list()).toEqual([]);
    const deadline = Date.now() + 5_000;
    while (!seen.includes(c.id) && Date.now() < deadline) await new Promise((res) => setTimeout(res, 50));
    unwatch();
    expect(seen).toContain(c.id);
  });

  it("refuses an engine whose certificate is not signed by the configured CA: NodeUnreachable with the TLS reason", async () => {
    const other = makeTestPki();
    const err = await rejection(runtime({ ca: other.ca.cert, cert: fleet.nodes[0]!.tls!.cert, key: fleet.nodes[0]!.tls!.key }).connect());
    expect(err.code).toBe("NodeUnreachable");
    expect(err.details?.tls).toMatch(/UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT/);
    expect(err.message).toContain("TLS");
  });

  it("refuses a server whose certificate does not name the host connected to", async () => {
    // dockerd's certificate names 127.0.0.1 and localhost; a TLS server on 127.0.0.1 with a certificate
    // for another name (same kind of CA) shows the host check. It answers like an engine would.
    const { createServer } = await import("node:https");
    const pki = makeTestPki(["engine.example"]);
    const server = createServer({ cert: pki.server.cert, key: pki.server.key }, (_req, res) => res.end('{"ApiVersion":"1.41"}'));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as { port: number }).port;
    try {
      const err = await rejection(runtime({ ca: pki.ca.cert }, `tcp://127.0.0.1:${port}`).connect());
      expect(err.code).toBe("NodeUnreachable");
      expect(err.details?.tls).toBe("ERR_TLS_CERT_ALTNAME_INVALID");
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it.each([
    { name: "without a client certificate", creds: (t: TlsCredentials): TlsCredentials => ({ ca: t.ca }) },
    {
      name: "with a client certificate from another CA",
      creds: (t: TlsCredentials): TlsCredentials => {
        const stranger = makeTestPki();
        return { ca: t.ca, cert: stranger.client.cert, key: stranger.client.key };
      },
    },
    {
      name: "with a server certificate presented as the client certificate",
      creds: (t: TlsCredentials): TlsCredentials => ({ ca: t.ca, cert: fleet.pki!.server.cert, key: fleet.pki!.server.key }),
    },
  ])("is refused by an engine with --tlsverify $name: NodeUnreachable", async ({ creds }) => {
    const err = await rejection(runtime(creds(fleet.nodes[0]!.tls!)).connect());
    expect(err.code).toBe("NodeUnreachable");
    // The engine's alert (bad certificate) — or, when TLS 1.3 lets the engine hang up first, the reset.
    expect(err.details?.tls ?? err.details?.errno).toMatch(/^ERR_SSL_|^ECONNRESET$/);
  });

  it("reports plain HTTP to the TLS port as NodeUnreachable asking for TLS credentials", async () => {
    const err = await rejection(runtime(undefined).connect());
    expect(err.code).toBe("NodeUnreachable");
    expect(err.details?.tls).toBe("PLAIN_HTTP_TO_TLS_PORT");
  });

  it("reports TLS to a port that speaks plain HTTP as NodeUnreachable with the TLS reason", async () => {
    const { createServer } = await import("node:http");
    const server = createServer((_req, res) => res.end("{}"));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as { port: number }).port;
    try {
      const err = await rejection(runtime(fleet.nodes[0]!.tls!, `tcp://127.0.0.1:${port}`).connect());
      expect(err.code).toBe("NodeUnreachable");
      expect(typeof err.details?.tls).toBe("string");
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it("writes Node manifests for the TLS endpoints with a kubernetes.io/tls Secret of the client's credentials", () => {
    const docs = parseAllDocuments(fleet.nodeManifests({ tls: true })).map((d) => d.toJS() as Record<string, any>);
    const node = fleet.nodes[0]!;
    expect(docs).toEqual([
      {
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name: "node-1-tls", namespace: "default" },
        type: "kubernetes.io/tls",
        stringData: { "ca.crt": node.tls!.ca, "tls.crt": node.tls!.cert, "tls.key": node.tls!.key },
      },
      {
        apiVersion: "coxswain.io/v1alpha1",
        kind: "Node",
        metadata: { name: "node-1" },
        spec: {
          endpoint: node.tcpEndpoint,
          network: "host",
          address: "127.0.0.1",
          portRange: node.portRange,
          // The fleet's machine-wide slot picks the network (127.<100+slot>.0.0/16): another fleet may hold slot 0.
          serviceNetwork: expect.stringMatching(/^127\.(1[0-9][0-9]|2[0-4][0-9]|25[0-5])\.0\.0\/16$/),
          proxyImage: TEST_PROXY_IMAGE,
          tls: { secretRef: { name: "node-1-tls", namespace: "default" } },
        },
      },
    ]);
  });

  it("uses a client certificate issued later by the same CA", () => {
    const fresh = issueCertificate({ commonName: "another client", usage: "client" }, fleet.pki!.ca);
    return expect(runtime({ ca: fleet.pki!.ca.cert, cert: fresh.cert, key: fresh.key }).connect()).resolves.toMatchObject({
      cpuMillis: expect.any(Number),
    });
  });
});
