/**
 * The Service forwarders of one Docker node's bridge network: what traffic/bridge.ts plans (one small
 * HAProxy per Service, with a fixed address and the Service's names as network aliases, sending every
 * connection to the node proxy's bridge frontend), made real through the Engine API, so that a remote
 * engine works like a local one.
 *
 * A forwarder is a container "cx-svc-<owner>_<namespace>_<name>" from the node proxy's image, labelled
 * with the owner, io.coxswain.service-forwarder (the Service's "namespace/name") and a spec hash of
 * everything it was made from (image, network, address, aliases, configuration). It runs as root (ports
 * below 1024), `haproxy -db` on the configuration it carries in its environment (written to a file by
 * `sh -c` first: every HAProxy image has a shell), restart policy "always" (back after a crash or an engine
 * restart), a small json-file log. Nothing in it changes while it runs: a new spec is a new container (the
 * old one is removed first, giving back its address), so a change of a Service's ports interrupts that
 * Service's forwarder for the moment of the swap; endpoint changes never reach it.
 *
 * sync() is level-based and needs no memory: it lists the owner's forwarders on the engine (an operator
 * that restarts adopts the ones whose spec hash matches), removes those of Services that are gone or
 * changed, starts a stopped one, creates the missing ones. A Service whose forwarder cannot be made (its
 * address or name taken by a container that is not ours, an image that cannot be pulled) is reported
 * and the others are still made.
 */
import { createHash } from "node:crypto";
import { CoxError, toCoxError } from "../../api/errors.js";
import { forwarderConfig, type BridgeNetwork, type ServiceForwarder } from "../../traffic/bridge.js";
import type { ProxyBind } from "../../traffic/types.js";
import type { NodeConfig } from "../fleet.js";
import { LABELS } from "../labels.js";
import type { NodeRuntime } from "../types.js";
import { DockerRuntime } from "./runtime.js";

/** What the forwarders need of the node's engine: a DockerRuntime (its owner names the containers). */
export type ForwarderEngine = Pick<DockerRuntime, "owner" | "nodeName" | "request" | "ensureImage" | "remove" | "bridgeNetwork">;

/** The forwarders of one node, as the service controller sees them (a fake in unit tests). */
export interface BridgeForwarders {
  /** The node's bridge network, created when missing (DockerRuntime.bridgeNetwork). */
  network(): Promise<BridgeNetwork>;
  /**
   * Makes the node's forwarders exactly `forwarders` on `network`, each sending to `target` (the node
   * proxy's bridge frontend); none: every forwarder of the owner is removed. Resolves with the error of
   * each Service whose forwarder could not be made or does not run, by key (empty: all of them serve).
   * Throws when the engine cannot be listed.
   */
  sync(forwarders: readonly ServiceForwarder[], target?: { network: BridgeNetwork; proxy: ProxyBind }): Promise<Map<string, CoxError>>;
}

/** Options of DockerForwarders. */
export interface DockerForwardersOptions {
  engine: ForwarderEngine;
  /** The node proxy's image (NodeConfig.proxyImage): HAProxy and a shell. */
  image: string;
}

/** Where the configuration is written inside the container before HAProxy starts. */
const CONFIG_FILE = "/tmp/cx-forwarder.cfg";
/** The environment variable that carries the configuration. */
const CONFIG_ENV = "CX_FORWARDER_CONFIG";
/** The container's command: the configuration out of the environment into a file, then HAProxy in the foreground. */
const COMMAND = ["sh", "-c", `printf '%s' "$${CONFIG_ENV}" > ${CONFIG_FILE} && exec haproxy -db -f ${CONFIG_FILE}`];

/** The fields of a GET /containers/json entry the forwarders read. */
interface ForwarderSummary {
  Id: string;
  Names?: string[];
  State?: string;
  Labels?: Record<string, string> | null;
}

/** Makes the forwarders of a node, for the service controller: undefined for a node without a Docker engine. */
export type ForwardersFactory = (node: NodeConfig) => BridgeForwarders | undefined;

/**
 * The real forwarders: every Docker node (`runtimeOf` gives the fleet's runtime of a node) gets them, from
 * the image of its proxy (`defaultImage` unless its Node names one); the service controller uses them on
 * bridge nodes and removes leftovers on host nodes. Other runtimes get none.
 */
export function dockerForwardersFactory(runtimeOf: (node: string) => NodeRuntime | undefined, defaultImage: string): ForwardersFactory {
  return (node) => {
    const engine = runtimeOf(node.name);
    return engine instanceof DockerRuntime ? new DockerForwarders({ engine, image: node.proxyImage ?? defaultImage }) : undefined;
  };
}

/** The container name of a Service's forwarder. */
function forwarderName(owner: string, forwarder: Pick<ServiceForwarder, "namespace" | "name">): string {
  return `cx-svc-${owner}_${forwarder.namespace}_${forwarder.name}`;
}

