/**
 * DockerProxy against a real engine reached the way a remote one is (tcp:// with TLS and a client
 * certificate), with real HAProxy 2.6 in a container and the busybox test app as backends (network host,
 * on ports of the node's range). Configurations are small hand-written templates (the renderer lives in
 * traffic/). Steady keep-alive clients run through reloads, refusals, crashes and an adoption; the tests
 * assert that none of their requests failed and where traffic went, never how long anything took.
 * Certificates (test/support/tls.ts) go in as the files of a configuration and are served over HTTPS.
 *
 * Images: coxswain-test/haproxy:2.6 (busybox and this machine's haproxy) and, made from it here, a stand-in
 * closer to the official haproxy:2.6: Debian's perl-base added (the official image has it, and no socat
 * or nc), its docker-entrypoint.sh as ENTRYPOINT, USER haproxy, STOPSIGNAL SIGUSR1.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { isCoxError, type ErrorCode } from "../../../operator/src/api/errors.js";
import { DockerRuntime } from "../../../operator/src/runtime/docker/index.js";
import { LABELS } from "../../../operator/src/runtime/labels.js";
import { DockerProxy } from "../../../operator/src/runtime/proxy/docker-proxy.js";
import type { ContainerLaunch } from "../../../operator/src/runtime/types.js";
import { requireDocker, startFleet, type FleetNode, type TestFleet } from "../../support/docker-fleet.js";
import type { RequestRecord } from "../../../operator/src/traffic/types.js";
import { fetchAnswer, get, sendRequests, servedBy, startLoad, type TimedAnswer, type Load } from "../../support/http-load.js";
import { buildProxyImage, buildTestImages, TEST_IMAGES, TEST_PROXY_IMAGE } from "../../support/images.js";
import { coxErrorOf } from "../../support/errors.js";
import { issueCertificate } from "../../support/tls.js";
import { waitFor } from "../../support/wait.js";

const HAPROXY = "/usr/sbin/haproxy";
/** The stand-in of the official image, made in beforeAll from TEST_PROXY_IMAGE. */
const OFFICIAL_LIKE_IMAGE = "coxswain-test/haproxy-official-like:2.6";

/** True when haproxy is installed (the test proxy image copies it); in CI a missing binary fails the suite. */
function requireHaproxy(suiteName: string): boolean {
  if (existsSync(HAPROXY)) return true;
  const why = `needs ${HAPROXY} (apt-get install -y haproxy)`;
  if (process.env.CI === "true") throw new Error(`${suiteName}: haproxy is not available in CI: ${why}`);
  console.warn(`${suiteName}: skipped, ${why}`);
  return false;
}

const enabled = requireDocker("docker proxy") && requireHaproxy("docker proxy");

async function codeOf(p: Promise<unknown>): Promise<ErrorCode | "resolved" | "not a CoxError"> {
  try {
    await p;
    return "resolved";
  } catch (err) {
    return isCoxError(err) ? err.code : "not a CoxError";
  }
}

function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

/** Any HTTP answer from 127.0.0.1:port (the proxy answers 503 when its backends are gone): its status. */
function status(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: "127.0.0.1", port, path: "/", agent: false }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
    });
    req.setTimeout(10_000, () => req.destroy(new Error("timeout")));
    req.on("error", reject);
  });
}

/**
 * Makes OFFICIAL_LIKE_IMAGE on the node's engine: a container of TEST_PROXY_IMAGE gets perl (with its
 * libraries and perl-base's modules) and the official image's entrypoint script, and is committed with
 * the official image's ENTRYPOINT, CMD, USER, WORKDIR and STOPSIGNAL.
 */
