/**
 * The operator image: the top-level Dockerfile built as users build it — the context is this checkout's
 * files less what .dockerignore names, every instruction unchanged — on a real engine of a test fleet.
 * No registry is reachable here, so NODE_IMAGE is TEST_NODE_IMAGE (this machine's Node.js, npm and npm cache,
 * set offline), and the build runs with network mode "none": no step can fetch anything. Then the image
 * runs `coxswain --version` as an unprivileged user, and its file system holds the built package and its
 * production dependencies only: no test/, no TypeScript source, no dev dependency.
 */
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { Readable } from "node:stream";
import type Docker from "dockerode";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDockerClient, parseEndpoint } from "../../../operator/src/runtime/docker/client.js";
import { ROOT } from "../../support/cli.js";
import { requireDocker, startFleet, type TestFleet } from "../../support/docker-fleet.js";
import { buildNodeImage, TEST_NODE_IMAGE } from "../../support/images.js";

const HAS_DOCKER = requireDocker("operator image");
const IMAGE = "coxswain-test/operator:build";
const VERSION = (JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")) as { version: string }).version;

/**
 * The files of the build context, as the docker CLI would send them: this checkout's files (tracked, or new
 * and not ignored by Git) less those .dockerignore excludes (root-anchored patterns, `*` within a name, a
 * directory excluding all below it: the only forms the file uses).
 */
function contextFiles(): string[] {
  const patterns = readFileSync(path.join(ROOT, ".dockerignore"), "utf8")
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"))
    .map(
      (p) =>
        new RegExp(
          `^${p
            .replace(/\/+$/, "")
            .replace(/[.+?^${}()|[\]\\]/g, "\\$&")
            .replace(/\*/g, "[^/]*")}(/|$)`,
        ),
    );
  return execFileSync("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], { cwd: ROOT, encoding: "utf8" })
    .split("\0")
    .filter((f) => f !== "" && existsSync(path.join(ROOT, f)) && !patterns.some((re) => re.test(f)))
    .sort();
}

/** Runs `docker run --rm --network none IMAGE args…` (optionally with another entrypoint); its exit code and output. */
async function run(docker: Docker, args: string[], entrypoint?: string[]): Promise<{ code: number; output: string }> {
  const container = await docker.createContainer({ Image: IMAGE, Cmd: args, ...(entrypoint ? { Entrypoint: entrypoint } : {}), Tty: true, HostConfig: { NetworkMode: "none" } });
  try {
    await container.start();
    const { StatusCode } = (await container.wait()) as { StatusCode: number };
    // follow: a stream of the raw output (a TTY: not multiplexed); without it the client parses "10001" as JSON.
    const stream = (await container.logs({ stdout: true, stderr: true, follow: true })) as NodeJS.ReadableStream;
    let output = "";
    for await (const chunk of stream) output += chunk.toString();
    return { code: StatusCode, output: output.replace(/\r\n/g, "\n") };
  } finally {
    await container.remove({ force: true });
  }
}

describe.skipIf(!HAS_DOCKER)("the operator image (Dockerfile)", () => {
  let fleet: TestFleet;
  let docker: Docker;
  let buildLog = "";
  const files = contextFiles();

  beforeAll(async () => {
    fleet = await startFleet({ nodes: 1, name: "image" });
    const socketPath = fleet.nodes[0]!.socketPath;
    await buildNodeImage(socketPath);
    docker = createDockerClient(parseEndpoint(`unix://${socketPath}`), undefined);
    const context = execFileSync("tar", ["-C", ROOT, "--null", "-T", "-", "-c"], { input: files.join("\0"), maxBuffer: 1 << 28 });
    const stream = await docker.buildImage(Readable.from([context]), { t: IMAGE, buildargs: { NODE_IMAGE: TEST_NODE_IMAGE }, networkmode: "none", rm: true, forcerm: true, pull: false });
    type BuildEvent = { stream?: string; error?: string };
    const events = await new Promise<BuildEvent[]>((resolve, reject) => docker.modem.followProgress(stream, (err: Error | null, out: BuildEvent[]) => (err ? reject(err) : resolve(out))));
    buildLog = events.map((e) => e.stream ?? "").join("");
    const failed = events.find((e) => e.error !== undefined);
    if (failed) throw new Error(`docker build failed: ${failed.error}\n${buildLog.slice(-4000)}`);
  }, 900_000);

  afterAll(async () => {
    await fleet?.stop();
  });

  it("is built from a context without node_modules, test/ or a local operator/dist", () => {
    expect(files).toContain("Dockerfile");
    expect(files).toContain("operator/src/cli/main.ts");
    expect(files.filter((f) => /^(node_modules|test|operator\/dist|\.git|charts)\//.test(f))).toEqual([]);
    expect(buildLog).toMatch(/Successfully tagged coxswain-test\/operator:build/);
  });

  it("runs coxswain --version as an unprivileged user, with coxswain as its entrypoint", async () => {
    const info = await docker.getImage(IMAGE).inspect();
    expect(info.Config.Entrypoint).toEqual(["coxswain"]);
    expect(info.Config.User).toBe("10001:10001");
    console.log(`operator image: ${(info.Size / 1e6).toFixed(1)} MB on a ${((await docker.getImage(TEST_NODE_IMAGE).inspect()).Size / 1e6).toFixed(1)} MB base`);
    expect(await run(docker, ["--version"])).toEqual({ code: 0, output: `${VERSION}\n` });
    expect(await run(docker, ["-u"], ["id"])).toEqual({ code: 0, output: "10001\n" });
    // The code is root's: the operator cannot rewrite itself. Its state directory is its own.
    expect((await run(docker, ["-c", "touch /opt/coxswain/x 2>/dev/null; echo $?; touch /var/lib/coxswain/x && echo ok"], ["sh"])).output).toBe("1\nok\n");
  });

  it("holds the built package and its production dependencies only", async () => {
    const listing = await run(docker, ["/opt/coxswain", "-type", "f"], ["find"]);
    expect(listing.code).toBe(0);
    const paths = listing.output
      .trim()
      .split("\n")
      .map((p) => p.slice("/opt/coxswain/".length))
      .sort();
    const own = paths.filter((p) => !p.startsWith("node_modules/"));
    expect(own).toContain("operator/dist/cli/main.js");
    expect(own).toContain("operator/bin/coxswain.js");
    expect(own).toContain("crds/deployment.yaml");
    expect(own.filter((p) => /\.(ts|mts|cts)$/.test(p) && !p.endsWith(".d.ts"))).toEqual([]);
    expect(own.filter((p) => /^(test|operator\/src|operator\/scripts|operator\/docs|charts|\.ci)\//.test(p))).toEqual([]);
    // Exactly the installed packages package-lock.json does not mark dev (nor optional: those are another platform's).
    const installed = new Set(paths.filter((p) => p.endsWith("/package.json")).map((p) => p.slice(0, -"/package.json".length)));
    const lock = JSON.parse(readFileSync(path.join(ROOT, "package-lock.json"), "utf8")) as { packages: Record<string, { dev?: boolean; optional?: boolean }> };
    const production = Object.entries(lock.packages)
      .filter(([p, e]) => p !== "" && !e.dev && !e.optional)
      .map(([p]) => p);
    const dev = Object.entries(lock.packages)
      .filter(([p, e]) => p !== "" && e.dev)
      .map(([p]) => p);
    expect(production.length).toBeGreaterThan(10);
    expect(production.filter((p) => !installed.has(p))).toEqual([]);
    expect(dev.filter((p) => installed.has(p))).toEqual([]);
  });
});
