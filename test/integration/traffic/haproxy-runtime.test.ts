/**
 * The pure pipeline against a running HAProxy: pods → serviceEndpoints → proxyConfig → renderHaproxy, then
 * proxyEdits' runtime-API commands for a rolling sequence of pods. After each step, what HAProxy reports
 * (`show servers state`) is what the returned state says, and requests reach exactly the servers that
 * should take them: a draining pod gets none, a pod at weight 0 none, a stuck client leaves a leaving pod,
 * and a canary split gives the canary revision's pods their share of requests.
 * Everything listens on 127.0.0.1.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { request, createServer, type Server } from "node:http";
import { createConnection, createServer as createNetServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serviceEndpoints } from "../../../operator/src/traffic/endpoints.js";
import { proxyEdits, type RenderedState } from "../../../operator/src/traffic/haproxy.js";
import { proxyConfig } from "../../../operator/src/traffic/proxy.js";
import type { ProxyConfig, ServiceRoute, ServiceSpec, TrafficPod } from "../../../operator/src/traffic/types.js";
import { waitFor } from "../../support/wait.js";
import { pod, podPort, port, service } from "../../unit/traffic/builders.js";
import { requireHaproxy } from "./haproxy-binary.js";

const haproxy = requireHaproxy("haproxy runtime edits");

/** One runtime-API command on the admin socket; resolves with HAProxy's answer. */
function cli(socket: string, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const conn = createConnection(socket, () => conn.end(`${command}\n`));
    conn.on("data", (c: Buffer) => chunks.push(c));
    conn.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    conn.on("error", reject);
  });
}

/** `show servers state <listener>` as the state records slots: address, port, configured weight, admin state. */
async function serversState(socket: string, listener: string): Promise<unknown[]> {
  const text = await cli(socket, `show servers state ${listener}`);
  const rows = text.split("\n").filter((l) => /^[0-9]+ /.test(l) && l.split(" ").length > 10);
  return rows.map((row) => {
    const f = row.split(" ");
    const admin = Number(f[6]);
    // HAProxy's admin flags: 0x23 any maintenance (0x04 only records a `disabled` keyword), 0x18 any drain.
    return { address: f[4], port: Number(f[18]), weight: Number(f[7]), admin: admin & 0x23 ? "maint" : admin & 0x18 ? "drain" : "ready" };
  });
}

/** Who answers `n` requests to 127.0.0.1:port, each on a new connection: backend names, or "503". */
async function responders(listenPort: number, n = 12): Promise<string[]> {
  return [...(await answers(listenPort, n)).keys()].sort();
}

/** How many of `n` requests to 127.0.0.1:port, each on a new connection, each backend (or "503") answers. */
async function answers(listenPort: number, n: number): Promise<Map<string, number>> {
  const seen = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const who = await new Promise<string>((resolve, reject) => {
      const req = request({ host: "127.0.0.1", port: listenPort, path: "/", agent: false }, (res) => {
        let body = "";
        res.on("data", (c: Buffer) => (body += c.toString()));
        res.on("end", () => resolve(res.statusCode === 200 ? body : String(res.statusCode)));
      });
      req.on("error", reject);
      req.end();
    });
    seen.set(who, (seen.get(who) ?? 0) + 1);
  }
  return seen;
}

async function freePort(): Promise<number> {
  const srv = createNetServer();
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  const { port: p } = srv.address() as AddressInfo;
  await new Promise((r) => srv.close(r));
  return p;
}

