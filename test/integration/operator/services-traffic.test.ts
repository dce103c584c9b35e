/**
 * Services carry traffic: the whole operator in-process on a real Git repository with the process runtime
 * (real processes) and a real HAProxy (Debian's) as the node proxy. A Service's address answers with its
 * ready pods, pods find it by name and by Kubernetes' variables, a rolling update under steady load fails
 * no request, and a Service removed from Git stops being served. (Setup shared with the Ingress suite:
 * test/support/in-process-operator.ts.)
 */
import { execFileSync } from "node:child_process";
import { readFile } from "node:fs/promises";
import http from "node:http";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { LABELS } from "../../../operator/src/runtime/labels.js";
import { ProcessRuntime } from "../../../operator/src/runtime/process/index.js";
import type { RunningOperator } from "../../../operator/src/sync/operator.js";
import { makeRepo, tempDir, type TestRepo } from "../../support/git-repo.js";
import { appDeployment, processServiceNetwork, requireHaproxyAndRoot, startProcessOperator, statusFile, stopProcessOperator, writeTestApp } from "../../support/in-process-operator.js";
import { deploymentYaml, serviceYaml } from "../../support/manifests.js";
import { waitFor } from "../../support/wait.js";

const enabled = requireHaproxyAndRoot("services-traffic");

interface ServiceStatus {
  ports: { port: number; endpoints: { ready: { pod: string }[]; notReady: unknown[]; terminating: unknown[] } }[];
  nodes: { node: string; address?: string; serving: boolean; error?: string }[];
}

