/**
 * Where Services answer: a stable address per Service in a node's service network, and a node port for
 * every NodePort/LoadBalancer Service port that did not name one.
 *
 * Guarantees: pure and deterministic (the same set of keys, in any order, gets the same placement);
 * placement is by a hash of the key with linear probing resolved in sorted key order, so a key keeps its
 * place when others are added or removed unless one of them lands on its place or on the probe run before
 * it. Measured (test/unit/traffic/addresses.test.ts keeps bounds on it): adding one Service to 100 in a /16
 * moves some existing Service in under 0.1% of cases, to 1,000 in about 1%, to 100 in a /24 in about 25–30%;
 * roughly (Services / host addresses) / 2, since only a key sorted after the newcomer can be displaced.
 * These functions remember nothing: what they place is a function of the keys of the moment.
 */
import { CoxError } from "../api/errors.js";
import { compareText, hash32 } from "./keys.js";
import type { ServiceSpec } from "./types.js";

/** The IPv4 address as a 32-bit unsigned number, or undefined when `text` is not a dotted quad. */
export function parseIpv4(text: string): number | undefined {
  const parts = text.split(".");
  if (parts.length !== 4) return undefined;
  let n = 0;
  for (const part of parts) {
    if (!/^(0|[1-9][0-9]{0,2})$/.test(part) || Number(part) > 255) return undefined;
    n = n * 256 + Number(part);
  }
  return n;
}

/** The dotted quad of a 32-bit unsigned number. */
export function formatIpv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
}

/** A service network: "a.b.c.d/p" with 8 ≤ p ≤ 30 and no host bits set. */
function parseNetwork(network: string): { base: number; hosts: number } {
  const m = /^([0-9.]+)\/([0-9]{1,2})$/.exec(network);
  const base = m ? parseIpv4(m[1]!) : undefined;
  const prefix = m ? Number(m[2]) : NaN;
  if (base === undefined || !(prefix >= 8 && prefix <= 30)) {
    throw new CoxError("InvalidArgument", `service network ${JSON.stringify(network)} is not an IPv4 CIDR with a prefix from 8 to 30 (e.g. 127.77.0.0/16)`, {
      details: { network },
    });
  }
  const size = 2 ** (32 - prefix);
  if (base % size !== 0) {
    throw new CoxError("InvalidArgument", `service network ${network} has host bits set; did you mean ${formatIpv4(base - (base % size))}/${prefix}?`, {
      details: { network },
    });
  }
  return { base, hosts: size - 2 };
}

/** Places each key at hash(key) mod size, probing forward past `isTaken` slots, keys in sorted order. */
function place(keys: readonly string[], size: number, isTaken: (slot: number) => boolean): Map<string, number> {
  const used = new Set<number>();
  const out = new Map<string, number>();
  for (const key of [...new Set(keys)].sort(compareText)) {
    let slot = hash32(key) % size;
    while (used.has(slot) || isTaken(slot)) slot = (slot + 1) % size;
    used.add(slot);
    out.set(key, slot);
  }
  return out;
}

/** Where a node's Services get their addresses unless its Node says otherwise (Node spec.serviceNetwork). */
export const DEFAULT_SERVICE_NETWORK = "127.77.0.0/16";

/**
 * An address in `network` (IPv4 CIDR, prefix 8–30, e.g. "127.77.0.0/16") for every key ("namespace/name"),
 * never the network or broadcast address, no two keys alike; the map iterates in key order. Duplicate
 * keys count once. Throws InvalidArgument for a malformed network or more keys than it has host addresses.
 */
export function allocateServiceAddresses(network: string, keys: readonly string[]): Map<string, string> {
  const { base, hosts } = parseNetwork(network);
  const unique = new Set(keys);
  if (unique.size > hosts) {
    throw new CoxError("InvalidArgument", `service network ${network} has ${hosts} addresses for ${unique.size} Services; widen it`, {
      details: { network, hosts, services: unique.size },
    });
  }
  const out = new Map<string, string>();
  for (const [key, slot] of place([...unique], hosts, () => false)) out.set(key, formatIpv4(base + 1 + slot));
  return out;
}

/** A range of ports, both ends included. */
export interface PortRange {
  from: number;
  to: number;
}

/** NodePort and LoadBalancer Services listen on a node port; ClusterIP ones do not. */
function hasNodePorts(service: ServiceSpec): boolean {
  return service.type === "NodePort" || service.type === "LoadBalancer";
}

