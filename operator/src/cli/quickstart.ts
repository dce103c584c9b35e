/**
 * `coxswain quickstart` (what `npm start` runs): makes a Git repository from examples-repo/ under the
 * state dir (once; later runs keep your edits), builds the example's image when a Docker engine answers,
 * and runs the operator on it. Edit and commit in .coxswain/examples-repo to watch rollouts.
 *
 * The example image is the host's own Node.js binary and its shared libraries imported into Docker
 * (`docker import`), because no registry may be reachable; under the process runtime the same manifest
 * runs the host's `node` directly.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, copyFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { CoxError } from "../api/errors.js";
import { resolveDefaultNode, type DefaultRuntime } from "../sync/operator.js";
import { parse, parsePortRange } from "./args.js";
import { runCommand } from "./run.js";

/** The image the example manifests reference. */
const EXAMPLE_IMAGE = "coxswain-examples/node:local";

/** examples-repo/ of this installation. */
function examplesDir(): string {
  return path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../examples-repo");
}

/** Creates the example Git repository unless it exists; returns its path. */
function ensureExampleRepo(stateDir: string, out: (line: string) => void): string {
  const repo = path.join(stateDir, "examples-repo");
  if (existsSync(path.join(repo, ".git"))) {
    out(`using the example repository at ${repo} (delete it to start over)`);
    return repo;
  }
  mkdirSync(repo, { recursive: true });
  cpSync(examplesDir(), repo, { recursive: true });
  const env = { ...process.env, GIT_AUTHOR_NAME: "coxswain quickstart", GIT_AUTHOR_EMAIL: "quickstart@coxswain.invalid", GIT_COMMITTER_NAME: "coxswain quickstart", GIT_COMMITTER_EMAIL: "quickstart@coxswain.invalid" };
  const git = (...args: string[]) => execFileSync("git", args, { cwd: repo, env, stdio: "pipe" });
  try {
    git("init", "-q", "-b", "main");
    git("add", "-A");
    git("commit", "-q", "-m", "Example application from coxswain's examples-repo");
  } catch (err) {
    throw new CoxError("RepoNotFound", `could not create the example repository with git (is git installed?): ${(err as Error).message}`);
  }
  out(`created the example repository at ${repo}`);
  return repo;
}

/**
 * Imports the host's node binary (and its libraries) as EXAMPLE_IMAGE into the engine at `endpoint`, once.
 * NodeUnreachable when the engine does not answer the docker CLI within `answerMs`.
 */
export function ensureExampleImage(endpoint: string, out: (line: string) => void, answerMs = 15_000): void {
  const env = { ...process.env, DOCKER_HOST: endpoint };
  // A socket whose engine hangs would hang the docker CLI too: give it a deadline and say what to do.
  const inspect = spawnSync("docker", ["image", "inspect", EXAMPLE_IMAGE], { env, stdio: "ignore", timeout: answerMs });
  if (inspect.status === 0) return;
  if ((inspect.error as NodeJS.ErrnoException | undefined)?.code === "ETIMEDOUT") {
    throw new CoxError("NodeUnreachable", `the Docker engine at ${endpoint} does not answer the docker CLI; start it (or fix it), or run the example as local processes on purpose with: npm start -- --runtime process`);
  }
  out(`building ${EXAMPLE_IMAGE} from ${process.execPath} (docker import; no registry needed)…`);
  const root = mkdtempSync(path.join(os.tmpdir(), "coxswain-example-image-"));
  try {
    mkdirSync(path.join(root, "usr/local/bin"), { recursive: true });
    mkdirSync(path.join(root, "tmp"), { recursive: true });
    copyFileSync(process.execPath, path.join(root, "usr/local/bin/node"));
    const ldd = spawnSync("ldd", [process.execPath], { encoding: "utf8" });
    for (const m of (ldd.stdout ?? "").matchAll(/(\/[^\s]+\.so[^\s]*)/g)) {
      const lib = m[1]!;
      mkdirSync(path.join(root, path.dirname(lib)), { recursive: true });
      copyFileSync(lib, path.join(root, lib));
    }
    const tar = spawnSync("sh", ["-c", `tar -C "${root}" -c . | docker import --change 'ENV PATH=/usr/local/bin:/usr/bin:/bin' - ${EXAMPLE_IMAGE}`], { env, encoding: "utf8" });
    if (tar.status !== 0) throw new CoxError("ImagePullFailed", `could not build ${EXAMPLE_IMAGE}: ${tar.stderr}`);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

/** The flags of `coxswain quickstart`. */
export const QUICKSTART_FLAGS = { "state-dir": { type: "string" }, runtime: { type: "string" }, "port-range": { type: "string" } } as const;

/** Sets up the example and runs the operator on it. */
export async function quickstartCommand(argv: string[], out: (line: string) => void): Promise<number> {
  const { values } = parse(argv, QUICKSTART_FLAGS);
  const stateDir = path.resolve(values["state-dir"] ?? ".coxswain");
  const runtime = (values.runtime ?? "auto") as DefaultRuntime;
  // Checked before the example is written or built (`run` checks them again).
  if (!["auto", "docker", "process"].includes(runtime)) throw new CoxError("InvalidArgument", `--runtime: expected auto, docker or process (got ${JSON.stringify(values.runtime)})`);
  if (values["port-range"] !== undefined) parsePortRange("--port-range", values["port-range"]);
  const repo = ensureExampleRepo(stateDir, out);
  const node = await resolveDefaultNode(runtime, "coxswain");
  if (node.endpoint.startsWith("unix://")) ensureExampleImage(node.endpoint, out);
  out(`edit ${repo}, commit, and watch the rollout here; status: git -C ${repo} log --notes=coxswain`);
  return runCommand(["--repo", repo, "--state-dir", stateDir, "--runtime", runtime, ...(values["port-range"] ? ["--port-range", values["port-range"]] : [])], out);
}
