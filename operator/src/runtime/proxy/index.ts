/**
 * The node proxies: which proxy serves a node's Services. Process-runtime nodes get a local HAProxy
 * (haproxy-process.ts); Docker nodes get an HAProxy container (docker-proxy.ts).
 */
import { join } from "node:path";
import type { NodeConfig } from "../fleet.js";
import { HaproxyProcess } from "./haproxy-process.js";
import type { NodeProxy } from "./types.js";

export type { NodeProxy, ProxyChange, ProxyHealth, ProxyServerStats } from "./types.js";

/** Makes the proxy of a node; called once per node, on its first Service. */
export type ProxyFactory = (node: NodeConfig) => NodeProxy;

/** The real proxies: state under `<stateDir>/proxy/<node>` (short: its unix sockets must fit in 108 bytes). */
export function nodeProxyFactory(stateDir: string): ProxyFactory {
  return (node) => new HaproxyProcess({ stateDir: join(stateDir, "proxy", node.name) });
}
