/**
 * The Docker runtime: NodeRuntime on a Docker engine (dockerode), with per-engine API version
 * negotiation, a per-node call limit, label-based state, a resilient event stream, exec, restart counts in
 * container names and TLS over TCP.
 */
export { DockerRuntime, type DockerRuntimeOptions } from "./runtime.js";
export { MAX_API_VERSION, MIN_API_VERSION, chooseApiVersion, compareApiVersions } from "./api-version.js";
export { checkTlsCredentials, parseEndpoint, type EngineTarget } from "./client.js";
