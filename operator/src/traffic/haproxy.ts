/**
 * A node's proxy configuration as HAProxy 2.6 runs it: the complete configuration text, and the edits that
 * take a running HAProxy from one configuration to the next without a reload when only servers changed.
 *
 * Each listener is a `listen` section whose servers sit in numbered slots (s1…sN, N a power of two with
 * room for twice the servers), the free ones declared in maintenance at 127.0.0.1:1; an endpoint keeps its
 * slot while it exists, and endpoint churn (a server added, removed, drained, re-weighted) is a few
 * runtime-API commands on the admin stats socket (measured: 0 failed requests of 78,448 with 20 changes).
 * New or removed listeners, binds, modes, affinity, or a listener outgrowing its slots need a new text
 * and a hitless reload (`haproxy -W -S <master socket>`; `hard-stop-after 30s` bounds the old worker, and
 * `option idle-close-on-response` lets idle HTTP clients move to the new one: 0 failed of 87,670 over 10
 * reloads).
 *
 * Guarantees: pure; the text and the commands are a function of their inputs, listeners in key order and
 * slots in number order; the text passes `haproxy -c` without warnings (test/integration/traffic); after
 * the commands, `show servers state` matches the returned state (ditto). What the state records is what
 * HAProxy holds per slot (address, port, configured weight, admin state), so that two configurations that
 * mean the same traffic need no command.
 *
 * Not kept across a reload: ClientIP affinity (the stick tables of the old worker are not handed over; a
 * `peers` section would do it at the cost of a port per node).
 */
import { CoxError } from "../api/errors.js";
import { parseIpv4 } from "./addresses.js";
import { compareText, hash32 } from "./keys.js";
import type { ProxyBind, ProxyConfig, ProxyListener, ProxyServer } from "./types.js";

/** How the rendered HAProxy is reached. */
export interface HaproxyOptions {
  /**
   * Path of the admin stats socket (the runtime API); no quote or line break. Omitted when the proxy
   * manager declares its own (runtime/proxy appends a `global` section with it).
   */
  statsSocket?: string;
}

/** What HAProxy holds in one server slot; `server` is the ProxyServer id in it, none when the slot is free. */
export interface SlotState {
  server?: string;
  address: string;
  port: number;
  /** The configured weight (HAProxy's uweight); a drained server keeps it. */
  weight: number;
  /** HAProxy's admin state: maint for a free slot. */
  admin: "ready" | "drain" | "maint";
}

/** One `listen` section as HAProxy runs it; slots[i] is server s<i+1>. */
export interface ListenerState {
  key: string;
  /** The section's name: the key made a valid HAProxy name. */
  name: string;
  binds: ProxyBind[];
  mode: "http" | "tcp";
  affinity?: { timeoutSeconds: number };
  slots: SlotState[];
}

/** What a running HAProxy was given: the output of renderHaproxy, then of each proxyEdits. Plain JSON data. */
export interface RenderedState {
  statsSocket?: string;
  /** Sorted by key. */
  listeners: ListenerState[];
}

/** How to get a running HAProxy from its applied state to a new configuration. */
export type ProxyEdits =
  | { reload: true; text: string; state: RenderedState }
  | { reload: false; commands: string[]; state: RenderedState };

/** Where a free slot points: nothing listens on port 1, and the slot is in maintenance anyway. */
const FREE_SLOT: SlotState = { address: "127.0.0.1", port: 1, weight: 1, admin: "maint" };

/** Room for twice the servers, at least 4, a power of two: a listener can double before it needs a reload. */
function slotCapacity(servers: number): number {
  let n = 4;
  while (n < 2 * servers) n *= 2;
  return n;
}

/**
 * The complete HAProxy 2.6 configuration of `config`, and the state HAProxy holds once it runs it. Run it
 * master-worker (`-W -S …`, not a `daemon`); the admin stats socket is at `opts.statsSocket` and exposes
 * the listening sockets (`expose-fd listeners`), so that at a reload the master hands them to the new
 * worker (`-x`, added by the master itself) rather than the new worker binding them anew.
 *
 * With `opts.previous` (the state of the HAProxy this text replaces), every server that was there keeps
 * its slot and a listener keeps its slot count unless it outgrew it; without, slots are handed out in id
 * order. Throws InvalidArgument for a socket path, address, port, weight or affinity timeout HAProxy
 * cannot take (addresses are IPv4: `set server … addr` takes no host names).
 */
