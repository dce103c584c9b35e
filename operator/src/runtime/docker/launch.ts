/**
 * Creating and starting a pod's container on a Docker engine (DockerRuntime.run): the image made present, the
 * securityContext checked against the image's user, the volumes made and filled (volumes.ts) before the
 * container, its command looked for before the start. A create or start that got no answer (a reset, the
 * deadline) is looked up: the engine may have done it all the same, and a container it made for this very
 * launch (ours, same spec hash) is taken up rather than made again.
 */
import { CoxError, isCoxError } from "../../api/errors.js";
import type { BridgeNetwork } from "../../traffic/bridge.js";
import { LABELS } from "../labels.js";
import type { ContainerLaunch, ObservedContainer } from "../types.js";
import { classifyEngineError, engineMessage } from "./client.js";
import { statusOf, type DockerEngine } from "./engine.js";
import { ensureImage, imageUser as imageUserOf } from "./images.js";
import { containerLogConfig, createContainerBody, isValidRuntimeName, observedFromInspect } from "./mapping.js";
import { needsImageUser, runAsRootProblem } from "./security.js";
import { tarOf } from "./tar.js";
import { fillEntries, fillMounts, VOLUME_PREFIX, volumeCreates } from "./volumes.js";

/** What a launch needs of its DockerRuntime besides the engine calls. */
export interface LaunchHost {
  engine: DockerEngine;
  /** The bridge network, made on first use (networks.ts). */
  bridgeNetwork(): Promise<BridgeNetwork>;
  /** The engine's default log driver. */
  logDriver(): Promise<string | undefined>;
  /** The name of the bridge network containers join. */
  network: string;
  /** Host address published ports bind to. */
  publishIp: string;
  /** An own call changes the container: forget what is cached of it. */
  invalidate(id: string): void;
  /** DockerRuntime.remove. */
  remove(id: string): Promise<void>;
}

