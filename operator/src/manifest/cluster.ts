/**
 * Rules beyond the schema for the cluster-scoped kinds that describe the fleet: Node (coxswain's own) and
 * PriorityClass (Kubernetes' scheduling.k8s.io/v1). Cross-object rules (the Node's TLS Secret, one global
 * default PriorityClass) need the whole commit and live in graph/build.ts.
 */
import { isIP } from "node:net";
import type { Node, PriorityClass } from "../api/objects.js";
import { fieldError, showValue, type Issue } from "./issue.js";
import { quantityOrIssue } from "./pod.js";
import { DNS1123_SUBDOMAIN } from "./schema.js";

/** The PriorityClasses that exist without being declared, with Kubernetes' values. */
export const BUILTIN_PRIORITY_CLASSES: Readonly<Record<string, { value: number; preemptionPolicy: "PreemptLowerPriority" }>> = Object.freeze({
  "system-cluster-critical": { value: 2_000_000_000, preemptionPolicy: "PreemptLowerPriority" },
  "system-node-critical": { value: 2_000_001_000, preemptionPolicy: "PreemptLowerPriority" },
});

/** The prefix Kubernetes reserves for its own PriorityClasses. */
const SYSTEM_PRIORITY_PREFIX = "system-";

/** The parts of a tcp:// endpoint. */
export interface TcpEndpoint {
  host: string;
  port: number;
}

const HOSTNAME = new RegExp(DNS1123_SUBDOMAIN);

/**
 * Parses "tcp://host:port" (host a DNS name, an IPv4 address or a bracketed IPv6 address; port 1–65535; no
 * path, user or query). Undefined when the endpoint is not of that form.
 */
