/**
 * The whole operator in the test process on a real Git repository, with the process runtime (real
 * processes) and real HAProxy node proxies (Debian's): what the operator-level traffic suites share — the
 * test app, its Deployment, starting the operator, reading its status files, and leaving nothing behind.
 */
import { existsSync } from "node:fs";
import { rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { parse } from "yaml";
import { ProcessRuntime } from "../../operator/src/runtime/process/index.js";
import type { OperatorOptions, RunningOperator } from "../../operator/src/sync/operator.js";
import { runGit, tempDir, type TestRepo } from "./git-repo.js";
import { deploymentYaml } from "./manifests.js";
import { startTestOperator } from "./operator-fixture.js";

const HAPROXY = "/usr/sbin/haproxy";

/** True when the suite can run: Debian's haproxy is installed and we are root. In CI a missing one fails the suite. */
export function requireHaproxyAndRoot(suite: string): boolean {
  const enabled = existsSync(HAPROXY) && process.getuid?.() === 0;
  if (!enabled && process.env.CI === "true") throw new Error(`${suite}: CI needs ${HAPROXY} (apt-get install -y haproxy) and root`);
  return enabled;
}

/**
 * A small HTTP server: answers "<version> <pod> <path>" on 127.0.0.1:$PORT after 30 ms, so that requests
 * are always in flight, and exits at once on SIGTERM as many programs do — dropping whatever it was
 * answering. Only taking a pod out of the proxies (and letting its requests finish) before SIGTERM keeps
 * clients whole.
 */
const APP = `
const http = require("node:http");
const server = http.createServer((req, res) => {
  setTimeout(() => res.end(process.env.VERSION + " " + process.env.COXSWAIN_POD + " " + req.url + "\\n"), 30);
});
server.keepAliveTimeout = 60000;
server.listen(Number(process.env.PORT), "127.0.0.1");
process.on("SIGTERM", () => process.exit(0));
`;

/** The test app written to a temp dir: `file` for appDeployment, `remove()` when the suite is done. */
export async function writeTestApp(): Promise<{ file: string; remove(): Promise<void> }> {
  const dir = await tempDir("coxswain-test-app-");
  const file = join(dir, "app.cjs");
  await writeFile(file, APP);
  return { file, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** A Deployment of the test app at `appFile`: pods answering `version`, with a readiness probe and a 10 s grace period. */
export function appDeployment(appFile: string, o: { name?: string; version: string; replicas?: number }): string {
  return deploymentYaml({
    ...(o.name !== undefined ? { name: o.name } : {}),
    replicas: o.replicas ?? 2,
    command: [process.execPath, appFile],
    env: [{ name: "VERSION", value: o.version }],
    probe: true,
    grace: 10,
  });
}

/**
 * The Service network of a process-runtime operator whose default node has `portRange`: 127.<150 + its
 * hundreds mod 100>.0.0/16, so that suites with ranges of their own (62600–62699, 62700–62799, …) running
 * side by side never give two proxies the same Service address (the default, 127.77.0.0/16, is shared).
 */
export function processServiceNetwork(portRange: { from: number }): string {
  return `127.${150 + (Math.floor(portRange.from / 100) % 100)}.0.0/16`;
}

/**
 * Starts the operator on `repo` with the process runtime, polling fast and writing status soon (startTestOperator
 * of test/support/operator-fixture.ts); the default node's host ports are `portRange` (one range per suite, so
 * that suites run side by side) and its Service network follows from it (processServiceNetwork), `extra` adds
 * options (ingress ports, …). Its log lines go to `lines`.
 */
export function startProcessOperator(repo: TestRepo, stateDir: string, portRange: { from: number; to: number }, lines: string[], extra: Partial<OperatorOptions> = {}): Promise<RunningOperator> {
  return startTestOperator(repo, stateDir, lines, {
    runtime: "process",
    defaultPortRange: portRange,
    defaultServiceNetwork: processServiceNetwork(portRange),
    ...extra,
  });
}

/** A file of the status branch, parsed, once what the operator has to write is written; undefined when there is none. */
export async function statusFile<T>(op: RunningOperator, repo: TestRepo, path: string): Promise<T | undefined> {
  await op.flushStatus();
  const text = await runGit(["show", `coxswain/status:${path}`], { cwd: repo.dir }).catch(() => undefined);
  return text === undefined ? undefined : (parse(text) as T);
}

/** Stops the operator (if it started) with its node proxies, removes the pods it left and its state dir. */
export async function stopProcessOperator(op: RunningOperator | undefined, stateDir: string): Promise<void> {
  await op?.stop({ stopProxies: true });
  const rt = new ProcessRuntime({ stateDir, owner: "coxswain" });
  for (const c of await rt.list()) await rt.remove(c.id);
  await rt.close();
  await rm(stateDir, { recursive: true, force: true });
}
