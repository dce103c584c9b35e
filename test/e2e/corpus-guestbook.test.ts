/**
 * The guestbook of the corpus (test/fixtures/corpus/guestbook) running on a fleet of two real Docker engines
 * through the real CLI from a real Git repository, with its Services, and a scan of everything coxswain
 * wrote or printed for every Secret value it used.
 *
 * The test's copy of the manifests differs from the fixture in what a test fleet needs, nothing else:
 * - images: the guestbook's cannot be pulled here, so each container runs a local stand-in built from
 *   busybox (GUESTBOOK_IMAGES in test/support/images.ts: a Redis that keeps keys over HTTP, replicas that
 *   copy their leader, and guestbook.php's set/get in sh); the manifests' commands, env, volumes,
 *   securityContext, resources and probes are used as written;
 * - BIND from status.hostIP in each container: the fleet's nodes share this host, so each has an address of
 *   its own (nodeManifests ownAddresses) and the same portRange (the frontend's LoadBalancer needs a node
 *   port every node has), and each pod listens on its node's address;
 * - the redis-auth Secret is SOPS-encrypted (age) with a fresh password, decrypted with --age-key-file;
 *   the frontend also names a pull Secret (imagePullSecrets; its images are present, so nothing is pulled).
 *
 * It waits until every Deployment is available, then through the node proxies: the frontend answers through
 * its Service on each node (its node port, its Service address) and writes a message through redis-leader
 * and reads it back through redis-follower, both by Service name from inside its pods; the leader answers
 * only to the Secret's password (secretKeyRef into its args; the frontend reads it from a secret volume, the
 * followers through envFrom) and serves its redis.conf from the ConfigMap volume. A proposal that rotates
 * the password is planned (plans/pr-rotate.yaml). Then no Secret value — plain or base64 — is in the status
 * branch's history (plans included), the notes, the operator's log, `plan --output json`, `status` or
 * `history` (test/support/secret-scan.ts).
 */
import { randomBytes } from "node:crypto";
import { readdir, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import Docker from "dockerode";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, parseAllDocuments, stringify } from "yaml";
import { ROOT, runCli } from "../support/cli.js";
import { requireDocker, startFleet, type TestFleet } from "../support/docker-fleet.js";
import { makeRepo, runGit, tempDir, type TestRepo } from "../support/git-repo.js";
import { buildGuestbookImages, buildProxyImage, GUESTBOOK_IMAGES } from "../support/images.js";
import { startOperatorProcess, type OperatorProcess } from "../support/operator-process.js";
import { findSecrets, gitWritten, type ScannedText } from "../support/secret-scan.js";
import { newAgeKey, sopsEncrypt } from "../support/sops.js";
import { waitFor } from "../support/wait.js";

const HAS_DOCKER = requireDocker("e2e corpus guestbook");
const CORPUS = path.join(ROOT, "test/fixtures/corpus/guestbook");
const IMAGE_OF: Record<string, string> = { leader: GUESTBOOK_IMAGES.redis, follower: GUESTBOOK_IMAGES.follower, "php-redis": GUESTBOOK_IMAGES.frontend };
const DEPLOYMENTS = { frontend: 3, "redis-follower": 2, "redis-leader": 1 } as const;

const PASSWORD = `gb-${randomBytes(12).toString("hex")}`;
const ROTATED = `gb-rotated-${randomBytes(12).toString("hex")}`;
const PULL_USER = "guestbook-puller";
const PULL_PASSWORD = `pull-${randomBytes(12).toString("hex")}`;

interface WorkloadStatus {
  replicas: { desired: number; updated: number; available: number };
}
interface ServiceStatus {
  ports: { port: number; nodePort?: number; endpoints: { ready: { pod: string; node: string }[] } }[];
  nodes: { node: string; address?: string; serving: boolean }[];
}

type Doc = Record<string, any>;