export function parseTcpEndpoint(endpoint: string): TcpEndpoint | undefined {
  const m = /^tcp:\/\/(\[[^\]]+\]|[^:/?#@[\]]+):([0-9]{1,5})$/.exec(endpoint);
  if (!m) return undefined;
  const rawHost = m[1]!;
  const port = Number(m[2]);
  if (port < 1 || port > 65535) return undefined;
  const host = rawHost.startsWith("[") ? rawHost.slice(1, -1) : rawHost;
  if (rawHost.startsWith("[") ? isIP(host) !== 6 : !(isIP(host) === 4 || (host.length <= 253 && HOSTNAME.test(host.toLowerCase())))) return undefined;
  return { host, port };
}

/** The socket path of a unix:// endpoint when it is a clean absolute path; undefined otherwise. */
export function parseUnixEndpoint(endpoint: string): string | undefined {
  if (!endpoint.startsWith("unix://")) return undefined;
  const p = endpoint.slice("unix://".length);
  // biome-ignore lint/suspicious/noControlCharactersInRegex: a NUL byte cannot be in a socket path
  if (!p.startsWith("/") || p.length < 2 || p.endsWith("/") || /[\s\u0000]/.test(p)) return undefined;
  return p
    .slice(1)
    .split("/")
    .every((s) => s !== "" && s !== "." && s !== "..")
    ? p
    : undefined;
}

/** A Node's portRange as numbers, both ends inclusive. */
export interface PortRange {
  from: number;
  to: number;
}

/** The portRange of a Node without one (the schema's default), and of the default local node unless --port-range changes it. */
export const DEFAULT_PORT_RANGE: Readonly<PortRange> = Object.freeze({ from: 30000, to: 32767 });

/** Parses a portRange "from-to" with 1 <= from <= to <= 65535; undefined when it is not one. */
export function parsePortRange(range: string): PortRange | undefined {
  const m = /^([0-9]+)-([0-9]+)$/.exec(range);
  if (!m) return undefined;
  const from = Number(m[1]);
  const to = Number(m[2]);
  return from >= 1 && from <= to && to <= 65535 ? { from, to } : undefined;
}

/** Rules for a Node beyond its schema: port range, endpoint form, TLS for tcp://, taints, capacity vs reserve. */
export function nodeIssues(node: Node): Issue[] {
  const issues: Issue[] = [];
  const spec = node.spec;
  const range = spec.portRange;
  if (range !== undefined && parsePortRange(range) === undefined) {
    issues.push(fieldError("InvalidField", ["spec", "portRange"], `must be "from-to" with 1 <= from <= to <= 65535 (got ${showValue(range)})`));
  }

  const serviceNetwork = spec.serviceNetwork;
  if (serviceNetwork !== undefined) {
    const [base, prefix] = serviceNetwork.split("/");
    const octets = base!.split(".").map(Number);
    const bits = Number(prefix);
    if (octets.some((o) => o > 255) || !(bits >= 8 && bits <= 24)) {
      issues.push(fieldError("InvalidField", ["spec", "serviceNetwork"], `must be an IPv4 network inside 127.0.0.0/8 with a prefix from /8 to /24, like 127.77.0.0/16 (got ${showValue(serviceNetwork)})`));
    } else if (octets.reduce((n, o) => n * 256 + o, 0) % 2 ** (32 - bits) !== 0) {
      issues.push(fieldError("InvalidField", ["spec", "serviceNetwork"], `has host bits set: a /${bits} network starts at a multiple of ${2 ** (32 - bits)} addresses (got ${showValue(serviceNetwork)})`));
    }
  }

  const endpoint = spec.endpoint;
  if (endpoint.startsWith("tcp://")) {
    if (!parseTcpEndpoint(endpoint)) {
      issues.push(fieldError("InvalidField", ["spec", "endpoint"], `must be tcp://host:port with a DNS name, IPv4 address or [IPv6] address and a port from 1 to 65535, nothing after it (got ${showValue(endpoint)})`));
    } else if (spec.tls === undefined) {
      issues.push(
        fieldError(
          "InvalidField",
          ["spec", "endpoint"],
          "a tcp:// endpoint needs spec.tls.secretRef: plain TCP to a Docker engine gives whoever reaches the port root on that host, so coxswain refuses it. " +
            "Name a Secret with ca.crt, tls.crt and tls.key (the engine's CA and coxswain's client certificate and key)",
        ),
      );
    }
  } else {
    if (parseUnixEndpoint(endpoint) === undefined) {
      issues.push(fieldError("InvalidField", ["spec", "endpoint"], `must be unix:// followed by a clean absolute socket path (no '.', '..' or empty segments, no trailing '/') (got ${showValue(endpoint)})`));
    }
    if (spec.tls !== undefined) {
      issues.push(fieldError("InvalidField", ["spec", "tls"], "applies to tcp:// endpoints only; a unix:// socket is local and needs no TLS"));
    }
  }

  const seen = new Map<string, number>();
  (spec.taints ?? []).forEach((t, i) => {
    const id = `${t.key}\u0000${t.effect}`;
    const first = seen.get(id);
    if (first !== undefined) {
      issues.push(fieldError("InvalidField", ["spec", "taints", i], `taints must be unique by key and effect pair, as in Kubernetes: ${t.key}:${t.effect} is already taints[${first}]`));
    } else seen.set(id, i);
  });

  for (const res of ["cpu", "memory"] as const) {
    const cap = spec.capacity?.[res];
    const reserved = spec.reserved?.[res];
    const capN = cap === undefined ? undefined : quantityOrIssue(res, cap, ["spec", "capacity", res], issues);
    const resN = reserved === undefined ? undefined : quantityOrIssue(res, reserved, ["spec", "reserved", res], issues);
    if (capN !== undefined && resN !== undefined && resN > capN) {
      issues.push(fieldError("InvalidField", ["spec", "reserved", res], `must not exceed spec.capacity.${res} ${showValue(cap)}: nothing would be left for pods (got ${showValue(reserved)})`));
    }
  }
  return issues;
}

/** Rules for a PriorityClass beyond its schema: the "system-" prefix is Kubernetes' own. */
export function priorityClassIssues(pc: PriorityClass): Issue[] {
  if (!pc.metadata.name.startsWith(SYSTEM_PRIORITY_PREFIX)) return [];
  const builtins = Object.keys(BUILTIN_PRIORITY_CLASSES).sort().join(" and ");
  return [fieldError("InvalidField", ["metadata", "name"], `priority class names with '${SYSTEM_PRIORITY_PREFIX}' prefix are reserved for system use only, as in Kubernetes (${builtins} exist without being declared)`)];
}