describe.skipIf(!enabled)("Services through a real HAProxy (process runtime)", () => {
  let repo: TestRepo;
  let stateDir: string;
  let app: Awaited<ReturnType<typeof writeTestApp>>;
  let op: RunningOperator | undefined;
  const lines: string[] = [];

  beforeAll(async () => {
    app = await writeTestApp();
  });

  afterAll(async () => {
    await app?.remove();
  });

  afterEach(async () => {
    await stopProcessOperator(op, stateDir);
    op = undefined;
    await repo.cleanup();
    lines.length = 0;
  });

  async function start(): Promise<RunningOperator> {
    op = await startProcessOperator(repo, stateDir, { from: 62600, to: 62699 }, lines);
    return op;
  }

  function web(version: string, replicas = 2): string {
    return appDeployment(app.file, { version, replicas });
  }

  function status(name: string): Promise<ServiceStatus | undefined> {
    return statusFile<ServiceStatus>(op!, repo, `services/default/${name}.yaml`);
  }

  /** The Service's status once `ready` endpoints are ready and the node serves it. */
  async function served(name: string, ready: number): Promise<ServiceStatus> {
    return waitFor(
      `Service ${name} served with ${ready} ready endpoints`,
      async () => {
        const s = await status(name);
        return s && s.ports[0]!.endpoints.ready.length === ready && s.nodes.every((n) => n.serving) ? s : undefined;
      },
      60_000,
    );
  }

  function get(address: string, port: number, agent?: http.Agent): Promise<string> {
    return new Promise((resolve, reject) => {
      const req = http.get({ host: address, port, path: "/", agent: agent ?? false, timeout: 5_000 }, (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => (body += c));
        res.on("end", () => (res.statusCode === 200 ? resolve(body.trim()) : reject(new Error(`HTTP ${res.statusCode}: ${body}`))));
      });
      req.on("timeout", () => req.destroy(new Error("timeout")));
      req.on("error", reject);
    });
  }

  it("a Service's address on the node answers with its ready pods, and its status file lists them", async () => {
    stateDir = await tempDir("coxswain-svc-");
    repo = await makeRepo();
    await repo.write("web.yaml", web("v1"));
    await repo.write("svc.yaml", serviceYaml({ ports: [{ name: "http", port: 8080, targetPort: "http" }] }));
    await repo.commit("web and its Service");
    await start();
    const s = await served("web", 2);
    const address = s.nodes[0]!.address!;
    expect(address.startsWith(processServiceNetwork({ from: 62600 }).replace(/0\.0\/16$/, ""))).toBe(true); // the suite's own Service network
    const pods = new Set(s.ports[0]!.endpoints.ready.map((e) => e.pod));
    const seen = new Set<string>();
    for (let i = 0; i < 20; i++) seen.add((await get(address, 8080)).split(" ")[1]!);
    expect(seen).toEqual(pods); // both pods take requests
    expect(lines.some((l) => /proxy of local: /.test(l) && /Proxy/.test(l))).toBe(false);
  });

  it("a pod finds a Service that existed when it started by name (/etc/hosts) and by Kubernetes' variables", async () => {
    stateDir = await tempDir("coxswain-svc-");
    repo = await makeRepo();
    await repo.write("web.yaml", web("v1", 1));
    await repo.write("svc.yaml", serviceYaml({ ports: [{ name: "http", port: 8080, targetPort: "http" }] }));
    await repo.commit("web and its Service");
    await start();
    const s = await served("web", 1);
    const script = 'getent hosts web web.default.svc.cluster.local; echo "env $WEB_SERVICE_HOST $WEB_SERVICE_PORT $WEB_SERVICE_PORT_HTTP"; exec sleep 300';
    await repo.write("client.yaml", deploymentYaml({ name: "client", replicas: 1, command: ["sh", "-c", script], ports: false }));
    await repo.commit("a client");
    const rt = new ProcessRuntime({ stateDir, owner: "coxswain" });
    const log = await waitFor("the client's output", async () => {
      const c = (await rt.list()).find((x) => x.labels[LABELS.workload] === "client");
      const text = c ? await readFile(rt.logPath(c.id), "utf8").catch(() => "") : "";
      return text.includes("env ") ? text : undefined;
    });
    await rt.close();
    const address = s.nodes[0]!.address!;
    expect(log).toContain(`env ${address} 8080 8080`);
    const answers = log.split("\n").filter((l) => l.startsWith(address));
    expect(answers.length).toBe(2);
  });

  it("a rolling update under steady keep-alive load through the Service fails no request", async () => {
    stateDir = await tempDir("coxswain-svc-");
    repo = await makeRepo();
    await repo.write("web.yaml", web("v1", 3));
    await repo.write("svc.yaml", serviceYaml({ ports: [{ name: "http", port: 8080, targetPort: "http" }] }));
    await repo.commit("v1");
    await start();
    const address = (await served("web", 3)).nodes[0]!.address!;
    const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
    let sent = 0;
    const failures: string[] = [];
    const versions = new Set<string>();
    let running = true;
    const client = async () => {
      while (running) {
        sent++;
        try {
          versions.add((await get(address, 8080, agent)).split(" ")[0]!);
        } catch (err) {
          failures.push((err as Error).message);
        }
      }
    };
    const clients = Array.from({ length: 4 }, client);
    await waitFor("traffic flowing", () => sent > 50);
    await repo.write("web.yaml", web("v2", 3));
    const v2 = await repo.commit("v2");
    await waitFor(
      "v2 rolled out and serving alone",
      async () => {
        const s = await status("web");
        const pods = (await op!.fleet.pods()).filter((p) => p.owner === "Deployment/default/web");
        return s?.ports[0]?.endpoints.ready.length === 3 && pods.length === 3 && pods.every((p) => p.commit === v2 && p.ready) && s.ports[0]!.endpoints.terminating.length === 0;
      },
      120_000,
    );
    const before = sent;
    await waitFor("more traffic after the rollout", () => sent > before + 50);
    running = false;
    await Promise.all(clients);
    agent.destroy();
    console.log(`rolling update through the Service: ${sent} requests, ${failures.length} failed`);
    expect(failures).toEqual([]);
    expect(versions).toEqual(new Set(["v1", "v2"]));
  });

  it("a Service removed from Git stops being served and its status file goes", async () => {
    stateDir = await tempDir("coxswain-svc-");
    repo = await makeRepo();
    await repo.write("web.yaml", web("v1", 1));
    await repo.write("svc.yaml", serviceYaml({ ports: [{ name: "http", port: 8080, targetPort: "http" }] }));
    await repo.commit("web and its Service");
    await start();
    const address = (await served("web", 1)).nodes[0]!.address!;
    expect(await get(address, 8080)).toMatch(/^v1 /);
    await repo.rm("svc.yaml");
    await repo.commit("no Service");
    await waitFor("the status file gone", async () => (await status("web")) === undefined);
    await waitFor("the address refuses connections", async () =>
      get(address, 8080).then(
        () => false,
        (err: Error) => /ECONNREFUSED/.test(err.message),
      ),
    );
    expect(execFileSync("git", ["ls-tree", "-r", "--name-only", "coxswain/status"], { cwd: repo.dir, encoding: "utf8" })).not.toMatch(/^services\//m);
  });
});
