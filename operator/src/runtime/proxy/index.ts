/**
 * The node proxies: which proxy serves a node's Services. Process-runtime nodes get a local HAProxy
 * (haproxy-process.ts); Docker nodes get an HAProxy container on their engine (docker-proxy.ts), from the
 * image the Node names (spec.proxyImage) or `coxswain run --proxy-image`.
 */
import { join } from "node:path";
import { CoxError } from "../../api/errors.js";
import { DockerRuntime } from "../docker/index.js";
import type { NodeConfig } from "../fleet.js";
import type { NodeRuntime } from "../types.js";
import { DockerProxy } from "./docker-proxy.js";
import { HaproxyProcess } from "./haproxy-process.js";
import type { NodeProxy } from "./types.js";

export type { NodeProxy } from "./types.js";

/** The HAProxy image of Docker nodes unless their Node or the run says otherwise: the official one. */
export const DEFAULT_PROXY_IMAGE = "haproxy:2.6";

/** Makes the proxy of a node; called once per node, on its first Service. */
export type ProxyFactory = (node: NodeConfig) => NodeProxy;

/**
 * The real proxies. Process-runtime nodes: a local HAProxy with its state under `<stateDir>/proxy/<node>`
 * (short: its unix sockets must fit in 108 bytes). Docker nodes: a container on the node's engine, which
 * `runtimeOf` gives (the fleet's runtime of that node).
 */
export function nodeProxyFactory(stateDir: string, runtimeOf: (node: string) => NodeRuntime | undefined): ProxyFactory {
  return (node) => {
    if (node.endpoint.startsWith("process://")) return new HaproxyProcess({ stateDir: join(stateDir, "proxy", node.name) });
    const engine = runtimeOf(node.name);
    if (!(engine instanceof DockerRuntime)) throw new CoxError("ProxyUnreachable", `node ${node.name}: no Docker engine to run its proxy on`);
    return new DockerProxy({ engine, image: node.proxyImage ?? DEFAULT_PROXY_IMAGE });
  };
}