export function renderHaproxy(config: ProxyConfig, opts: HaproxyOptions & { previous?: RenderedState }): { text: string; state: RenderedState } {
  validate(config, opts);
  const before = new Map((opts.previous?.listeners ?? []).map((l) => [l.key, l.slots]));
  const listeners = namedListeners(config).map(({ listener, name }): ListenerState => {
    const slots = assignSlots(before.get(listener.key), listener.servers).map((s): SlotState => {
      if (s === undefined) return { ...FREE_SLOT };
      const base = { server: s.id, address: s.address, port: s.port };
      // HAProxy has no server keyword for drain; weight 0 does the same to new requests, and proxyEdits knows it.
      if (s.state === "drain") return { ...base, weight: 0, admin: "ready" };
      return { ...base, weight: s.weight, admin: s.state };
    });
    return {
      key: listener.key,
      name,
      binds: listener.binds.map((b) => ({ ...b })),
      mode: listener.mode,
      ...(listener.affinity === undefined ? {} : { affinity: { ...listener.affinity } }),
      slots,
    };
  });
  const lines = [
    `# The HAProxy configuration of coxswain node ${config.node.replace(/[^\x20-\x7e]/g, "?")}, rendered by operator/src/traffic/haproxy.ts.`,
    "global",
    ...(opts.statsSocket !== undefined ? [`    stats socket '${opts.statsSocket}' mode 600 level admin expose-fd listeners`] : []),
    "    hard-stop-after 30s",
    // A second proxy binding the same address must fail, not silently share its connections (SO_REUSEPORT);
    // reloads do not need it: the master hands the listeners to the new worker.
    "    noreuseport",
    "",
    "defaults",
    "    mode tcp",
    "    timeout connect 5s",
    "    timeout client 60s",
    "    timeout server 60s",
    "    option redispatch",
    "    retries 2",
  ];
  for (const l of listeners) {
    lines.push("", `listen ${l.name}`, `    mode ${l.mode}`);
    if (l.mode === "http") lines.push("    option idle-close-on-response");
    for (const b of l.binds) lines.push(`    bind ${b.address}:${b.port}`);
    lines.push("    balance roundrobin");
    if (l.affinity !== undefined) lines.push(`    stick-table type ip size 100k expire ${l.affinity.timeoutSeconds}s`, "    stick on src");
    lines.push(...serverLines(l.slots));
  }
  return { text: lines.join("\n") + "\n", state: { ...(opts.statsSocket !== undefined ? { statsSocket: opts.statsSocket } : {}), listeners } };
}

/** `server` lines for the slots, runs of free slots as one `server-template`. */
function serverLines(slots: readonly SlotState[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < slots.length; i++) {
    const s = slots[i]!;
    if (s.server === undefined) {
      let j = i;
      while (j + 1 < slots.length && slots[j + 1]!.server === undefined) j++;
      const free = `${FREE_SLOT.address}:${FREE_SLOT.port} disabled`;
      out.push(j === i ? `    server s${i + 1} ${free}` : `    server-template s ${i + 1}-${j + 1} ${free}`);
      i = j;
      continue;
    }
    out.push(`    server s${i + 1} ${s.address}:${s.port} weight ${s.weight}${s.admin === "maint" ? " disabled" : ""}`);
  }
  return out;
}

/**
 * The edits that take a HAProxy running `applied` to `next`: a new text and a reload when there is no
 * applied state, the stats socket moved, or a listener was added, removed, re-bound, changed mode or
 * affinity, or has more servers than slots; otherwise runtime-API commands (possibly none), one per line
 * as the admin stats socket takes them. Every server stays in its slot while it exists.
 *
 * Commands are ordered so that traffic never lacks a server it could have: first every slot that ends up
 * taking requests (a new server is given its address and weight before it is made ready), then every
 * slot that ends up draining, then every slot taken out; within each, by listener key and slot number.
 * Throws as renderHaproxy does.
 */
