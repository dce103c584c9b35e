/**
 * Services in a followed branch, through the whole pipeline in-process (real Git repository, manifest,
 * graph, diff, controllers, status; the fake runtime for the engines and in-memory node proxies): commits
 * with Services apply, record their changes and succeed, start no pods of their own; the service controller
 * turns ready pods into endpoints and node proxy configurations, reports a node whose proxy cannot be
 * configured while the others serve, and nothing of an invalid commit reaches a proxy. (Real traffic through
 * a real HAProxy: services-traffic.test.ts and test/e2e/services.test.ts.)
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { CoxError } from "../../../operator/src/api/errors.js";
import { FakeProxy, FakeRuntime } from "../../../operator/src/runtime/fake/index.js";
import type { NodeConfig } from "../../../operator/src/runtime/fleet.js";
import type { OperatorOptions, RunningOperator } from "../../../operator/src/sync/operator.js";
import { makeRepo, runGit, tempDir, type TestRepo } from "../../support/git-repo.js";
import { deploymentYaml, serviceYaml } from "../../support/manifests.js";
import { waitFor } from "../../support/wait.js";
import { startTestOperator, stopTestOperator } from "../../support/operator-fixture.js";

const GiB = 2 ** 30;

describe("operator with Services in the repository", () => {
  let repo: TestRepo;
  let stateDir: string;
  let op: RunningOperator | undefined;

  beforeEach(async () => {
    repo = await makeRepo();
    stateDir = await tempDir("coxswain-state-");
  });

  afterEach(async () => {
    await stopTestOperator(op, repo, stateDir);
    op = undefined;
  });

  const proxies = new Map<string, FakeProxy>();
  const runtimes = new Map<string, FakeRuntime>();
  const lines: string[] = [];

  /**
   * The operator on fake nodes, each with 2 CPUs and 4 GiB (or `capacity`) and a FakeProxy; the proxy of
   * `broken` refuses every configuration.
   */
  async function start(opts: { broken?: string; ingress?: OperatorOptions["ingress"]; capacity?: { cpuMillis: number; memoryBytes: number } } = {}): Promise<void> {
    proxies.clear();
    runtimes.clear();
    lines.length = 0;
    op = await startTestOperator(repo, stateDir, lines, {
      seed: 1,
      ...(opts.ingress ? { ingress: opts.ingress } : {}),
      runtimeFactory: (node) => {
        const rt = new FakeRuntime({ name: node.name, ...(opts.capacity ?? { cpuMillis: 2000, memoryBytes: 4 * GiB }) });
        runtimes.set(node.name, rt);
        return rt;
      },
      proxyFactory: (node: NodeConfig) => {
        const proxy = new FakeProxy();
        if (node.name === opts.broken) proxy.apply = () => Promise.reject(new CoxError("ProxyBindFailed", "127.0.0.1:30080 (Address already in use)"));
        proxies.set(node.name, proxy);
        return proxy;
      },
    });
  }
  const nodesYaml = ["n1", "n2"]
    .map(
      (n, i) =>
        `apiVersion: coxswain.io/v1alpha1\nkind: Node\nmetadata:\n  name: ${n}\nspec:\n  endpoint: unix:///fake/${n}.sock\n  address: 127.0.0.${11 + i}\n  portRange: 30000-30999\n  serviceNetwork: 127.${100 + i}.0.0/16\n`,
    )
    .join("---\n");

  async function serviceStatus(): Promise<
    { ports: { endpoints: { ready: { pod: string }[]; notReady: { pod: string }[] } }[]; nodes: { node: string; serving: boolean; error?: string; address?: string }[] } | undefined
  > {
    await op!.flushStatus();
    const text = await runGit(["show", "coxswain/status:services/default/web.yaml"], { cwd: repo.dir }).catch(() => undefined);
    return text === undefined ? undefined : parse(text);
  }

  async function commitRecord(oid: string): Promise<string> {
    await op!.flushStatus();
    return runGit(["show", `coxswain/status:commits/${oid.slice(0, 2)}/${oid}.yaml`], { cwd: repo.dir }).catch(() => "");
  }

  const phase = async (oid: string): Promise<string | undefined> => /^phase: (\w+)/m.exec(await commitRecord(oid))?.[1];

  /** Containers running on every node. */
  async function running(): Promise<number> {
    const lists = await Promise.all([...runtimes.values()].map((rt) => rt.list()));
    return lists.flat().filter((c) => c.state === "running").length;
  }

  it("applies commits that create, change and delete Services, starting pods for the Deployment only", async () => {
    await repo.write("web.yaml", deploymentYaml({ replicas: 2, image: "app:v1" }));
    await repo.write("svc.yaml", serviceYaml({ type: "NodePort", ports: [{ name: "http", port: 80, targetPort: "http", nodePort: 30080 }] }));
    const c1 = await repo.commit("web and its Service");
    await start();
    await waitFor("c1 Succeeded", async () => (await phase(c1)) === "Succeeded");
    expect(await running()).toBe(2);
    expect(await commitRecord(c1)).toContain("create Service/default/web");

    await repo.write("svc.yaml", serviceYaml({ type: "NodePort", ports: [{ name: "http", port: 8080, targetPort: "http", nodePort: 30080 }] }));
    const c2 = await repo.commit("Service port 8080");
    await waitFor("c2 Succeeded", async () => (await phase(c2)) === "Succeeded");
    expect(await commitRecord(c2)).toMatch(/update Service\/default\/web \(spec\.ports\)/);

    await repo.rm("svc.yaml");
    const c3 = await repo.commit("no Service");
    await waitFor("c3 Succeeded", async () => (await phase(c3)) === "Succeeded");
    expect(await commitRecord(c3)).toContain("delete Service/default/web");
    expect(await running()).toBe(2);
    // The Service's status file goes with it.
    await waitFor("services/default/web.yaml removed", async () => {
      await op!.flushStatus();
      return !/^services\//m.test(await runGit(["ls-tree", "-r", "--name-only", "coxswain/status"], { cwd: repo.dir }));
    });
  });

  it("records a commit with an invalid Service as Invalid, with file and line, and applies nothing of it", async () => {
    await repo.write("web.yaml", deploymentYaml({ replicas: 1, image: "app:v1" }));
    const good = await repo.commit("web");
    await start();
    await waitFor("good Succeeded", async () => (await phase(good)) === "Succeeded");

    await repo.write("web.yaml", deploymentYaml({ replicas: 2, image: "app:v1" }));
    await repo.write("svc.yaml", serviceYaml({ ports: [{ port: 80, nodePort: 30080 }] }));
    const bad = await repo.commit("nodePort on a ClusterIP Service");
    await waitFor("bad Invalid", async () => (await phase(bad)) === "Invalid");
    const record = await commitRecord(bad);
    expect(record).toMatch(/code: InvalidField/);
    expect(record).toMatch(/file: svc.yaml/);
    expect(record).toMatch(/object: Service\/default\/web/);
    expect(record).toMatch(/field: spec.ports\[0\].nodePort/);
    expect(await running()).toBe(1);
  });

  it("makes the ready pods of every node endpoints on every node's proxy, and takes a leaving pod out without a reload", async () => {
    await repo.write("nodes.yaml", nodesYaml);
    await repo.write("web.yaml", deploymentYaml({ replicas: 2, image: "app:v1" }));
    await repo.write("svc.yaml", serviceYaml({ type: "NodePort", ports: [{ name: "http", port: 80, targetPort: "http", nodePort: 30080 }] }));
    await repo.commit("web behind a NodePort Service on two nodes");
    await start();
    const s = await waitFor("2 ready endpoints served by both nodes", async () => {
      const st = await serviceStatus();
      return st?.ports[0]?.endpoints.ready.length === 2 && st.nodes.every((n) => n.serving) ? st : undefined;
    });
    expect(s.nodes.map((n) => n.address)).toEqual([expect.stringMatching(/^127\.100\./), expect.stringMatching(/^127\.101\./)]);
    for (const name of ["n1", "n2"]) {
      const text = proxies.get(name)!.reloads.at(-1)!;
      expect(text).toContain(`127.0.0.${name === "n1" ? 11 : 12}:30080`); // the node port on the node's own address
      // Both pods, wherever they run: in the configuration's server lines or set by runtime edits since.
      const ports = new Set([
        ...[...text.matchAll(/^\s+server s\d+ (127\.0\.0\.1\d:3\d+)/gm)].map((m) => m[1]),
        ...proxies.get(name)!.commands.flatMap((c) => {
          const m = /addr (127\.0\.0\.1\d) port (3\d+)/.exec(c);
          return m ? [`${m[1]}:${m[2]}`] : [];
        }),
      ]);
      expect(ports.size).toBe(2);
    }
    // No pod was given the node port.
    const containers = (await Promise.all([...runtimes.values()].map((rt) => rt.list()))).flat();
    expect(containers).toHaveLength(2);
    for (const c of containers) expect(c.labels["io.coxswain.ports"]).not.toContain("30080");

    // Scaled down to one: the leaving pod goes out of every proxy through runtime edits, not a reload.
    const reloads = [...proxies.values()].map((p) => p.reloads.length);
    await repo.write("web.yaml", deploymentYaml({ replicas: 1, image: "app:v1" }));
    await repo.commit("web scaled to 1");
    await waitFor("1 ready endpoint, none leaving", async () => {
      const st = await serviceStatus();
      return st?.ports[0]?.endpoints.ready.length === 1 && st.ports[0]!.endpoints.notReady.length === 0;
    });
    await waitFor("both proxies told to drain it, then to take it out", () => [...proxies.values()].every((p) => p.commands.some((c) => /state drain|weight 0/.test(c)) && p.commands.some((c) => /state maint/.test(c))));
    expect([...proxies.values()].map((p) => p.reloads.length)).toEqual(reloads);
  });

  it("reports a node whose proxy cannot be configured, in the status file and the log, while the other serves", async () => {
    await repo.write("nodes.yaml", nodesYaml);
    await repo.write("web.yaml", deploymentYaml({ replicas: 2, image: "app:v1" }));
    await repo.write("svc.yaml", serviceYaml({ ports: [{ name: "http", port: 80, targetPort: "http" }] }));
    await repo.commit("web behind a Service");
    await start({ broken: "n2" });
    const s = await waitFor("n1 serving, n2 failing", async () => {
      const st = await serviceStatus();
      const [n1, n2] = st?.nodes ?? [];
      return n1?.serving && n2 && !n2.serving && n2.error ? st : undefined;
    });
    expect(s.nodes[1]!.error).toMatch(/^ProxyBindFailed: /);
    expect(lines.filter((l) => l.includes("proxy of n2: ProxyBindFailed"))).toHaveLength(1); // said once, not at every retry
    expect(proxies.get("n1")!.reloads).toHaveLength(1);
  });

  it("lets nothing of an invalid commit reach a proxy", async () => {
    await repo.write("web.yaml", deploymentYaml({ replicas: 1, image: "app:v1" }));
    await repo.write("svc.yaml", serviceYaml({ ports: [{ name: "http", port: 80, targetPort: "http" }] }));
    const good = await repo.commit("web behind a Service");
    await start();
    await waitFor("good Succeeded and served", async () => (await phase(good)) === "Succeeded" && (await serviceStatus())?.nodes.every((n) => n.serving) === true);
    const proxy = [...proxies.values()][0]!;
    const before = { reloads: proxy.reloads.length, commands: proxy.commands.length };
    await repo.write(
      "svc.yaml",
      serviceYaml({
        ports: [
          { name: "http", port: 81, targetPort: "http" },
          { name: "http", port: 82, targetPort: "http" },
        ],
      }),
    );
    const bad = await repo.commit("two ports with one name");
    await waitFor("bad Invalid", async () => (await phase(bad)) === "Invalid");
    await op!.flushStatus();
    expect({ reloads: proxy.reloads.length, commands: proxy.commands.length }).toEqual(before);
    expect(proxy.reloads.at(-1)).not.toMatch(/:8[12]\b/);
  });

  it("never gives a pod the ingress port, even where it lies in a node's port range", async () => {
    // One node with ten host ports, the ingress HTTP port among them: nine pods fit, none on 30003.
    await repo.write("nodes.yaml", "apiVersion: coxswain.io/v1alpha1\nkind: Node\nmetadata:\n  name: n1\nspec:\n  endpoint: unix:///fake/n1.sock\n  portRange: 30000-30009\n");
    await repo.write("web.yaml", deploymentYaml({ replicas: 10, image: "app:v1" }));
    // A Service too: both controllers keep ports from pods then, and must agree on the ingress port.
    await repo.write("svc.yaml", serviceYaml({ ports: [{ name: "http", port: 80, targetPort: "http" }] }));
    await repo.commit("ten pods in ten ports");
    await start({ ingress: { httpPort: 30003 }, capacity: { cpuMillis: 64_000, memoryBytes: 64 * GiB } });
    await waitFor("nine pods running", async () => (await running()) === 9);
    const hostPorts = (await runtimes.get("n1")!.list()).flatMap((c) => (JSON.parse(c.labels["io.coxswain.ports"] ?? "[]") as { hostPort: number }[]).map((p) => p.hostPort));
    expect(hostPorts).toHaveLength(9);
    expect(hostPorts).not.toContain(30003);
  });
});