describe.skipIf(!HAS_DOCKER)("the corpus guestbook on a two-node Docker fleet", () => {
  const ctx = {} as { fleet: TestFleet; repo: TestRepo; stateDir: string; keyFile: string; operator?: OperatorProcess; recipient: string };

  beforeAll(async () => {
    ctx.fleet = await startFleet({ nodes: 2, name: "e2e-gbook" });
    await Promise.all(ctx.fleet.nodes.flatMap((n) => [buildGuestbookImages(n.socketPath), buildProxyImage(n.socketPath)]));
    ctx.repo = await makeRepo();
    ctx.stateDir = await tempDir("coxswain-e2e-gbook-");
    const key = await newAgeKey();
    ctx.recipient = key.recipient;
    ctx.keyFile = path.join(ctx.stateDir, "age.key");
    await writeFile(ctx.keyFile, key.file, { mode: 0o600 });
  }, 300_000);
  afterAll(async () => {
    await ctx.operator?.stop();
    await ctx.fleet?.stop(); // the node proxies are containers on the fleet's engines
    await ctx.repo?.cleanup();
    if (ctx.stateDir) await rm(ctx.stateDir, { recursive: true, force: true });
  });

  const output = () => `\noperator output (last 40 lines):\n${ctx.operator?.lines.slice(-40).join("\n")}`;

  /** The fleet's Nodes, each at an address of its own, all with the first node's portRange. */
  function nodes(): string {
    const docs = parseAllDocuments(ctx.fleet.nodeManifests({ ownAddresses: true })).map((d) => d.toJS() as Doc);
    for (const d of docs) d.spec.portRange = ctx.fleet.nodes[0]!.portRange;
    return docs.map((d) => stringify(d)).join("---\n");
  }

  /** The redis-auth Secret with `password`, SOPS-encrypted for the test's age key. */
  function redisAuth(password: string): Promise<string> {
    return sopsEncrypt({ apiVersion: "v1", kind: "Secret", metadata: { name: "redis-auth" }, type: "Opaque", stringData: { REDIS_PASSWORD: password } }, { recipients: [ctx.recipient] });
  }

  /** Writes the test's copy of the fixture (see the file's comment) with redis-auth holding `password`. */
  async function writeGuestbook(password: string): Promise<void> {
    for (const file of (await readdir(CORPUS)).sort()) {
      if (file === "redis-auth-secret.yaml") continue;
      const doc = parse(await readFile(path.join(CORPUS, file), "utf8")) as Doc;
      if (doc.kind === "Deployment") {
        const spec = doc.spec.template.spec;
        for (const c of spec.containers) {
          c.image = IMAGE_OF[c.name];
          c.env = [{ name: "BIND", valueFrom: { fieldRef: { fieldPath: "status.hostIP" } } }, ...(c.env ?? [])];
        }
        if (doc.metadata.name === "frontend") spec.imagePullSecrets = [{ name: "regcred" }];
      }
      await ctx.repo.write(`guestbook/${file}`, stringify(doc));
    }
    await ctx.repo.write("guestbook/redis-auth-secret.yaml", await redisAuth(password));
  }

  async function statusOf<T>(file: string): Promise<T | undefined> {
    const text = await runGit(["show", `coxswain/status:${file}`], { cwd: ctx.repo.dir }).catch(() => undefined);
    return text === undefined ? undefined : (parse(text) as T);
  }

  /** GET http://host:port/path with headers: status and body, or undefined when nothing answered. */
  async function get(host: string, port: number, urlPath: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string } | undefined> {
    try {
      const res = await fetch(`http://${host}:${port}${urlPath}`, { headers, signal: AbortSignal.timeout(5_000) });
      return { status: res.status, body: await res.text() };
    } catch {
      return undefined;
    }
  }

  it("runs with every Deployment available and works end to end through the node proxies; no Secret value is written or printed anywhere", async () => {
    await ctx.repo.write("fleet/nodes.yaml", nodes());
    await ctx.repo.write(
      "fleet/regcred.yaml",
      stringify({
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name: "regcred" },
        type: "kubernetes.io/dockerconfigjson",
        stringData: { ".dockerconfigjson": JSON.stringify({ auths: { "registry.guestbook.test": { auth: Buffer.from(`${PULL_USER}:${PULL_PASSWORD}`).toString("base64") } } }) },
      }),
    );
    await writeGuestbook(PASSWORD);
    const main = await ctx.repo.commit("the guestbook, its Secrets encrypted");
    const started = Date.now();
    ctx.operator = startOperatorProcess(["run", "--repo", ctx.repo.dir, "--state-dir", ctx.stateDir, "--poll-interval", "300ms", "--age-key-file", ctx.keyFile, "--preview-branches", "pr/*"]);

    // Every Deployment available: all its replicas updated and available.
    for (const [name, replicas] of Object.entries(DEPLOYMENTS)) {
      await waitFor(
        `Deployment ${name} available`,
        async () => {
          const w = await statusOf<WorkloadStatus>(`workloads/default/deployment-${name}.yaml`);
          return w?.replicas.desired === replicas && w.replicas.updated === replicas && w.replicas.available === replicas;
        },
        240_000,
        250,
      ).catch((err: Error) => {
        throw new Error(`${err.message}${output()}`);
      });
    }
    console.log(`the guestbook (6 pods, 3 Services) available on 2 Docker nodes ${((Date.now() - started) / 1000).toFixed(1)} s after the operator started`);

    // Every Service served by both nodes' proxies with all its pods; the frontend's node port on each node's
    // address, and each Service's own address on each node.
    const served = (name: string, pods: number): Promise<ServiceStatus> =>
      waitFor(
        `${name} served by both nodes with its ${pods} pod(s)`,
        async () => {
          const s = await statusOf<ServiceStatus>(`services/default/${name}.yaml`);
          const ok = s && s.ports[0]?.endpoints.ready.length === pods && s.nodes.length === 2 && s.nodes.every((n) => n.serving && n.address);
          return ok ? s : undefined;
        },
        120_000,
        250,
      ).catch((err: Error) => {
        throw new Error(`${err.message}${output()}`);
      });
    const frontend = await served("frontend", DEPLOYMENTS.frontend);
    const leaderService = await served("redis-leader", DEPLOYMENTS["redis-leader"]);
    const followerService = await served("redis-follower", DEPLOYMENTS["redis-follower"]);
    expect(new Set(frontend.ports[0]!.endpoints.ready.map((e) => e.node)).size).toBe(2);
    const nodePort = frontend.ports[0]!.nodePort!;
    expect(nodePort).toBeGreaterThan(0);
    const nodeAddresses = parseAllDocuments(nodes()).map((d) => (d.toJS() as Doc).spec.address as string);
    for (const [i, address] of nodeAddresses.entries()) {
      const page = await waitFor(`the frontend through node-${i + 1}'s node port`, () => get(address, nodePort, "/").then((r) => (r?.status === 200 ? r : undefined)), 30_000, 250);
      expect(page.body).toBe("guestbook\n");
    }

    // A message written through the frontend (by node-1's node port) goes to redis-leader, and is read back
    // (through node-2's Service address) from redis-follower: both by Service name from inside the pods.
    const message = `hello-from-the-corpus-${Date.now()}`;
    const set = await get(nodeAddresses[0]!, nodePort, `/guestbook.php?cmd=set&key=messages&value=${message}`);
    expect(set, output()).toEqual({ status: 200, body: '{"message": "Updated"}\n' });
    const byService = frontend.nodes.find((n) => n.node === "node-2")!.address!;
    const read = await waitFor("the message read back through a follower", () => get(byService, 80, "/guestbook.php?cmd=get&key=messages").then((r) => (r?.body.includes(message) ? r : undefined)), 30_000, 250);
    expect(read).toEqual({ status: 200, body: `{"data": "${message}"}\n` });

    // The leader, through its Service on node-1: only the Secret's password opens it, and it serves the
    // redis.conf it reads from the ConfigMap volume.
    const leader = leaderService.nodes.find((n) => n.node === "node-1")!.address!;
    expect((await get(leader, 6379, "/cgi-bin/config", { "X-Auth": "not-the-password" }))?.status).toBe(401);
    const config = await get(leader, 6379, "/cgi-bin/config", { "X-Auth": PASSWORD });
    expect(config).toEqual({ status: 200, body: "maxmemory 2mb\nmaxmemory-policy allkeys-lru\n" });
    // A follower refuses writes (a read-only replica), with the password it got through envFrom.
    const follower = followerService.nodes.find((n) => n.node === "node-1")!.address!;
    expect((await get(follower, 6379, "/cgi-bin/set?key=x&value=y", { "X-Auth": PASSWORD }))?.status).toBe(403);

    // The containers run as the manifests ask: non-root, read-only root, no capabilities, no new privileges.
    const docker = new Docker({ socketPath: ctx.fleet.nodes[0]!.socketPath });
    const others = new Docker({ socketPath: ctx.fleet.nodes[1]!.socketPath });
    const all = [...(await docker.listContainers()).map((c) => ({ c, d: docker })), ...(await others.listContainers()).map((c) => ({ c, d: others }))];
    const leaderContainer = all.find(({ c }) => c.Image === GUESTBOOK_IMAGES.redis)!;
    const inspected = await leaderContainer.d.getContainer(leaderContainer.c.Id).inspect();
    expect({ user: inspected.Config.User, readOnly: inspected.HostConfig.ReadonlyRootfs, drop: inspected.HostConfig.CapDrop, opts: inspected.HostConfig.SecurityOpt }).toEqual({
      user: "999:999",
      readOnly: true,
      drop: ["ALL"],
      opts: expect.arrayContaining(["no-new-privileges:true"]),
    });

    // A proposal that rotates the password: planned, not run.
    await ctx.repo.git(["checkout", "--quiet", "-b", "pr/rotate"]);
    await ctx.repo.write("guestbook/redis-auth-secret.yaml", await redisAuth(ROTATED));
    const rotate = await ctx.repo.commit("rotate the Redis password");
    await ctx.repo.git(["checkout", "--quiet", "main"]);
    const plan = await waitFor(
      "the proposal's plan",
      async () => {
        const p = await statusOf<{ commit: string; valid: boolean; changes: { key: string; action: string }[] }>("plans/pr-rotate.yaml");
        return p?.commit === rotate ? p : undefined;
      },
      120_000,
      250,
    ).catch((err: Error) => {
      throw new Error(`${err.message}${output()}`);
    });
    expect(plan.valid).toBe(true);
    expect(plan.changes.map((c) => `${c.action} ${c.key}`)).toEqual(expect.arrayContaining(["update Secret/default/redis-auth", "update Deployment/default/redis-leader"]));

    // The scan: everything coxswain wrote or printed.
    const age = ["--age-key-file", ctx.keyFile];
    const cli = async (where: string, args: string[]): Promise<ScannedText> => {
      const r = await runCli(args);
      expect(r.code, `${where}: ${r.stderr}`).toBe(0);
      return { where, text: `${r.stdout}\n${r.stderr}` };
    };
    const texts: ScannedText[] = [
      ...(await gitWritten(ctx.repo.dir)),
      { where: "the operator's log", text: ctx.operator!.lines.join("\n") },
      await cli("plan --output json", ["plan", "--repo", ctx.repo.dir, "--to", main, "--status-branch", "coxswain/none", "--output", "json", ...age]),
      await cli("plan of the proposal --output json", ["plan", "--repo", ctx.repo.dir, "--from", main, "--to", "pr/rotate", "--output", "json", ...age]),
      await cli("plan of the proposal", ["plan", "--repo", ctx.repo.dir, "--from", main, "--to", "pr/rotate", ...age]),
      await cli("status", ["status", "--repo", ctx.repo.dir]),
      await cli("status --output json", ["status", "--repo", ctx.repo.dir, "--output", "json"]),
      await cli("history", ["history", "--repo", ctx.repo.dir]),
      await cli("history --output json", ["history", "--repo", ctx.repo.dir, "--output", "json"]),
    ];
    // What was scanned names the Secrets, the plan and the notes: the scan looked where they are written.
    const everything = texts.map((t) => t.text).join("\n");
    expect(texts.map((t) => t.where)).toEqual(expect.arrayContaining(["git log -p coxswain/status", "git log -p refs/notes/coxswain"]));
    for (const name of ["Secret/default/redis-auth", "Secret/default/regcred", "plans/pr-rotate.yaml"]) expect(everything).toContain(name);
    const values = [PASSWORD, ROTATED, PULL_PASSWORD, `${PULL_USER}:${PULL_PASSWORD}`];
    expect(findSecrets(texts, values)).toEqual([]);
    // The scan finds what it looks for: the pull Secret as committed holds "user:password" in base64.
    const committed = { where: "fleet/regcred.yaml", text: await runGit(["show", `${main}:fleet/regcred.yaml`], { cwd: ctx.repo.dir }) };
    expect(findSecrets([committed], values)).toEqual(["value 2 (base64) in fleet/regcred.yaml", "value 3 (base64) in fleet/regcred.yaml"]);
  }, 600_000);
});