/**
 * `services` (same order) with a nodePort on every port of every NodePort/LoadBalancer Service that had
 * none, from `range`: never a port in `taken`, never a nodePort a Service already names, no two alike;
 * placed by a hash of "namespace/name:port". Ports that had a nodePort, and ClusterIP Services, are left as
 * they are (two Services naming the same nodePort is for manifest validation to refuse). Throws
 * InvalidArgument for a malformed range and PortRangeExhausted when the range has too few free ports.
 */
export function allocateNodePorts(services: readonly ServiceSpec[], range: PortRange, taken: ReadonlySet<number>): ServiceSpec[] {
  const { from, to } = range;
  if (!Number.isInteger(from) || !Number.isInteger(to) || from < 1 || to > 65535 || from > to) {
    throw new CoxError("InvalidArgument", `node port range ${from}-${to} is not a range of ports within 1-65535`, { details: { from, to } });
  }
  const reserved = new Set(taken);
  const wanted: string[] = [];
  for (const s of services.filter(hasNodePorts)) {
    for (const p of s.ports) {
      if (p.nodePort === undefined) wanted.push(nodePortKey(s, p.port));
      else reserved.add(p.nodePort);
    }
  }
  if (wanted.length === 0) return [...services];
  const size = to - from + 1;
  let free = 0;
  for (let port = from; port <= to; port++) if (!reserved.has(port)) free++;
  const unique = new Set(wanted).size;
  if (unique > free) {
    throw new CoxError("PortRangeExhausted", `node port range ${from}-${to} has ${free} free ports for ${unique} Service ports`, {
      details: { from, to, free, wanted: unique },
    });
  }
  const placed = place(wanted, size, (slot) => reserved.has(from + slot));
  return services.map((s) =>
    hasNodePorts(s) && s.ports.some((p) => p.nodePort === undefined) ? { ...s, ports: s.ports.map((p) => (p.nodePort === undefined ? { ...p, nodePort: from + placed.get(nodePortKey(s, p.port))! } : p)) } : s,
  );
}

function nodePortKey(s: ServiceSpec, port: number): string {
  return `${s.namespace}/${s.name}:${port}`;
}

/**
 * The Services with every nodePort assigned, for a fleet whose nodes have `ranges` as their portRanges: a
 * node port is one every node can listen on, so it comes from the ports all ranges share (30000-32767
 * when there are no nodes), never one of `taken` (the ingress ports). Throws as allocateNodePorts does
 * (PortRangeExhausted when the ranges share too few ports).
 */
export function withNodePorts(services: readonly ServiceSpec[], ranges: readonly PortRange[], taken: ReadonlySet<number> = new Set()): ServiceSpec[] {
  const shared = ranges.length === 0 ? { from: 30000, to: 32767 } : { from: Math.max(...ranges.map((r) => r.from)), to: Math.min(...ranges.map((r) => r.to)) };
  if (shared.from > shared.to) {
    if (!services.some((s) => (s.type === "NodePort" || s.type === "LoadBalancer") && s.ports.some((p) => p.nodePort === undefined))) return [...services];
    throw new CoxError("PortRangeExhausted", "the nodes' portRanges share no port, so a Service without a nodePort cannot get one; give it a nodePort or make the ranges overlap", {
      details: { ranges: ranges.map((r) => `${r.from}-${r.to}`) },
    });
  }
  return allocateNodePorts(services, shared, taken);
}

/**
 * The host ports no pod may take on any node, sorted: every nodePort of `services` (given, or assigned by
 * withNodePorts from `ranges`, never one of `ingressPorts`) and the ingress ports. Both controllers that
 * place or serve ports call this, so that they agree. When the nodePorts cannot all be assigned (a range
 * too small: the service controller reports it), the ones given and the ingress ports.
 */
export function reservedHostPorts(services: readonly ServiceSpec[], ranges: readonly PortRange[], ingressPorts: readonly number[]): number[] {
  let withPorts: readonly ServiceSpec[];
  try {
    withPorts = withNodePorts(services, ranges, new Set(ingressPorts));
  } catch {
    withPorts = services;
  }
  return [...new Set([...assignedNodePorts(withPorts), ...ingressPorts])].sort((a, b) => a - b);
}

/** Every nodePort of these Services (assigned ones included), sorted. */
export function assignedNodePorts(services: readonly ServiceSpec[]): number[] {
  return [...new Set(services.flatMap((s) => s.ports.flatMap((p) => (p.nodePort !== undefined ? [p.nodePort] : []))))].sort((a, b) => a - b);
}