async function buildOfficialLikeImage(raw: DockerRuntime): Promise<void> {
  const perl = "/usr/bin/perl";
  if (!existsSync(perl)) throw new Error(`${perl} not found (Debian's perl-base is essential; is this Debian?)`);
  const libs = execFileSync("ldd", [perl], { encoding: "utf8" })
    .split("\n")
    .map((l) => /(?:=>\s*)?(\/\S+)\s+\(0x/.exec(l)?.[1])
    .filter((p): p is string => p !== undefined);
  const extra = mkdtempSync(join(tmpdir(), "cx-proxy-image-"));
  try {
    mkdirSync(join(extra, "usr/local/bin"), { recursive: true });
    const entrypoint = join(extra, "usr/local/bin/docker-entrypoint.sh");
    // What the official image's entrypoint does: run haproxy in master-worker mode, in the foreground.
    writeFileSync(
      entrypoint,
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell script; ${1#-} is the shell's expansion
      '#!/bin/sh\nset -e\nif [ "${1#-}" != "$1" ]; then set -- haproxy "$@"; fi\nif [ "$1" = haproxy ]; then shift; set -- haproxy -W -db "$@"; fi\nexec "$@"\n',
    );
    chmodSync(entrypoint, 0o755);
    const rel = (p: string): string => p.replace(/^\//, "");
    const tar = execFileSync("tar", ["-chf", "-", "-C", "/", rel(perl), "usr/lib/x86_64-linux-gnu/perl-base", ...libs.map(rel), "-C", extra, "usr/local/bin/docker-entrypoint.sh"], { maxBuffer: 1 << 28 });
    const { Id: id } = await raw.request<{ Id: string }>("create", { method: "POST", path: "/containers/create", body: { Image: TEST_PROXY_IMAGE } });
    await raw.request("put perl", { method: "PUT", path: `/containers/${id}/archive`, query: { path: "/" }, tar });
    const [repo, tag] = OFFICIAL_LIKE_IMAGE.split(":") as [string, string];
    await raw.request("commit", {
      method: "POST",
      path: "/commit",
      query: {
        container: id,
        repo,
        tag,
        changes: [
          'ENTRYPOINT ["docker-entrypoint.sh"]',
          'CMD ["haproxy", "-f", "/usr/local/etc/haproxy/haproxy.cfg"]',
          "USER haproxy",
          "WORKDIR /var/lib/haproxy",
          "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        ],
      },
      // STOPSIGNAL is no change a commit takes; the configuration given with it is merged into the image's.
      body: { StopSignal: "SIGUSR1" },
    });
    await raw.remove(id);
  } finally {
    rmSync(extra, { recursive: true, force: true });
  }
}

describe.skipIf(!enabled)("DockerProxy: one HAProxy container per node, on a real engine over TLS", () => {
  let fleet: TestFleet;
  let node: FleetNode;
  /** Test plumbing (images, backends, inspection): the same engine over its unix socket. */
  let raw: DockerRuntime;
  /** Ports of the node's range: the proxy's listener, the two backends, one the test holds, the proxy's HTTPS listener. */
  let ports: { listener: number; v1: number; v2: number; held: number; tls: number };
  let heldServer: Server;
  let seq = 0;
  const runtimes: DockerRuntime[] = [];
  const proxies: DockerProxy[] = [];
  const loads: Load[] = [];

  /** A DockerRuntime on the node's TLS endpoint, as a remote engine is reached. */
  function engine(owner: string): DockerRuntime {
    const rt = new DockerRuntime({ endpoint: node.tcpEndpoint!, tls: node.tls!, owner, nodeName: node.name, callTimeoutMs: 20_000 });
    runtimes.push(rt);
    return rt;
  }

  function newProxy(image = OFFICIAL_LIKE_IMAGE, owner = `cx-test-proxy-${++seq}`): { proxy: DockerProxy; rt: DockerRuntime } {
    const rt = engine(owner);
    const proxy = new DockerProxy({ engine: rt, image, stopTimeoutMs: 2_000 });
    proxies.push(proxy);
    return { proxy, rt };
  }

  function load(): Load {
    const l = startLoad(ports.listener);
    loads.push(l);
    return l;
  }

  /** A small HTTP configuration: the listener on `ports.listener` and backend `be` with the given servers. */
  function config(servers: ("v1" | "v2")[], extra: string[] = []): string {
    return [
      "global",
      "    hard-stop-after 30s",
      "defaults",
      "    mode http",
      "    timeout connect 5s",
      "    timeout client 30s",
      "    timeout server 30s",
      "    option idle-close-on-response",
      "frontend fe",
      `    bind 127.0.0.1:${ports.listener}`,
      ...extra,
      "    default_backend be",
      "backend be",
      "    balance roundrobin",
      ...servers.map((s) => `    server s${s.slice(1)} 127.0.0.1:${ports[s]}`),
      "",
    ].join("\n");
  }

  async function inspect(idOrName: string): Promise<Record<string, any> | undefined> {
    try {
      return await raw.request(`inspect ${idOrName}`, { method: "GET", path: `/containers/${idOrName}/json` });
    } catch (err) {
      if (isCoxError(err) && err.details?.status === 404) return undefined;
      throw err;
    }
  }

  /** The configuration file the proxy container runs, read back through the archive endpoint. */
  async function configInContainer(id: string): Promise<string> {
    const tar = await raw.request<Buffer>("read config", { method: "GET", path: `/containers/${id}/archive`, query: { path: "/usr/local/etc/haproxy/haproxy.cfg" } });
    const size = Number.parseInt(tar.subarray(124, 136).toString("latin1").replace(/\0.*$/s, "").trim(), 8);
    return tar.subarray(512, 512 + size).toString("utf8");
  }

  beforeAll(async () => {
    fleet = await startFleet({ nodes: 1, name: "proxy", tls: true });
    node = fleet.nodes[0]!;
    raw = new DockerRuntime({ endpoint: node.endpoint, owner: "cx-test-proxy-backends", nodeName: node.name });
    await Promise.all([buildTestImages(node.socketPath), buildProxyImage(node.socketPath)]);
    await buildOfficialLikeImage(raw);
    const from = Number(node.portRange.split("-")[0]);
    ports = { listener: from, v1: from + 1, v2: from + 2, held: from + 3, tls: from + 4 };
    for (const v of ["v1", "v2"] as const) {
      const launch: ContainerLaunch = {
        runtimeName: `cx_test_proxy_backend_${v}`,
        image: TEST_IMAGES[v],
        env: { PORT: String(ports[v]), BIND: "127.0.0.1" },
        network: "host",
        ports: [],
        limits: {},
        labels: {},
      };
      await raw.run(launch);
      await waitFor(`backend ${v} to answer`, () => get(ports[v]).then((body) => body === v));
    }
    // Held without SO_REUSEPORT by this process, in the network namespace the proxy shares: it cannot bind it.
    heldServer = createServer();
    await new Promise<void>((resolve) => heldServer.listen(ports.held, "127.0.0.1", resolve));
  });

  afterEach(async () => {
    for (const l of loads.splice(0)) await l.stop();
    for (const p of proxies.splice(0)) await p.close();
    for (const rt of runtimes.splice(0)) await rt.close();
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => (heldServer ? heldServer.close(() => resolve()) : resolve()));
    await raw?.close();
    await fleet?.stop();
  });

  it("creates its container from the node's image with the configuration put in before the start, and serves it", async () => {
    const { proxy, rt } = newProxy();
    const text = config(["v1", "v2"]);
    await proxy.apply({ reload: true, text });

    const info = (await inspect(proxy.containerName))!;
    expect(info.Name).toBe(`/cx-proxy-${rt.owner}`);
    expect(info.Config.Labels[LABELS.owner]).toBe(rt.owner);
    expect(info.Config.Labels[LABELS.nodeProxy]).toBe(node.name);
    expect(info.HostConfig.RestartPolicy.Name).toBe("always");
    expect(info.HostConfig.NetworkMode).toBe("host");
    // The image's entrypoint and user are overridden: haproxy itself is the main process, as root.
    expect([info.Path, ...info.Args]).toEqual(["haproxy", "-W", "-db", "-f", "/usr/local/etc/haproxy/haproxy.cfg"]);
    expect(info.Config.User).toBe("0");
    expect(await configInContainer(info.Id)).toMatch(new RegExp(`^${text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\\n# Added by coxswain`));

    const health = proxy.health();
    expect(health).toMatchObject({ running: true, pid: info.State.Pid, restarts: 0, config: { hash: sha256(text) } });
    expect(health.lastError).toBeUndefined();
    expect(["v1", "v2"]).toContain(await get(ports.listener));
  });

  it("reloads without failing a request of a steady keep-alive load, and traffic goes where each configuration says", async () => {
    const { proxy } = newProxy();
    await proxy.apply({ reload: true, text: config(["v1", "v2"]) });
    const pid = proxy.health().pid;
    const l = load();
    await servedBy(l, ["v1", "v2"], []);
    for (let round = 0; round < 2; round++) {
      await proxy.apply({ reload: true, text: config(["v1"]) });
      await servedBy(l, ["v1"], ["v2"]);
      await proxy.apply({ reload: true, text: config(["v2"]) });
      await servedBy(l, ["v2"], ["v1"]);
      await proxy.apply({ reload: true, text: config(["v1", "v2"]) });
      await servedBy(l, ["v1", "v2"], []);
    }
    expect(l.failures).toEqual([]);
    // Reloads keep the master (the container's main process) and are not restarts.
    expect(proxy.health()).toMatchObject({ running: true, pid, restarts: 0, config: { hash: sha256(config(["v1", "v2"])) } });
  });

  it("refuses an invalid configuration with ProxyConfigInvalid, checked inside the container, and keeps serving the one before", async () => {
    const { proxy } = newProxy();
    const good = config(["v1"]);
    await proxy.apply({ reload: true, text: good });
    const l = load();
    await servedBy(l, ["v1"], ["v2"]);

    const err = await coxErrorOf(proxy.apply({ reload: true, text: `${config(["v2"])}    no-such-keyword here\n` }));
    expect(err.code).toBe("ProxyConfigInvalid");
    expect((err.details!.lines as string[]).join("\n")).toMatch(/haproxy\.cfg:\d+/);
    expect(proxy.health()).toMatchObject({ running: true, config: { hash: sha256(good) }, lastError: { code: "ProxyConfigInvalid" } });
    await servedBy(l, ["v1"], ["v2"]);

    await proxy.apply({ reload: true, text: config(["v2"]) });
    await servedBy(l, ["v2"], ["v1"]);
    expect(proxy.health().lastError).toBeUndefined();
  });

  it("a reload that cannot bind is ProxyBindFailed naming the bind; the old configuration keeps serving and is the one a restart runs", async () => {
    const { proxy } = newProxy();
    const good = config(["v1"]);
    await proxy.apply({ reload: true, text: good });
    const pid = proxy.health().pid;
    const l = load();
    await servedBy(l, ["v1"], ["v2"]);

    const err = await coxErrorOf(proxy.apply({ reload: true, text: config(["v2"], [`    bind 127.0.0.1:${ports.held}`]) }));
    expect(err.code).toBe("ProxyBindFailed");
    expect(err.details?.binds).toEqual([expect.objectContaining({ bind: `127.0.0.1:${ports.held}`, where: expect.stringMatching(/^haproxy\.cfg:\d+$/) })]);
    expect(proxy.health()).toMatchObject({ running: true, pid, config: { hash: sha256(good) }, lastError: { code: "ProxyBindFailed" } });
    await servedBy(l, ["v1"], ["v2"]);
    // The file in the container is the serving one again.
    const id = (await inspect(proxy.containerName))!.Id as string;
    expect(await configInContainer(id)).toContain(good);

    // The master takes the next reload as usual.
    const next = config(["v2"]);
    await proxy.apply({ reload: true, text: next });
    await servedBy(l, ["v2"], ["v1"]);
    expect(proxy.health()).toMatchObject({ running: true, pid, config: { hash: sha256(next) } });

    // A failed reload followed by a crash: the engine restarts the container into the text that served.
    expect(await codeOf(proxy.apply({ reload: true, text: config(["v1"], [`    bind 127.0.0.1:${ports.held}`]) }))).toBe("ProxyBindFailed");
    await l.stop();
    process.kill(pid!, "SIGKILL");
    await waitFor("the engine to restart the proxy", () => {
      const h = proxy.health();
      return h.running && h.pid !== pid && h.restarts >= 1;
    });
    await waitFor("v2 to answer through the restarted proxy", () => get(ports.listener).then((b) => b === "v2"));
  });

  it("a first start that does not load leaves no container behind: ProxyConfigInvalid, or ProxyBindFailed for a taken address", async () => {
    const { proxy } = newProxy();
    expect(await codeOf(proxy.apply({ reload: true, text: "global\n    no-such-keyword\n" }))).toBe("ProxyConfigInvalid");
    expect(await inspect(proxy.containerName)).toBeUndefined();
    expect(proxy.health()).toMatchObject({ running: false, lastError: { code: "ProxyConfigInvalid" } });
    expect(proxy.health().config).toBeUndefined();

    const err = await coxErrorOf(proxy.apply({ reload: true, text: config(["v1"], [`    bind 127.0.0.1:${ports.held}`]) }));
    expect(err.code).toBe("ProxyBindFailed");
    expect(err.details?.binds).toEqual([expect.objectContaining({ bind: `127.0.0.1:${ports.held}` })]);
    expect(await inspect(proxy.containerName)).toBeUndefined();

    await proxy.apply({ reload: true, text: config(["v1"]) });
    expect(await get(ports.listener)).toBe("v1");
    expect(proxy.health()).toMatchObject({ running: true });
    expect(proxy.health().lastError).toBeUndefined();
  });

  it("reads per-server counters with show stat through the container (perl in the official image)", async () => {
    const { proxy } = newProxy();
    await proxy.apply({ reload: true, text: config(["v1", "v2"]) });
    const l = load();
    await servedBy(l, ["v1", "v2"], [], 10);
    const stats = await proxy.stats();
    const be = stats.filter((s) => s.backend === "be");
    expect(be.map((s) => s.server)).toEqual([undefined, "s1", "s2"]);
    expect(be[1]).toMatchObject({ address: `127.0.0.1:${ports.v1}`, weight: 1 });
    expect(be[2]).toMatchObject({ address: `127.0.0.1:${ports.v2}`, weight: 1 });
    expect(be[1]!.requestsTotal + be[1]!.sessionsTotal).toBeGreaterThan(0);
    expect(be[2]!.responses2xx).toBeGreaterThan(0);
  });

  it("works on an image with nothing but busybox too, except statistics: CommandNotFound", async () => {
    const { proxy } = newProxy(TEST_PROXY_IMAGE);
    await proxy.apply({ reload: true, text: config(["v1"]) });
    const l = load();
    await servedBy(l, ["v1"], ["v2"]);
    await proxy.apply({ reload: true, text: config(["v2"]) });
    await servedBy(l, ["v2"], ["v1"]);
    expect(await codeOf(proxy.stats())).toBe("CommandNotFound");
  });

  it("takes the files of a configuration: HTTPS with certificates from filesDir in the container; files no longer named go once the next one serves", async () => {
    const { proxy } = newProxy();
    expect(proxy.filesDir).toBe("/usr/local/etc/haproxy/files");
    const ca = issueCertificate({ commonName: "proxy test CA", usage: "ca" });
    const pems = Object.fromEntries(
      ["a.test", "b.test"].map((name) => {
        const c = issueCertificate({ commonName: name, hosts: [name], usage: "server" }, ca);
        return [name, { name: `${name}.pem`, content: `${c.cert}${c.key}` }];
      }),
    ) as Record<"a.test" | "b.test", { name: string; content: string }>;
    /** The HTTP configuration plus an HTTPS frontend presenting `names` (crt-list in that order: the first is the default). */
    const change = (names: ("a.test" | "b.test")[]) => {
      const list = { name: `list-${names.join("-")}.crt-list`, content: names.map((n) => `${proxy.filesDir}/${pems[n].name} ${n}\n`).join("") };
      const text = config(["v1"], [`    bind 127.0.0.1:${ports.tls} ssl crt-list ${proxy.filesDir}/${list.name}`]);
      return { reload: true as const, text, files: [...names.map((n) => pems[n]), list] };
    };
    const filesIn = async (id: string): Promise<string[]> => {
      const r = await raw.exec(id, ["sh", "-c", `cd ${proxy.filesDir} && stat -c '%a %n' . *`], 10_000);
      return r.output.trim().split("\n").sort();
    };
    const presented = (servername: string) => fetchAnswer(ports.tls, { tls: { ca: ca.cert, servername } });

    await proxy.apply(change(["a.test", "b.test"]));
    const id = (await inspect(proxy.containerName))!.Id as string;
    expect(await presented("a.test")).toEqual({ status: 200, body: "v1", certificate: "a.test" });
    expect(await presented("b.test")).toEqual({ status: 200, body: "v1", certificate: "b.test" });
    expect(await filesIn(id)).toEqual(["600 a.test.pem", "600 b.test.pem", "600 list-a.test-b.test.crt-list", "700 ."]);

    await proxy.apply(change(["b.test"]));
    expect(await presented("a.test")).toMatchObject({ status: 200, certificate: "b.test" });
    expect(await filesIn(id)).toEqual(["600 b.test.pem", "600 list-b.test.crt-list", "700 ."]);
    expect(proxy.health().lastError).toBeUndefined();
  });

  it("a second manager that adopts the container puts the files of its configuration again and removes the others", async () => {
    const owner = `cx-test-proxy-${++seq}`;
    const { proxy: first } = newProxy(OFFICIAL_LIKE_IMAGE, owner);
    const ca = issueCertificate({ commonName: "proxy test CA", usage: "ca" });
    const c = issueCertificate({ commonName: "a.test", hosts: ["a.test"], usage: "server" }, ca);
    const pem = { name: "a.pem", content: `${c.cert}${c.key}` };
    const text = config(["v1"], [`    bind 127.0.0.1:${ports.tls} ssl crt ${first.filesDir}/a.pem`]);
    await first.apply({ reload: true, text, files: [pem] });
    const id = (await inspect(first.containerName))!.Id as string;
    // While no operator runs, the file goes and a stray one comes: the adopting manager assumes nothing.
    await raw.exec(id, ["sh", "-c", `cd ${first.filesDir} && rm a.pem && echo x > stray.pem`], 10_000);

    const { proxy: second } = newProxy(OFFICIAL_LIKE_IMAGE, owner);
    await second.apply({ reload: true, text: config(["v2"], [`    bind 127.0.0.1:${ports.tls} ssl crt ${second.filesDir}/a.pem`]), files: [pem] });
    expect(await fetchAnswer(ports.tls, { tls: { ca: ca.cert, servername: "a.test" } })).toEqual({ status: 200, body: "v2", certificate: "a.test" });
    expect((await raw.exec(id, ["ls", second.filesDir], 10_000)).output.trim().split("\n")).toEqual(["a.pem"]);
    expect((await inspect(second.containerName))!.Id).toBe(id);
  });

  it("refuses a file whose name is a path with ProxyConfigInvalid, before anything is created", async () => {
    const { proxy } = newProxy();
    const err = await coxErrorOf(proxy.apply({ reload: true, text: config(["v1"]), files: [{ name: "../haproxy.cfg", content: "x" }] }));
    expect(err.code).toBe("ProxyConfigInvalid");
    expect(err.details?.file).toBe("../haproxy.cfg");
    expect(await inspect(proxy.containerName)).toBeUndefined();
  });

  it("takes no runtime-API commands: runtimeApi is false and apply({ reload: false }) is ProxyCommandRejected", async () => {
    const { proxy } = newProxy();
    expect(proxy.runtimeApi).toBe(false);
    await proxy.apply({ reload: true, text: config(["v1"]) });
    const err = await coxErrorOf(proxy.apply({ reload: false, commands: ["set server be/s1 state drain"] }));
    expect(err.code).toBe("ProxyCommandRejected");
    expect(err.details?.runtimeApi).toBe(false);
    expect(await get(ports.listener)).toBe("v1");
  });

  it("a proxy whose master is killed is started again by the engine and serves its last configuration; health follows", async () => {
    const { proxy } = newProxy();
    await proxy.apply({ reload: true, text: config(["v2"]) });
    const before = proxy.health();
    process.kill(before.pid!, "SIGKILL");
    const after = await waitFor("health to show the restarted proxy", () => {
      const h = proxy.health();
      return h.running && h.pid !== before.pid && h.restarts >= 1 ? h : undefined;
    });
    expect(after.config).toEqual(before.config);
    await waitFor("v2 to answer through the restarted proxy", () => get(ports.listener).then((b) => b === "v2"));
    // The restarted container takes reloads as before.
    const l = load();
    await proxy.apply({ reload: true, text: config(["v1"]) });
    await servedBy(l, ["v1"], ["v2"]);
  });

  it("a container killed through the API counts as stopped by hand for Docker; the next apply starts it again", async () => {
    const { proxy } = newProxy();
    await proxy.apply({ reload: true, text: config(["v1"]) });
    const id = (await inspect(proxy.containerName))!.Id as string;
    await raw.request("kill", { method: "POST", path: `/containers/${id}/kill`, query: { signal: "KILL" } });
    await waitFor("health to show the proxy down", () => !proxy.health().running);
    expect(proxy.health().lastError?.code).toBe("ProxyUnreachable");
    expect((await inspect(id))!.State.Status).toBe("exited");

    await proxy.apply({ reload: true, text: config(["v2"]) });
    expect((await inspect(proxy.containerName))!.Id).toBe(id);
    expect(proxy.health()).toMatchObject({ running: true, restarts: 1 });
    expect(proxy.health().lastError).toBeUndefined();
    const l = load();
    await servedBy(l, ["v2"], ["v1"]);
  });

  it("a second manager adopts the running container (same container, not restarted) without a failed request, and reloads it", async () => {
    const owner = `cx-test-proxy-${++seq}`;
    const { proxy: first } = newProxy(OFFICIAL_LIKE_IMAGE, owner);
    const text = config(["v1"]);
    await first.apply({ reload: true, text });
    const info = (await inspect(first.containerName))!;
    const l = load();
    await servedBy(l, ["v1"], ["v2"]);

    // The operator restarts: a new engine client and a new manager; the first one is simply abandoned.
    const { proxy: second } = newProxy(OFFICIAL_LIKE_IMAGE, owner);
    expect((await second.stats()).some((s) => s.backend === "be" && s.server === "s1")).toBe(true);
    expect(second.health()).toMatchObject({ running: true, pid: info.State.Pid, restarts: 0, config: { hash: sha256(text) } });

    await second.apply({ reload: true, text: config(["v2"]) });
    await servedBy(l, ["v2"], ["v1"]);
    const now = (await inspect(second.containerName))!;
    expect(now.Id).toBe(info.Id);
    expect(now.State.StartedAt).toBe(info.State.StartedAt);
    expect(l.failures).toEqual([]);
  });

  it("a manager with another image replaces the adopted container at its first apply, and serves from the new one", async () => {
    const owner = `cx-test-proxy-${++seq}`;
    const { proxy: first } = newProxy(TEST_PROXY_IMAGE, owner);
    await first.apply({ reload: true, text: config(["v1"]) });
    const before = (await inspect(first.containerName))!;
    expect(before.Config.Image).toBe(TEST_PROXY_IMAGE);

    // The operator restarts with the Node's proxyImage changed.
    const { proxy: second } = newProxy(OFFICIAL_LIKE_IMAGE, owner);
    await second.apply({ reload: true, text: config(["v2"]) });
    const after = (await inspect(second.containerName))!;
    expect(after.Id).not.toBe(before.Id);
    expect(after.Config.Image).toBe(OFFICIAL_LIKE_IMAGE);
    expect(await inspect(before.Id)).toBeUndefined();
    await waitFor("v2 to answer through the new container", () => get(ports.listener).then((b) => b === "v2"));
    expect(second.health()).toMatchObject({ running: true });
  });

  it("an engine restart brings the proxy back by its restart policy, with no call from the manager", { timeout: 300_000 }, async () => {
    const { proxy } = newProxy();
    await proxy.apply({ reload: true, text: config(["v1"]) });
    const before = proxy.health().pid;
    await fleet.stopNode(0);
    await fleet.startNode(0);
    // The backends (restart policy "no") stay down: HAProxy answering at all (503) is the proof.
    // Bounds only (a loaded machine restarts an engine slowly); nothing here is timed.
    await waitFor("the proxy to answer after the engine restart", () => status(ports.listener).then((s) => s === 503), 90_000);
    await waitFor(
      "health to show the proxy running again",
      () => {
        const h = proxy.health();
        return h.running && h.pid !== before;
      },
      90_000,
    );
    for (const v of ["v1", "v2"] as const) {
      const backend = (await raw.list()).find((c) => c.runtimeName === `cx_test_proxy_backend_${v}`)!;
      await raw.start(backend.id);
      await waitFor(`backend ${v} to answer again`, () => get(ports[v]).then((body) => body === v));
    }
    await waitFor("v1 to answer through the proxy", () => get(ports.listener).then((b) => b === "v1"));
  });

  it("its request log reaches the operator through the container's log: every line HAProxy wrote, once, also across a restart of the container", async () => {
    const { proxy } = newProxy();
    const records: RequestRecord[] = [];
    proxy.requestLog.subscribe((batch) => records.push(...batch));
    const target = await proxy.requestLog.start();
    expect(target.address).toBe("stdout");
    // Hand-written like the other configurations here: the lines renderHaproxy writes for a logging listener.
    const logged = config(["v1", "v2"], [`    log stdout format raw daemon`, `    log-format "cx1 ${target.tag} h %b %s %si:%sp %ST %Tr %Ta %ts %rc"`]);
    await proxy.apply({ reload: true, text: logged });
    /**
     * Lines HAProxy did not write: `log stdout` never blocks, and drops a line when the pipe to the engine is
     * full (its DroppedLogs counter, from the stats socket through the image's perl). A loaded engine reads
     * the pipe late; the collector can only read what was written.
     */
    const dropped = async (): Promise<number> => {
      const id = (await inspect(proxy.containerName))!.Id as string;
      const script = `perl -MIO::Socket::UNIX -e '$s = IO::Socket::UNIX->new(Peer => "/var/lib/haproxy/cx-stats.sock") or die; print $s "show info\\n"; shutdown($s, 1); print while <$s>;'`;
      const info = await raw.exec(id, ["sh", "-c", script], 10_000);
      return Number(/^DroppedLogs: (\d+)$/m.exec(info.output)?.[1] ?? Number.NaN);
    };
    const perServer = (rs: readonly { serverAddress?: string }[]): Map<string, number> => {
      const out = new Map<string, number>();
      for (const r of rs) out.set(r.serverAddress!, (out.get(r.serverAddress!) ?? 0) + 1);
      return out;
    };
    const asServers = (answers: TimedAnswer[]) => answers.map((a) => ({ serverAddress: `127.0.0.1:${ports[a.body as "v1" | "v2"]}` }));
    /** Every answer recorded once, but the lines HAProxy dropped: no server has more records than answers. */
    const expectRecorded = (got: RequestRecord[], answers: TimedAnswer[], lost: number): void => {
      expect(got).toHaveLength(answers.length - lost);
      const sent = perServer(asServers(answers));
      for (const [server, n] of perServer(got)) expect(n).toBeLessThanOrEqual(sent.get(server) ?? 0);
    };

    const first = await sendRequests(ports.listener, 200, 4);
    expect(first.every((a) => a.status === 200)).toBe(true);
    const lost1 = await dropped();
    await waitFor("a record of every line written", () => records.length >= first.length - lost1);
    expect(records.every((r) => r.mode === "http" && r.backend === "be" && r.status === 200)).toBe(true);
    expectRecorded(records, first, lost1);

    // The master dies; the engine starts the container again; the log is followed again from where it was.
    const before = proxy.health().pid!;
    process.kill(before, "SIGKILL");
    await waitFor("the engine to restart the proxy", () => {
      const h = proxy.health();
      return h.running && h.pid !== before;
    });
    // Until it answers: every answer with a status was logged (a refused connection never reached HAProxy).
    const probes: TimedAnswer[] = [];
    await waitFor("the restarted proxy to answer", async () => {
      const [a] = await sendRequests(ports.listener, 1, 1);
      probes.push(a!);
      return a!.status === 200;
    });
    const second = await sendRequests(ports.listener, 100, 2);
    const answered = [...probes.filter((a) => a.status !== undefined), ...second];
    const lost2 = await dropped();
    await waitFor("a record of every line written after the restart", () => records.length >= first.length - lost1 + answered.length - lost2);
    expectRecorded(records.slice(first.length - lost1), answered, lost2);
    console.log(`docker request log: ${records.length} records of ${first.length + answered.length} requests; HAProxy dropped ${lost1} + ${lost2} lines (log stdout, pipe full)`);
  });

  it("close() stops and removes the container; later applies are ProxyUnreachable", async () => {
    const { proxy } = newProxy();
    await proxy.apply({ reload: true, text: config(["v1"]) });
    const id = (await inspect(proxy.containerName))!.Id as string;
    await proxy.close();
    expect(await inspect(id)).toBeUndefined();
    expect(await codeOf(get(ports.listener))).toBe("not a CoxError"); // connection refused
    expect(proxy.health().running).toBe(false);
    expect(await codeOf(proxy.apply({ reload: true, text: config(["v1"]) }))).toBe("ProxyUnreachable");
  });
});
