/**
 * The default node's runtime: what a stat of the local Docker endpoint says (real files and a real unix
 * socket), and the pure decision taken from it — the process runtime only when chosen or when there is no
 * Docker at all, never a guess.
 */
import { mkdir, rm, writeFile } from "node:fs/promises";
import net from "node:net";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decideDefaultRuntime, inspectLocalDocker, type LocalDocker, type RuntimeChoice } from "../../../operator/src/runtime/default-runtime.js";
import { codeOf } from "../../support/errors.js";
import { tempDir } from "../../support/git-repo.js";

describe("inspectLocalDocker", () => {
  let dir: string;
  let server: net.Server;

  beforeAll(async () => {
    dir = await tempDir("cx-look-");
    server = net.createServer();
    await new Promise<void>((resolve) => server.listen(path.join(dir, "docker.sock"), resolve));
    await writeFile(path.join(dir, "file.sock"), "");
    await mkdir(path.join(dir, "dir.sock"));
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await rm(dir, { recursive: true, force: true });
  });

  const cases: { name: string; dockerHost: (dir: string) => string | undefined; kind: LocalDocker["kind"] }[] = [
    { name: "finds a unix socket named by DOCKER_HOST", dockerHost: (d) => `unix://${d}/docker.sock`, kind: "socket" },
    { name: "finds nothing at a path that does not exist", dockerHost: (d) => `unix://${d}/none.sock`, kind: "absent" },
    { name: "finds nothing under a parent directory that does not exist", dockerHost: (d) => `unix://${d}/no/such/docker.sock`, kind: "absent" },
    { name: "calls a regular file at the path unusable", dockerHost: (d) => `unix://${d}/file.sock`, kind: "unusable" },
    { name: "calls a directory at the path unusable", dockerHost: (d) => `unix://${d}/dir.sock`, kind: "unusable" },
    { name: "sees Docker elsewhere when DOCKER_HOST is tcp://", dockerHost: () => "tcp://build-host.internal:2376", kind: "elsewhere" },
    { name: "sees Docker elsewhere when DOCKER_HOST is ssh://", dockerHost: () => "ssh://deploy@build-host", kind: "elsewhere" },
  ];

  it.each(cases)("$name", async ({ dockerHost, kind }) => {
    expect((await inspectLocalDocker(dockerHost(dir))).kind).toBe(kind);
  });

  it("looks at the default socket path when DOCKER_HOST is unset or empty", async () => {
    expect(await inspectLocalDocker(undefined, path.join(dir, "docker.sock"))).toEqual({ kind: "socket", socketPath: path.join(dir, "docker.sock") });
    expect((await inspectLocalDocker("", path.join(dir, "none.sock"))).kind).toBe("absent");
  });

  it("keeps only the scheme of a DOCKER_HOST that names another engine (no user or host name)", async () => {
    expect(await inspectLocalDocker("ssh://deploy@build-host")).toEqual({ kind: "elsewhere", scheme: "ssh" });
  });
});

describe("decideDefaultRuntime", () => {
  const socket: LocalDocker = { kind: "socket", socketPath: "/var/run/docker.sock" };
  const absent: LocalDocker = { kind: "absent", socketPath: "/var/run/docker.sock" };
  const elsewhere: LocalDocker = { kind: "elsewhere", scheme: "tcp" };
  const unusable: LocalDocker = { kind: "unusable", socketPath: "/var/run/docker.sock", why: "it is not a socket" };

  const cases: { name: string; choice: RuntimeChoice; local: LocalDocker; runtime: "docker" | "process" | "RuntimeUndecided"; warns: boolean }[] = [
    { name: "auto takes Docker when a socket exists, answering or not", choice: "auto", local: socket, runtime: "docker", warns: false },
    { name: "auto takes the process runtime, with a warning, when there is no Docker at all", choice: "auto", local: absent, runtime: "process", warns: true },
    { name: "auto refuses to guess when DOCKER_HOST names an engine elsewhere", choice: "auto", local: elsewhere, runtime: "RuntimeUndecided", warns: false },
    { name: "auto refuses to guess when the socket path holds something else", choice: "auto", local: unusable, runtime: "RuntimeUndecided", warns: false },
    { name: "docker is Docker even without a socket (the node waits for one)", choice: "docker", local: absent, runtime: "docker", warns: false },
    { name: "process is the process runtime even with a socket, with the warning", choice: "process", local: socket, runtime: "process", warns: true },
  ];

  it.each(cases)("$name", ({ choice, local, runtime, warns }) => {
    if (runtime === "RuntimeUndecided") {
      expect(codeOf(() => decideDefaultRuntime(choice, local))).toBe("RuntimeUndecided");
      return;
    }
    const d = decideDefaultRuntime(choice, local);
    expect(d.runtime).toBe(runtime);
    expect(d.warning !== undefined).toBe(warns);
    if (warns) expect(d.warning).toMatch(/local processes with this operator's user and no isolation/);
  });
});