export function proxyEdits(applied: RenderedState | undefined, next: ProxyConfig, opts: HaproxyOptions): ProxyEdits {
  validate(next, opts);
  const named = namedListeners(next);
  if (applied === undefined || needsReload(applied, named, opts)) return { reload: true, ...renderHaproxy(next, { ...opts, previous: applied }) };
  const edits: { phase: number; commands: string[] }[] = [];
  const listeners = named.map(({ listener }, i): ListenerState => {
    const was = applied.listeners[i]!;
    const slots = assignSlots(was.slots, listener.servers).map((want, slot) => {
      const edit = slotEdit(was.slots[slot]!, want);
      edits.push({ phase: edit.phase, commands: edit.steps.map((step) => `set server ${was.name}/s${slot + 1} ${step}`) });
      return edit.next;
    });
    return { ...was, slots };
  });
  const commands = edits.sort((a, b) => a.phase - b.phase).flatMap((e) => e.commands);
  return { reload: false, commands, state: { ...(applied.statsSocket !== undefined ? { statsSocket: applied.statsSocket } : {}), listeners } };
}

/** Whether `next` differs from `applied` in anything the runtime API cannot change. */
function needsReload(applied: RenderedState, next: readonly { listener: ProxyListener; name: string }[], opts: HaproxyOptions): boolean {
  if (applied.statsSocket !== opts.statsSocket || applied.listeners.length !== next.length) return true;
  return next.some(({ listener: l, name }, i) => {
    const a = applied.listeners[i]!;
    return (
      a.key !== l.key ||
      a.name !== name ||
      a.mode !== l.mode ||
      a.affinity?.timeoutSeconds !== l.affinity?.timeoutSeconds ||
      a.binds.length !== l.binds.length ||
      a.binds.some((b, j) => b.address !== l.binds[j]!.address || b.port !== l.binds[j]!.port) ||
      l.servers.length > a.slots.length
    );
  });
}

/**
 * The runtime-API steps (after "set server <listener>/<slot> ") that make a slot hold `want` (nothing:
 * free), the slot's state after them, and their phase: 0 ends taking requests, 1 draining, 2 out.
 */
function slotEdit(cur: SlotState, want: ProxyServer | undefined): { steps: string[]; next: SlotState; phase: number } {
  if (want === undefined) {
    const { server: _gone, ...free } = cur;
    return { steps: cur.admin === "maint" ? [] : ["state maint"], next: { ...free, admin: "maint" }, phase: 2 };
  }
  const steps: string[] = [];
  let { admin, weight } = cur;
  if (cur.server !== want.id && admin !== "maint") {
    // A slot given to another server (only when every slot was taken): its old server leaves first.
    steps.push("state maint");
    admin = "maint";
  }
  if (cur.address !== want.address || cur.port !== want.port) steps.push(`addr ${want.address} port ${want.port}`);
  if (want.state === "ready") {
    if (weight !== want.weight) steps.push(`weight ${(weight = want.weight)}`);
    if (admin !== "ready") steps.push(`state ${(admin = "ready")}`);
  } else if (want.state === "drain") {
    // A server rendered as draining runs as ready with weight 0 (see renderHaproxy): that is draining too.
    if (admin !== "drain" && !(admin === "ready" && weight === 0)) steps.push(`state ${(admin = "drain")}`);
  } else if (admin !== "maint") {
    steps.push(`state ${(admin = "maint")}`);
  }
  const phase = want.state === "ready" ? 0 : want.state === "drain" ? 1 : 2;
  return { steps, next: { server: want.id, address: want.address, port: want.port, weight, admin }, phase };
}

/**
 * Slots for `servers` (undefined: free): with the slots of before, every server that was there stays put
 * and the count stays unless the servers outgrew it; newcomers take free slots, those that were already
 * free before those just vacated (a vacated slot may still finish requests of its old server), each in
 * slot order, newcomers in id order.
 */