describe.skipIf(haproxy === undefined)("proxyEdits on a running haproxy", () => {
  const dir = mkdtempSync(join(tmpdir(), "cx-haproxy-rt-"));
  const socket = join(dir, "admin.sock");
  const backends = new Map<string, { server: Server; port: number }>();
  let proc: ChildProcess | undefined;
  let output = "";
  let webPort = 0;
  let stickyPort = 0;
  let services: ServiceSpec[] = [];

  beforeAll(async () => {
    for (const name of ["b1", "b2", "b3", "b4", "b5"]) {
      const server = createServer((_req, res) => res.end(name));
      await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
      backends.set(name, { server, port: (server.address() as AddressInfo).port });
    }
    webPort = await freePort();
    stickyPort = await freePort();
    services = [service("web", { ports: [port({ name: "http", port: webPort, mode: "http" })] }), service("sticky", { selector: { app: "web" }, sessionAffinity: "ClientIP", ports: [port({ port: stickyPort })] })];
  });

  afterAll(async () => {
    if (proc?.exitCode === null) {
      const exited = new Promise((r) => proc!.once("exit", r));
      proc.kill("SIGTERM");
      await exited;
    }
    for (const { server } of backends.values()) await new Promise((r) => server.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  /** A ready pod answering on backend `name`'s port. */
  const backendPod = (name: string, over: Partial<TrafficPod> = {}): TrafficPod => pod(name, { address: "127.0.0.1", ports: [podPort({ hostPort: backends.get(name)!.port })], ...over });

  /** A pod of the Rollout default/web at revision "s" (stable) or "c" (canary). */
  const rolloutPod = (name: string, revision: "s" | "c"): TrafficPod => backendPod(name, { owner: "Rollout/default/web", revision });

  /** The configuration for `pods`; with `canaryWeight`, Service web carries the Rollout's split at that weight. */
  function configFor(pods: TrafficPod[], canaryWeight?: number): ProxyConfig {
    const node = {
      name: "n1",
      address: "127.0.0.1",
      serviceNetworkAddresses: new Map([
        ["default/web", "127.0.0.1"],
        ["default/sticky", "127.0.0.1"],
      ]),
    };
    const routes = new Map<string, ServiceRoute>(canaryWeight === undefined ? [] : [["default/web", { rollout: "Rollout/default/web", role: "split", stable: "s", canary: "c", weight: canaryWeight }]]);
    return proxyConfig(
      node,
      services,
      services.map((s) => serviceEndpoints(s, pods)),
      routes,
    );
  }

  /** Takes HAProxy to `config` (starting it the first time) and checks that it reports what the state says. */
  async function apply(applied: RenderedState | undefined, config: ProxyConfig): Promise<RenderedState> {
    const edits = proxyEdits(applied, config, { statsSocket: socket });
    if (applied === undefined) {
      expect(edits.reload).toBe(true);
      if (!edits.reload) throw new Error("unreachable");
      const file = join(dir, "haproxy.cfg");
      writeFileSync(file, edits.text);
      proc = spawn(haproxy!, ["-W", "-db", "-S", join(dir, "master.sock"), "-f", file], { stdio: ["ignore", "pipe", "pipe"] });
      proc.stdout!.on("data", (c: Buffer) => (output += c.toString()));
      proc.stderr!.on("data", (c: Buffer) => (output += c.toString()));
      await waitFor(`haproxy's admin socket (output so far: ${output})`, async () => (await cli(socket, "show info").catch(() => "")).includes("Name: HAProxy"));
    } else {
      // Within a step, only runtime edits: the listeners and their slot counts stay.
      expect(edits.reload).toBe(false);
      if (edits.reload) throw new Error("unreachable");
      for (const command of edits.commands) {
        const answer = await cli(socket, command);
        expect(answer.trim(), command).toMatch(/^$|^IP changed from|^no need to change the addr|^port changed from/);
      }
    }
    for (const l of edits.state.listeners) {
      const want = l.slots.map(({ server: _id, ...slot }) => slot);
      await waitFor(`${l.name} to hold the slots the state records`, async () => JSON.stringify(await serversState(socket, l.name)) === JSON.stringify(want));
    }
    return edits.state;
  }

  /** Waits until requests to `listenPort` reach exactly `want` (sorted). */
  async function expectResponders(listenPort: number, want: string[]): Promise<void> {
    let last: string[] = [];
    await waitFor(`requests to reach ${want.join(", ")}`, async () => JSON.stringify((last = await responders(listenPort))) === JSON.stringify(want)).catch((err: Error) => {
      throw new Error(`${err.message}; last reached ${last.join(", ")}`);
    });
  }

  /** The one backend a stuck client reaches (all its requests go to one server). */
  async function stuckTo(): Promise<string> {
    const seen = await responders(stickyPort);
    expect(seen).toHaveLength(1);
    return seen[0]!;
  }

  it("follows a rolling sequence of pods with runtime edits alone", async () => {
    let state = await apply(undefined, configFor([backendPod("b1")]));
    await expectResponders(webPort, ["b1"]);
    expect(await stuckTo()).toBe("b1");

    // Two new pods, a canary split at 50 %: the canary pod b3 takes as many requests as b1 and b2 together;
    // the stuck client stays.
    state = await apply(state, configFor([rolloutPod("b1", "s"), rolloutPod("b2", "s"), rolloutPod("b3", "c")], 50));
    await expectResponders(webPort, ["b1", "b2", "b3"]);
    const half = await answers(webPort, 400);
    expect(Math.abs((half.get("b3") ?? 0) / 400 - 0.5)).toBeLessThanOrEqual(0.05);
    expect(await stuckTo()).toBe("b1");

    // b1 leaves: it drains (no new requests), and the client stuck to it moves to another pod and stays there.
    state = await apply(state, configFor([backendPod("b1", { terminating: true }), backendPod("b2"), backendPod("b3"), backendPod("b4")]));
    await expectResponders(webPort, ["b2", "b3", "b4"]);
    const moved = await stuckTo();
    expect(moved).not.toBe("b1");
    expect(await stuckTo()).toBe(moved);

    // b1 is gone; the split goes to 100 %: the stable pod b2 gets weight 0 and no request.
    state = await apply(state, configFor([rolloutPod("b2", "s"), rolloutPod("b3", "c"), rolloutPod("b4", "c")], 100));
    await expectResponders(webPort, ["b3", "b4"]);

    // A 10 % split over one canary and two stable pods takes 10 % of requests, not the canary's third of the pods.
    state = await apply(state, configFor([rolloutPod("b2", "s"), rolloutPod("b3", "s"), rolloutPod("b4", "c")], 10));
    const tenth = await answers(webPort, 560);
    expect(Math.abs((tenth.get("b4") ?? 0) / 560 - 0.1)).toBeLessThanOrEqual(0.02);

    // Four pods fill the four slots the first text had.
    state = await apply(state, configFor([backendPod("b1"), backendPod("b2"), backendPod("b3"), backendPod("b4")]));
    expect(state.listeners.every((l) => l.slots.length === 4 && l.slots.every((s) => s.server !== undefined))).toBe(true);
    await expectResponders(webPort, ["b1", "b2", "b3", "b4"]);

    // One replaced while every slot is taken: the slot is handed over.
    state = await apply(state, configFor([backendPod("b1"), backendPod("b2"), backendPod("b3"), backendPod("b5")]));
    await expectResponders(webPort, ["b1", "b2", "b3", "b5"]);

    // No pods: the listener stays, with nothing to send to.
    await apply(state, configFor([]));
    await expectResponders(webPort, ["503"]);
  });
});