export async function launchContainer(host: LaunchHost, launch: ContainerLaunch): Promise<ObservedContainer> {
  const engine = host.engine;
  if (!isValidRuntimeName(launch.runtimeName)) {
    throw new CoxError("InvalidArgument", `container name ${JSON.stringify(launch.runtimeName)} is not usable: expected [a-zA-Z0-9][a-zA-Z0-9_.-]* not ending in ".<digits>" (that suffix counts restarts)`);
  }
  const labels = { ...launch.labels };
  const owner = labels[LABELS.owner];
  if (owner === undefined) labels[LABELS.owner] = engine.owner;
  else if (owner !== engine.owner) {
    throw new CoxError("InvalidArgument", `launch of ${launch.runtimeName} carries ${LABELS.owner}=${owner}; this runtime manages owner ${engine.owner}`);
  }
  await ensureImage(engine, launch.image, launch.pull);
  const imageUser = needsImageUser(launch.security) ? await imageUserOf(engine, launch.image) : undefined;
  const asRoot = runAsRootProblem(launch.security, imageUser);
  if (asRoot !== undefined) {
    throw new CoxError("SecurityContextUnmet", `node ${engine.nodeName}: container ${launch.runtimeName} (image ${launch.image}) is not started: ${asRoot}`, {
      details: { node: engine.nodeName, image: launch.image },
    });
  }
  if (launch.network === "bridge") await host.bridgeNetwork();
  // With the owner label: a claim's volume is named after it (volumes.ts).
  const volumes = volumeCreates({ ...launch, labels }, { [LABELS.owner]: engine.owner });
  const mountpoints = new Map<string, string>();
  for (const v of volumes) {
    const made = await engine.call<{ Mountpoint?: string }>(`create volume ${v.Name}`, { method: "POST", path: "/volumes/create", body: v });
    if (made.Mountpoint) mountpoints.set(v.Name, made.Mountpoint);
  }
  // Filled before the container is made: a subPath mount binds a path inside a volume, which must exist then.
  try {
    await fillVolumes(host, { ...launch, labels });
  } catch (err) {
    // Only the pod's own volumes: a claim's keeps its data.
    await removeUnusedVolumes(
      engine,
      volumes.map((v) => v.Name).filter((n) => n.startsWith(VOLUME_PREFIX)),
    ).catch(() => undefined);
    throw err;
  }
  const logConfig = containerLogConfig(await host.logDriver());
  const body = createContainerBody({ ...launch, labels }, { network: host.network, publishIp: host.publishIp }, imageUser, mountpoints, logConfig);
  let id: string;
  let createdHere = true;
  try {
    const created = await engine.call<{ Id: string }>(`create container ${launch.runtimeName}`, {
      method: "POST",
      path: "/containers/create",
      query: { name: launch.runtimeName },
      body,
    });
    id = created.Id;
  } catch (err) {
    const conflict = statusOf(err) === 409;
    // No answer at all (a reset connection, the deadline): the engine may have made the container all the
    // same. It is looked for by name and taken up when it is this launch's; left unknown, a later listing
    // would find a container holding a host port that was given to another pod meanwhile.
    const unanswered = !conflict && isCoxError(err, "NodeUnreachable");
    const found = unanswered ? await engine.inspect(launch.runtimeName, `look for container ${launch.runtimeName} after its create went unanswered`).catch(() => undefined) : undefined;
    const specHash = labels[LABELS.specHash];
    const lostAnswer = found !== undefined && found.Config?.Labels?.[LABELS.owner] === engine.owner && specHash !== undefined && found.Config?.Labels?.[LABELS.specHash] === specHash;
    if (!conflict && !lostAnswer) {
      // Only the pod's own volumes: a claim's keeps its data.
      await removeUnusedVolumes(
        engine,
        volumes.map((v) => v.Name).filter((n) => n.startsWith(VOLUME_PREFIX)),
      ).catch(() => undefined);
      throw err;
    }
    const existing = lostAnswer ? found : await engine.inspect(launch.runtimeName, `inspect existing container ${launch.runtimeName}`);
    if (!existing) throw err; // gone in the meantime: let the caller retry
    const theirs = existing.Config?.Labels ?? {};
    if (theirs[LABELS.owner] !== engine.owner || specHash === undefined || theirs[LABELS.specHash] !== specHash) {
      throw new CoxError(
        "RuntimeCallFailed",
        `node ${engine.nodeName}: container name ${launch.runtimeName} is taken by ${existing.Id.slice(0, 12)} ` +
          `(owner ${theirs[LABELS.owner] ?? "none"}, spec hash ${theirs[LABELS.specHash] ?? "none"}); ` +
          `expected it free or ours with spec hash ${specHash ?? "(launch has none)"}`,
        { cause: err, details: { node: engine.nodeName, conflict: existing.Id } },
      );
    }
    id = existing.Id;
    createdHere = lostAnswer; // made by this very call: a failed start removes it, as any container made here
    if (existing.State?.Running || launch.startLater) {
      return observedFromInspect(existing);
    }
  }
  host.invalidate(id);
  // Under docker-init the engine starts the init, which then fails to run a missing command (exit 127):
  // look for the command before the start, so that a typo is still CommandNotFound, not a crash loop.
  const missing = launch.noInit ? undefined : await missingCommand(engine, id, launch);
  if (missing !== undefined) {
    if (createdHere) await host.remove(id).catch(() => undefined);
    throw new CoxError(
      "CommandNotFound",
      `node ${engine.nodeName}: container ${launch.runtimeName}: command ${JSON.stringify(missing.command)} does not exist in image ${launch.image} (${missing.why}); fix command/args or the image`,
      { details: { node: engine.nodeName, command: missing.command, image: launch.image } },
    );
  }
  if (!launch.startLater) {
    try {
      await engine.call(`start container ${launch.runtimeName}`, {
        method: "POST",
        path: `/containers/${id}/start`,
        okStatuses: [304],
      });
    } catch (err) {
      // No answer (reset, deadline): the engine may have started it all the same; then it runs and is kept.
      const started =
        isCoxError(err, "NodeUnreachable") && statusOf(err) === undefined ? await engine.inspect(id, `look at container ${launch.runtimeName} after its start went unanswered`).catch(() => undefined) : undefined;
      if (!started?.State?.Running) {
        if (createdHere) await host.remove(id).catch(() => undefined);
        throw startError(engine, err, launch);
      }
    }
  }
  const info = await engine.inspect(id, `inspect container ${launch.runtimeName}`);
  if (!info) {
    throw new CoxError("RuntimeCallFailed", `node ${engine.nodeName}: container ${launch.runtimeName} (${id.slice(0, 12)}) disappeared right after it was started`, { details: { node: engine.nodeName } });
  }
  return observedFromInspect(info);
}

