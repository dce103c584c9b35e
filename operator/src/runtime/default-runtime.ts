/**
 * Which runtime the default local node gets (the node used when the repository declares no Node object).
 *
 * The process runtime runs whatever a manifest says as local processes with the operator's own user and no
 * isolation: whoever can push to the followed branch runs commands on the host. So it is never a fallback
 * for a Docker engine that is slow, hung or restarting. `--runtime auto` chooses it only when there is no
 * Docker at all: DOCKER_HOST names no other engine and nothing exists at the local socket path. A socket
 * that exists means Docker, whether it answers or not; the node then waits for the engine, as a kubelet
 * waits for its container runtime and a Nomad client keeps a job pending while its docker driver is
 * unhealthy. Anything in between (DOCKER_HOST naming a tcp:// engine, a file at the socket path that is not
 * a socket) is RuntimeUndecided: coxswain does not guess.
 *
 * inspectLocalDocker is the only effect here (one stat, no connection); decideDefaultRuntime is pure.
 */
import { stat } from "node:fs/promises";
import { CoxError } from "../api/errors.js";

/** The `--runtime` choices for the default node. */
export type RuntimeChoice = "auto" | "docker" | "process";

/** What is at the local Docker endpoint, as far as a stat can tell. */
export type LocalDocker =
  /** A unix socket exists at the path (whether an engine answers on it is not known here). */
  | { kind: "socket"; socketPath: string }
  /** Nothing at the path (ENOENT, or a missing parent directory) and no DOCKER_HOST naming another engine. */
  | { kind: "absent"; socketPath: string }
  /** DOCKER_HOST names an engine that is not a unix socket (tcp://, ssh://, …): there is Docker, elsewhere. */
  | { kind: "elsewhere"; scheme: string }
  /** Something is at the path that is not a socket, or the path cannot be examined (EACCES, ELOOP, …). */
  | { kind: "unusable"; socketPath: string; why: string };

/**
 * Looks at the local Docker endpoint: `dockerHost` is DOCKER_HOST (a unix:// value names the socket path,
 * any other non-empty value an engine elsewhere), else `defaultSocket`. Makes no connection.
 */
export async function inspectLocalDocker(dockerHost: string | undefined, defaultSocket = "/var/run/docker.sock"): Promise<LocalDocker> {
  const host = dockerHost?.trim() ?? "";
  if (host !== "" && !host.startsWith("unix://")) {
    // Only the scheme: DOCKER_HOST may carry a user name or an internal host name.
    return { kind: "elsewhere", scheme: /^([a-z][a-z0-9+.-]*):\/\//i.exec(host)?.[1]?.toLowerCase() ?? "unknown" };
  }
  const socketPath = host !== "" ? host.slice("unix://".length) : defaultSocket;
  try {
    const st = await stat(socketPath);
    if (st.isSocket()) return { kind: "socket", socketPath };
    return { kind: "unusable", socketPath, why: st.isDirectory() ? "it is a directory, not a socket" : "it is not a socket" };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? "unknown error";
    if (code === "ENOENT" || code === "ENOTDIR") return { kind: "absent", socketPath };
    return { kind: "unusable", socketPath, why: `it cannot be examined (${code})` };
  }
}

/** What the default node runs on, and the one line to print at start about it (when there is one). */
export interface DefaultRuntimeDecision {
  runtime: "docker" | "process";
  warning?: string;
}

/** What the process runtime means, said once at start whenever it is the default node's runtime. */
const PROCESS_RUNTIME_MEANING =
  "manifests from Git run as local processes with this operator's user and no isolation (no image, no resource limits): " + "whoever can push to the followed branch runs commands on this host";

/**
 * Decides the default node's runtime from the `--runtime` choice and what is at the local endpoint. Pure.
 * `docker` and `process` are taken as chosen (process with its warning). `auto`: a socket → docker; nothing
 * at all → process, with a warning that says what that means and how to choose either on purpose; Docker
 * elsewhere or something unusable at the path → RuntimeUndecided (never the process runtime).
 */
export function decideDefaultRuntime(choice: RuntimeChoice, local: LocalDocker): DefaultRuntimeDecision {
  if (choice === "docker") return { runtime: "docker" };
  if (choice === "process") return { runtime: "process", warning: `default node runtime: process (--runtime process): ${PROCESS_RUNTIME_MEANING}` };
  switch (local.kind) {
    case "socket":
      return { runtime: "docker" };
    case "absent":
      return {
        runtime: "process",
        warning:
          `default node runtime: process, because there is no Docker socket at ${local.socketPath} (--runtime auto): ${PROCESS_RUNTIME_MEANING}. ` +
          "Say --runtime process to choose this on purpose, or --runtime docker to wait for a Docker engine instead",
      };
    case "elsewhere":
      throw new CoxError(
        "RuntimeUndecided",
        `--runtime auto: DOCKER_HOST names a ${local.scheme}:// engine, but the default node speaks only to a local unix:// socket; ` +
          "coxswain does not fall back to running manifests as local processes when there is Docker. " +
          "Declare that engine as a Node in the repository (tcp:// needs TLS), point DOCKER_HOST at a unix:// socket, or choose --runtime docker or --runtime process",
        { details: { scheme: local.scheme } },
      );
    case "unusable":
      throw new CoxError(
        "RuntimeUndecided",
        `--runtime auto: ${local.socketPath} exists but ${local.why}; expected the Docker engine's socket there, or nothing. ` +
          "coxswain does not fall back to running manifests as local processes when it cannot tell whether this host has Docker. " +
          "Fix the path (DOCKER_HOST), or choose --runtime docker or --runtime process",
        { details: { socketPath: local.socketPath } },
      );
  }
}
