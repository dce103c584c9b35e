/**
 * What tests see of a Docker fleet, read straight from the engines (not from the operator): coxswain's
 * containers with their labels, whether each answers HTTP on its assigned port, and whether a container's
 * program has set up its SIGTERM handling yet.
 */
import http from "node:http";
import { DockerRuntime } from "../../operator/src/runtime/docker/index.js";
import { LABELS } from "../../operator/src/runtime/labels.js";
import type { LaunchPort, NodeRuntime, ObservedContainer } from "../../operator/src/runtime/types.js";
import type { TestFleet } from "./docker-fleet.js";
import { waitFor } from "./wait.js";

/** One coxswain container as seen on an engine. */
export interface SeenContainer {
  node: string;
  id: string;
  pod: string;
  workload: string;
  revision: string;
  commit: string;
  state: string;
  port?: number;
}

/** Reads every coxswain container of every node of the fleet. */
export class FleetObserver {
  private readonly runtimes: { node: string; rt: DockerRuntime }[];

  constructor(fleet: TestFleet, owner = "coxswain") {
    this.runtimes = fleet.nodes.map((n) => ({ node: n.name, rt: new DockerRuntime({ endpoint: n.endpoint, owner, callTimeoutMs: 5_000 }) }));
  }

  /** All containers (any state), sorted by node then pod. Nodes that do not answer (stopped on purpose) are skipped. */
  async containers(): Promise<SeenContainer[]> {
    const out: SeenContainer[] = [];
    await Promise.all(
      this.runtimes.map(async ({ node, rt }) => {
        let listed: ObservedContainer[];
        try {
          listed = await rt.list();
        } catch (err) {
          if ((err as { code?: string }).code === "NodeUnreachable") return;
          throw err;
        }
        for (const c of listed) {
          const ports = JSON.parse(c.labels[LABELS.ports] ?? "[]") as LaunchPort[];
          out.push({
            node,
            id: c.id,
            pod: c.labels[LABELS.pod] ?? "",
            workload: c.labels[LABELS.workload] ?? "",
            revision: c.labels[LABELS.revision] ?? "",
            commit: c.labels[LABELS.commit] ?? "",
            state: c.state,
            ...(ports[0] ? { port: ports[0].hostPort } : {}),
          });
        }
      }),
    );
    return out.sort((a, b) => (a.node + a.pod < b.node + b.pod ? -1 : 1));
  }

  async close(): Promise<void> {
    await Promise.all(this.runtimes.map(({ rt }) => rt.close()));
  }
}

/** GET http://host:port/path (host 127.0.0.1 unless given) → body, or undefined when it fails (within timeoutMs). */
export function httpGet(port: number, path = "/", timeoutMs = 1000, host = "127.0.0.1"): Promise<string | undefined> {
  return new Promise((resolve) => {
    const req = http.get({ host, port, path, timeout: timeoutMs, agent: false }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (body += c));
      res.on("end", () => resolve(res.statusCode && res.statusCode < 400 ? body : undefined));
      res.on("error", () => resolve(undefined));
    });
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolve(undefined));
  });
}

/**
 * Resolves once the container's command catches SIGTERM (a shell `trap '…' TERM`) or ignores it (`trap ''
 * TERM`), read from its /proc/<pid>/status (SigCgt, SigIgn) by exec: PID 1, or under the engine's init
 * (docker-init is PID 1 then) the init's child. A test that signals a freshly started shell must wait for
 * this: until the trap is set the signal ends the shell (or, as PID 1, is dropped by the kernel); a fixed
 * sleep "to let the shell set its trap" can be too short on a loaded machine.
 */
export async function waitForSigtermHandling(rt: NodeRuntime, containerId: string, how: "caught" | "ignored", timeoutMs = 15_000): Promise<void> {
  const field = how === "caught" ? "SigCgt" : "SigIgn";
  const SIGTERM_BIT = 1n << 14n; // signal 15
  await waitFor(
    `the command of ${containerId.slice(0, 12)} to have SIGTERM ${how}`,
    async () => {
      const script = '[ "$(cat /proc/1/comm)" != docker-init ] && exec cat /proc/1/status; ' + 'for f in /proc/[0-9]*/status; do grep -q "^PPid:[[:space:]]*1$" "$f" && exec cat "$f"; done';
      const r = await rt.exec(containerId, ["sh", "-c", script], 5_000);
      const mask = new RegExp(`^${field}:\\s*([0-9a-f]+)$`, "m").exec(r.output)?.[1];
      return mask !== undefined && (BigInt(`0x${mask}`) & SIGTERM_BIT) !== 0n;
    },
    timeoutMs,
  );
}