function startError(engine: DockerEngine, err: unknown, launch: ContainerLaunch): CoxError {
  const text = engineMessage(isCoxError(err) ? ((err as Error).cause ?? err) : err);
  const m = /exec: "([^"]*)": (stat [^:]*: no such file or directory|executable file not found[^:]*)/.exec(text);
  if (m) {
    return new CoxError("CommandNotFound", `node ${engine.nodeName}: container ${launch.runtimeName}: command ${JSON.stringify(m[1])} does not exist in image ${launch.image} (${m[2]}); fix command/args or the image`, {
      cause: err,
      details: { node: engine.nodeName, command: m[1], image: launch.image },
    });
  }
  return isCoxError(err) ? err : classifyEngineError(err, { node: engine.nodeName, endpoint: engine.endpoint, what: "start" });
}

/**
 * The launch's command (command[0]), when the created container `id` has no file of that name where
 * runc would look: the path itself (relative to the working directory) when it has a "/", else each
 * directory of the container's PATH. Undefined when it is there, or when the launch names no command
 * (the image's own entrypoint). Asked with GET /containers/{id}/archive, answered from the headers
 * (the stream is dropped at once): 404 is a missing file.
 */
async function missingCommand(engine: DockerEngine, id: string, launch: ContainerLaunch): Promise<{ command: string; why: string } | undefined> {
  const command = launch.command?.[0];
  if (command === undefined) return undefined;
  const info = await engine.inspect(id, `inspect container ${launch.runtimeName}`);
  const env = info?.Config?.Env ?? [];
  const path = env.find((e) => e.startsWith("PATH="))?.slice("PATH=".length) ?? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  const workdir = info?.Config?.WorkingDir || "/";
  const candidates = command.includes("/")
    ? [command.startsWith("/") ? command : `${workdir.replace(/\/+$/, "")}/${command}`]
    : path
        .split(":")
        .filter((d) => d.startsWith("/"))
        .map((d) => `${d.replace(/\/+$/, "")}/${command}`);
  for (const candidate of candidates) {
    try {
      const stream = await engine.call<NodeJS.ReadableStream & { destroy?: () => void }>(`look for ${candidate} in ${launch.runtimeName}`, {
        method: "GET",
        path: `/containers/${id}/archive`,
        query: { path: candidate },
        stream: true,
      });
      stream.destroy?.();
      return undefined;
    } catch (err) {
      if (statusOf(err) !== 404) throw err;
    }
  }
  return { command, why: command.includes("/") ? "no such file" : `not in PATH ${path}` };
}

/**
 * Puts the files of the launch's volumes into them (a fill container, see volumes.ts), and makes the
 * directories its subPath mounts bind. Nothing to do without volumes.
 */
async function fillVolumes(host: LaunchHost, launch: ContainerLaunch): Promise<void> {
  const engine = host.engine;
  const entries = fillEntries(launch);
  if (entries.length > 0) {
    const name = `${launch.runtimeName}-fill`;
    // A fill container left by an earlier attempt (an operator that died in between) goes first.
    await host.remove(name);
    const created = await engine.call<{ Id: string }>(`create the fill container of ${launch.runtimeName}`, {
      method: "POST",
      path: "/containers/create",
      query: { name },
      // Never started: an entrypoint that need not exist, no network.
      body: { Image: launch.image, Entrypoint: ["/coxswain-fill"], Labels: {}, HostConfig: { NetworkMode: "none", Mounts: fillMounts(launch) } },
    });
    try {
      await engine.call(`put the volume files of ${launch.runtimeName}`, {
        method: "PUT",
        path: `/containers/${created.Id}/archive`,
        query: { path: "/" },
        tar: tarOf(entries),
      });
    } finally {
      await engine
        .call(`remove the fill container of ${launch.runtimeName}`, {
          method: "DELETE",
          path: `/containers/${created.Id}`,
          query: { force: true },
          okStatuses: [404],
        })
        .catch(() => undefined);
    }
  }
}

/** Removes each of the named volumes that no container uses (the engine refuses the others: 409). */
export async function removeUnusedVolumes(engine: DockerEngine, names: readonly string[]): Promise<void> {
  for (const name of names) {
    try {
      await engine.call(`remove volume ${name}`, { method: "DELETE", path: `/volumes/${name}` });
    } catch (err) {
      // 409: still used by another container of the pod (or a removal in progress); 404: gone.
      const status = statusOf(err);
      if (status !== 404 && status !== 409) throw err;
    }
  }
}
