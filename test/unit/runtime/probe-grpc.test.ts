/**
 * gRPC probes (runProbe with a grpc target) against a real grpc.health.v1 server on 127.0.0.1, as the
 * kubelet's gRPC prober behaves: SERVING passes; NOT_SERVING, UNKNOWN, SERVICE_UNKNOWN, a service the
 * server does not know (NOT_FOUND), a server that is down and one that does not answer within the timeout
 * fail.
 */
import { createServer as createHttpServer } from "node:http";
import { createServer, type AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runProbe } from "../../../operator/src/runtime/probe.js";
import { startGrpcHealthServer, type GrpcHealthServer } from "../../support/grpc-health.js";
import { waitFor } from "../../support/wait.js";

/** A port on 127.0.0.1 that nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe("gRPC probes against a real grpc.health.v1 server", () => {
  let server: GrpcHealthServer;
  const target = (service?: string) => ({ type: "grpc" as const, host: "127.0.0.1", port: server.port, ...(service !== undefined ? { service } : {}) });

  beforeAll(async () => {
    server = await startGrpcHealthServer();
    server.set("cart", "SERVING");
    server.set("payments", "NOT_SERVING");
    server.set("warming", "UNKNOWN");
    server.set("gone", "SERVICE_UNKNOWN");
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('passes on SERVING, for the whole server (service defaults to "") and for a named service', async () => {
    expect(await runProbe(target(), 2_000)).toEqual({ ok: true, message: "service healthy" });
    expect(await runProbe(target("cart"), 2_000)).toEqual({ ok: true, message: "service healthy" });
  });

  it("fails on NOT_SERVING, UNKNOWN and SERVICE_UNKNOWN, naming the status", async () => {
    for (const [service, status] of [
      ["payments", "NOT_SERVING"],
      ["warming", "UNKNOWN"],
      ["gone", "SERVICE_UNKNOWN"],
    ] as const) {
      const outcome = await runProbe(target(service), 2_000);
      expect(outcome.ok, service).toBe(false);
      expect(outcome.message).toContain(status);
    }
  });

  it("follows the server's status as it changes", async () => {
    server.set("flip", "NOT_SERVING");
    expect((await runProbe(target("flip"), 2_000)).ok).toBe(false);
    server.set("flip", "SERVING");
    expect((await runProbe(target("flip"), 2_000)).ok).toBe(true);
  });

  it("fails for a service the server does not know (its NOT_FOUND error)", async () => {
    const outcome = await runProbe(target("nobody"), 2_000);
    expect(outcome.ok).toBe(false);
    expect(outcome.message).toContain("NOT_FOUND");
  });

  it("fails at once when nothing listens", async () => {
    const port = await closedPort();
    const outcome = await runProbe({ type: "grpc", host: "127.0.0.1", port }, 5_000);
    expect(outcome.ok).toBe(false);
    // A connection error, not the 5 s timeout: the probe did not wait the timeout out.
    expect(outcome.message).toContain("failed to connect");
    expect(outcome.message).not.toMatch(/timeout/);
  });

  it("fails when the server does not answer within the timeout, and gives up then", async () => {
    server.hang(true);
    try {
      const before = server.checks;
      const started = Date.now();
      const outcome = await runProbe(target(), 500);
      const took = Date.now() - started;
      expect(outcome.ok).toBe(false);
      expect(outcome.message).toMatch(/time/);
      expect(server.checks).toBe(before + 1); // the call reached the server, which said nothing
      expect(took).toBeGreaterThanOrEqual(450); // it waited for the answer until its timeout
    } finally {
      server.hang(false);
    }
    expect((await runProbe(target(), 2_000)).ok).toBe(true);
  });

  it("fails against a server that accepts connections but never answers, and leaves no connection open", async () => {
    // A hung process: its connections are accepted and read, nothing is ever written back.
    let open = 0;
    let accepted = 0;
    const hung = createServer((socket) => {
      accepted++;
      open++;
      socket.resume();
      socket.on("close", () => open--);
    });
    await new Promise<void>((resolve) => hung.listen(0, "127.0.0.1", resolve));
    try {
      const outcome = await runProbe({ type: "grpc", host: "127.0.0.1", port: (hung.address() as AddressInfo).port }, 500);
      expect(outcome.ok).toBe(false);
      expect(accepted).toBeGreaterThanOrEqual(1);
      await waitFor("the probe's connection closed", () => open === 0, 10_000);
    } finally {
      await new Promise<void>((resolve) => hung.close(() => resolve()));
    }
  });

  it("fails against an HTTP/1.1 server", async () => {
    const http = createHttpServer((_req, res) => res.end("not gRPC"));
    await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
    try {
      const outcome = await runProbe({ type: "grpc", host: "127.0.0.1", port: (http.address() as AddressInfo).port }, 1_000);
      expect(outcome.ok).toBe(false);
    } finally {
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    }
  });
});