function assignSlots(before: readonly SlotState[] | undefined, servers: readonly ProxyServer[]): (ProxyServer | undefined)[] {
  const capacity = before !== undefined && servers.length <= before.length ? before.length : slotCapacity(servers.length);
  const out: (ProxyServer | undefined)[] = new Array<ProxyServer | undefined>(capacity).fill(undefined);
  const slotOf = new Map<string, number>();
  before?.forEach((s, i) => {
    if (s.server !== undefined) slotOf.set(s.server, i);
  });
  const newcomers: ProxyServer[] = [];
  for (const s of servers) {
    const i = slotOf.get(s.id);
    if (i === undefined) newcomers.push(s);
    else out[i] = s;
  }
  const vacated = (i: number): number => (before?.[i]?.server === undefined ? 0 : 1);
  const free = out.flatMap((s, i) => (s === undefined ? [i] : [])).sort((a, b) => vacated(a) - vacated(b) || a - b);
  newcomers.sort((a, b) => compareText(a.id, b.id)).forEach((s, j) => (out[free[j]!] = s));
  return out;
}

/**
 * The listeners in key order with their section names: the key with "/" as "." when it is a plain
 * "<namespace>/<name>:<port>" of DNS labels (which have no "."), so no two such keys share a name; any
 * other key has every character HAProxy refuses in a name made "_" and a hash of the key appended after
 * the port, where a plain key's name never has anything.
 */
function namedListeners(config: ProxyConfig): { listener: ProxyListener; name: string }[] {
  const taken = new Map<string, string>();
  return [...config.listeners]
    .sort((a, b) => compareText(a.key, b.key))
    .map((listener) => {
      const key = listener.key;
      const name = /^[a-z0-9-]+\/[a-z0-9-]+:[0-9]+$/.test(key)
        ? key.replace("/", ".")
        : `${key.replace(/[^A-Za-z0-9_.:-]/g, "_")}-${hash32(key).toString(16).padStart(8, "0")}`;
      const other = taken.get(name);
      if (other !== undefined) {
        throw new CoxError("InvalidArgument", `listeners ${other} and ${key} would share the HAProxy name ${name}`, { details: { listeners: [other, key], name } });
      }
      taken.set(name, key);
      return { listener, name };
    });
}

/** Throws InvalidArgument for anything HAProxy would refuse or read differently. */
function validate(config: ProxyConfig, opts: HaproxyOptions): void {
  const bad = (what: string, details: Record<string, unknown>): never => {
    throw new CoxError("InvalidArgument", what, { details });
  };
  if (opts.statsSocket !== undefined && (opts.statsSocket === "" || /['\x00-\x1f\x7f]/.test(opts.statsSocket))) bad(`stats socket path ${JSON.stringify(opts.statsSocket)} cannot be written in a configuration`, { statsSocket: opts.statsSocket });
  const endpoint = (key: string, address: string, port: number): void => {
    if (parseIpv4(address) === undefined) bad(`${key}: ${JSON.stringify(address)} is not an IPv4 address`, { listener: key, address });
    if (!Number.isInteger(port) || port < 1 || port > 65535) bad(`${key}: port ${port} is not from 1 to 65535`, { listener: key, port });
  };
  // Two listeners on one address and port would both bind it (SO_REUSEPORT) and share its connections.
  const boundBy = new Map<string, string>();
  for (const l of config.listeners) {
    if (l.key === "") bad("a listener has an empty key", {});
    for (const b of l.binds) {
      endpoint(l.key, b.address, b.port);
      const at = `${b.address}:${b.port}`;
      const other = boundBy.get(at);
      if (other !== undefined) bad(`${other} and ${l.key} both listen on ${at}`, { at, listeners: [other, l.key] });
      boundBy.set(at, l.key);
    }
    const t = l.affinity?.timeoutSeconds;
    if (t !== undefined && !(Number.isInteger(t) && t >= 1 && t <= 86400)) bad(`${l.key}: affinity timeout ${t} s is not from 1 to 86400`, { listener: l.key, timeoutSeconds: t });
    const ids = new Set<string>();
    for (const s of l.servers) {
      endpoint(l.key, s.address, s.port);
      if (!Number.isInteger(s.weight) || s.weight < 0 || s.weight > 256) bad(`${l.key}: weight ${s.weight} of ${s.id} is not from 0 to 256`, { listener: l.key, server: s.id });
      if (ids.has(s.id)) bad(`${l.key}: server ${s.id} is given twice`, { listener: l.key, server: s.id });
      ids.add(s.id);
    }
  }
}