/** The forwarders of a Docker node; see the module comment. */
class DockerForwarders implements BridgeForwarders {
  readonly #engine: ForwarderEngine;
  readonly #image: string;

  constructor(options: DockerForwardersOptions) {
    this.#engine = options.engine;
    this.#image = options.image;
    if (options.image.trim() === "") throw new CoxError("InvalidArgument", "Service forwarders need an image (NodeConfig.proxyImage)");
  }

  network(): Promise<BridgeNetwork> {
    return this.#engine.bridgeNetwork();
  }

  async sync(forwarders: readonly ServiceForwarder[], target?: { network: BridgeNetwork; proxy: ProxyBind }): Promise<Map<string, CoxError>> {
    if (forwarders.length > 0 && target === undefined) throw new CoxError("InvalidArgument", "forwarders need a network and the node proxy's bridge bind");
    const engine = this.#engine;
    const wanted = new Map(forwarders.map((f) => [f.key, { forwarder: f, hash: this.#specHash(f, target!) }]));
    const present = await engine.request<ForwarderSummary[]>("list the Service forwarders", {
      method: "GET",
      path: "/containers/json",
      query: { all: true, filters: { label: [`${LABELS.owner}=${engine.owner}`, LABELS.serviceForwarder] } },
    });
    const errors = new Map<string, CoxError>();
    const kept = new Map<string, ForwarderSummary>();
    // Those of gone or changed Services go first: a changed one gives back its address and name.
    for (const c of [...present].sort((a, b) => (a.Id < b.Id ? -1 : 1))) {
      const key = c.Labels?.[LABELS.serviceForwarder] ?? "";
      const want = wanted.get(key);
      if (want !== undefined && c.Labels?.[LABELS.specHash] === want.hash && !kept.has(key)) kept.set(key, c);
      else await engine.remove(c.Id).catch((err: unknown) => errors.set(key, toCoxError(err)));
    }
    for (const [key, { forwarder, hash }] of [...wanted].sort(([a], [b]) => (a < b ? -1 : 1))) {
      try {
        const existing = kept.get(key);
        if (existing === undefined) await this.#create(forwarder, hash, target!);
        else if (existing.State === "restarting") {
          // Its HAProxy exits and the engine's restart policy keeps trying: say so (its log says why).
          errors.set(
            key,
            new CoxError("RuntimeCallFailed", `node ${this.#engine.nodeName}: the forwarder of Service ${key} keeps restarting; see docker logs ${forwarderName(this.#engine.owner, forwarder)}`, {
              details: { node: this.#engine.nodeName, service: key },
            }),
          );
        } else if (existing.State !== "running") await this.#start(existing.Id, forwarder);
      } catch (err) {
        errors.set(key, toCoxError(err));
      }
    }
    return errors;
  }

  /** What a forwarder is made from: a change of any of it is a new container. */
  #specHash(f: ServiceForwarder, target: { network: BridgeNetwork; proxy: ProxyBind }): string {
    const spec = { image: this.#image, network: target.network.name, address: f.address, aliases: f.aliases, config: forwarderConfig(f, target.proxy) };
    return createHash("sha256").update(JSON.stringify(spec)).digest("hex").slice(0, 16);
  }

  async #create(f: ServiceForwarder, hash: string, target: { network: BridgeNetwork; proxy: ProxyBind }): Promise<void> {
    const engine = this.#engine;
    const name = forwarderName(engine.owner, f);
    await engine.ensureImage(this.#image);
    const network = target.network.name;
    const created = await engine.request<{ Id: string }>(`create the forwarder ${name}`, {
      method: "POST",
      path: "/containers/create",
      query: { name },
      body: {
        Image: this.#image,
        Entrypoint: [],
        Cmd: COMMAND,
        User: "0",
        Env: [`${CONFIG_ENV}=${forwarderConfig(f, target.proxy)}`],
        Labels: { [LABELS.owner]: engine.owner, [LABELS.serviceForwarder]: f.key, [LABELS.specHash]: hash },
        HostConfig: {
          NetworkMode: network,
          Init: false,
          RestartPolicy: { Name: "always", MaximumRetryCount: 0 },
          LogConfig: { Type: "json-file", Config: { "max-size": "1m", "max-file": "1" } },
        },
        NetworkingConfig: { EndpointsConfig: { [network]: { IPAMConfig: { IPv4Address: f.address }, Aliases: [...f.aliases] } } },
      },
    });
    try {
      await this.#start(created.Id, f);
    } catch (err) {
      await engine.remove(created.Id).catch(() => undefined);
      throw err;
    }
  }

  async #start(id: string, f: ServiceForwarder): Promise<void> {
    await this.#engine.request(`start the forwarder of Service ${f.key}`, { method: "POST", path: `/containers/${id}/start`, okStatuses: [304] });
  }
}
