/**
 * The Docker runtime: NodeRuntime on a Docker engine (dockerode), with per-engine API version
 * negotiation, a per-node call limit, label-based state, a resilient event stream, exec, restart counts in
 * container names and TLS over TCP.
 */
export { DockerRuntime } from "./runtime.js";
