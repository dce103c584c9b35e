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
 * ClientIP affinity survives reloads when the proxy manager gives a peers socket (HaproxyOptions.peersSocket):
 * the stick tables belong to a `peers` section whose only peer is the proxy itself, on a unix socket, and
 * at a reload the old worker pushes its entries to the new one through it (HAProxy's own mechanism; a unix
 * socket rather than a TCP port, so that no port per node is taken). Measured on HAProxy 2.6: a worker
 * hands its table over only after its own start-up resync (up to 5 s after it started), so a reload in
 * that window still starts afresh. Without a peers socket, affinity starts afresh at every reload.
 *
 * Request log (canary analysis): a listener with `requestLog` logs one line per request (HTTP) or
 * connection (TCP) when it ends, in a format of coxswain's (logLines) that parseRequestLine reads back, to
 * the address the node proxy's collector gives (HaproxyOptions.requestLog: UDP on 127.0.0.1, or stdout in
 * a container). HAProxy keeps no percentiles; the per-request log lets traffic/analysis.ts compute them.
 * Turning a listener's log on or off is a reload; a configuration where no listener logs renders as if
 * there were no request log at all.
 */
import { createHash } from "node:crypto";
import { CoxError } from "../api/errors.js";
import { parseIpv4 } from "./addresses.js";
import { compareText, hash32 } from "./keys.js";
import type { ProxyBind, ProxyBridge, ProxyConfig, ProxyIngress, ProxyListener, ProxyServer, RequestRecord } from "./types.js";

/** How the rendered HAProxy is reached. */
export interface HaproxyOptions {
  /**
   * Path of the admin stats socket (the runtime API); no quote or line break. Omitted when the proxy
   * manager declares its own (runtime/proxy appends a `global` section with it).
   */
  statsSocket?: string;
  /**
   * The directory (absolute, as the proxy reads it) where the proxy manager puts the files of a
   * configuration (ProxyFile); the text names them `<filesDir>/<name>`. Needed when there are certificates
   * to present; no whitespace, quote, '#', '$' or '\\' in it.
   */
  filesDir?: string;
  /**
   * Absolute path of a unix socket (as the proxy sees it) for the `peers` section that hands the stick
   * tables of ClientIP affinity from the old worker to the new one at a reload; no whitespace, quote or
   * control character. Omitted: affinity is not kept across a reload.
   */
  peersSocket?: string;
  /**
   * Where the request log goes (the node proxy's RequestLog says): needed when a listener has
   * `requestLog`, unused otherwise.
   */
  requestLog?: RequestLogTarget;
}

/** Where a node proxy's request log goes, and the tag its lines carry. */
export interface RequestLogTarget {
  /** HAProxy's log address: "stdout", or "<IPv4 address>:<port>" (UDP). */
  address: string;
  /**
   * 8 to 64 letters and digits at the start of every line: a line without it is not this proxy's request
   * log (another program sending to the same port, other output on stdout), and is ignored.
   */
  tag: string;
}

/** Name of the local peer and of its `peers` section (only this proxy is in it). */
const LOCAL_PEER = "coxswain";

/**
 * A file a configuration names (a certificate and its key, a crt-list): the proxy manager writes `content`
 * to `<filesDir>/<name>` (mode 0600) before it checks the text. A name is a hash of its content, so a file
 * never changes under a proxy that runs it, and a stale one is simply left out of the next configuration.
 */
export interface ProxyFile {
  name: string;
  content: string;
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
  /** Every request is logged (ProxyListener.requestLog). */
  requestLog?: true;
  /**
   * The `backend` section (mode http) that mirrors this listener's slots for the ingress frontend, when a
   * route or the default backend of the ingress sends requests to this listener. Its slots are the same.
   */
  ingressBackend?: string;
}

/** What a running HAProxy was given: the output of renderHaproxy, then of each proxyEdits. Plain JSON data. */
export interface RenderedState {
  statsSocket?: string;
  /** Sorted by key. */
  listeners: ListenerState[];
  /** The ingress frontend as rendered, with its crt-list (names and hosts, no keys): any change is a reload. */
  ingress?: string;
  /** The bridge frontend as rendered: any change is a reload. */
  bridge?: string;
  /** Where the request log goes, when a section logs requests: a new address or tag is a reload. */
  requestLog?: RequestLogTarget;
}

/** How to get a running HAProxy from its applied state to a new configuration. */
export type ProxyEdits = { reload: true; text: string; state: RenderedState; files: ProxyFile[] } | { reload: false; commands: string[]; state: RenderedState };

/** Where a free slot points: nothing listens on port 1, and the slot is in maintenance anyway. */
const FREE_SLOT: SlotState = { address: "127.0.0.1", port: 1, weight: 1, admin: "maint" };

/** Room for twice the servers, at least 4, a power of two: a listener can double before it needs a reload. */
function slotCapacity(servers: number): number {
  let n = 4;
  while (n < 2 * servers) n *= 2;
  return n;
}

/**
 * The complete HAProxy 2.6 configuration of `config`, the state HAProxy holds once it runs it, and the
 * files the text names (certificates and their crt-list, for `opts.filesDir`). Run it master-worker
 * (`-W -S …`, not a `daemon`); the admin stats socket is at `opts.statsSocket` and exposes the listening
 * sockets (`expose-fd listeners`), so that at a reload the master hands them to the new worker (`-x`,
 * added by the master itself) rather than the new worker binding them anew.
 *
 * With `opts.previous` (the state of the HAProxy this text replaces), every server that was there keeps
 * its slot and a listener keeps its slot count unless it outgrew it; without, slots are handed out in id
 * order. Throws InvalidArgument for a socket path, address, port, weight or affinity timeout HAProxy
 * cannot take (addresses are IPv4: `set server … addr` takes no host names), and for an ingress HAProxy
 * cannot take (see checkProxyConfig).
 *
 * The ingress (config.ingress with a bind): one `frontend ingress` in mode http on its binds (HTTPS with
 * `ssl crt-list`), whose `use_backend` rules follow the routes' precedence, each Service listener it
 * sends to mirrored by a `backend <listener>:ingress` in mode http with the listener's own slots (so that
 * an HTTP route works whatever the Service port's mode, and endpoint churn edits both alike); requests no
 * route takes go to the default backend's, or to `ingress:no-route`, which answers 404. The frontend adds
 * X-Forwarded-For and X-Forwarded-Proto.
 *
 * The bridge frontend (config.bridge, traffic/bridge.ts): `frontend bridge` in mode tcp on its bind with
 * `accept-proxy`, one `use_backend <listener> if { dst <address> } { dst_port <port> }` per route (with
 * the PROXY protocol, dst is where the client connected: the Service's forwarder); a connection no route
 * takes is closed. A TCP frontend may hand connections to an HTTP listener: HAProxy upgrades them.
 */
export function renderHaproxy(config: ProxyConfig, opts: HaproxyOptions & { previous?: RenderedState }): { text: string; state: RenderedState; files: ProxyFile[] } {
  checkProxyConfig(config, opts);
  const before = new Map((opts.previous?.listeners ?? []).map((l) => [l.key, l.slots]));
  const named = namedListeners(config);
  const log = requestLogOf(config, opts);
  const ingress = renderIngress(config.ingress, named, opts.filesDir, log);
  const bridge = renderBridge(config.bridge, named);
  const listeners = named.map(({ listener, name }): ListenerState => {
    const slots = assignSlots(before.get(listener.key), listener.servers).map((s): SlotState => {
      if (s === undefined) return { ...FREE_SLOT };
      const base = { server: s.id, address: s.address, port: s.port };
      // HAProxy has no server keyword for drain; weight 0 does the same to new requests, and proxyEdits knows it.
      if (s.state === "drain") return { ...base, weight: 0, admin: "ready" };
      return { ...base, weight: s.weight, admin: s.state };
    });
    const ingressBackend = ingress?.backends.get(listener.key);
    return {
      key: listener.key,
      name,
      binds: listener.binds.map((b) => ({ ...b })),
      mode: listener.mode,
      ...(listener.affinity === undefined ? {} : { affinity: { ...listener.affinity } }),
      slots,
      ...(listener.requestLog === true ? { requestLog: true as const } : {}),
      ...(ingressBackend === undefined ? {} : { ingressBackend }),
    };
  });
  // The stick tables of affinity go through the local peer at a reload (see the module's comment).
  const peers = opts.peersSocket !== undefined && listeners.some((l) => l.affinity !== undefined);
  const lines = [
    `# The HAProxy configuration of coxswain node ${config.node.replace(/[^\x20-\x7e]/g, "?")}, rendered by operator/src/traffic/haproxy.ts.`,
    "global",
    ...(opts.statsSocket !== undefined ? [`    stats socket '${opts.statsSocket}' mode 600 level admin expose-fd listeners`] : []),
    ...(peers ? [`    localpeer ${LOCAL_PEER}`] : []),
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
    ...(peers ? ["", `peers ${LOCAL_PEER}`, `    peer ${LOCAL_PEER} unix@${opts.peersSocket}`] : []),
  ];
  for (const l of listeners) {
    lines.push("", `listen ${l.name}`, `    mode ${l.mode}`);
    if (l.mode === "http") lines.push("    option idle-close-on-response");
    if (l.requestLog && log !== undefined) lines.push(...logLines(log, l.mode));
    for (const b of l.binds) lines.push(`    bind ${b.address}:${b.port}`);
    lines.push("    balance roundrobin");
    if (l.affinity !== undefined) lines.push(`    stick-table type ip size 100k expire ${l.affinity.timeoutSeconds}s${peers ? ` peers ${LOCAL_PEER}` : ""}`, "    stick on src");
    lines.push(...serverLines(l.slots));
  }
  if (ingress !== undefined) {
    lines.push("", ...ingress.frontend);
    if (ingress.noRoute) lines.push("", `backend ${NO_ROUTE}`, "    mode http", "    http-request deny deny_status 404");
    for (const l of listeners) {
      if (l.ingressBackend === undefined) continue;
      lines.push("", `backend ${l.ingressBackend}`, "    mode http", "    balance roundrobin", ...serverLines(l.slots));
    }
  }
  if (bridge !== undefined) lines.push("", bridge);
  const state: RenderedState = {
    ...(opts.statsSocket !== undefined ? { statsSocket: opts.statsSocket } : {}),
    listeners,
    ...(ingress !== undefined ? { ingress: ingress.signature } : {}),
    ...(bridge !== undefined ? { bridge } : {}),
    ...(log !== undefined ? { requestLog: { ...log } } : {}),
  };
  return { text: lines.join("\n") + "\n", state, files: ingress?.files ?? [] };
}

/** The frontend's name, and the backend that answers 404 to requests no route takes and no default backend would. */
const INGRESS_FRONTEND = "ingress";
const NO_ROUTE = "ingress:no-route";

/** What renderIngress makes of a ProxyIngress. */
interface RenderedIngress {
  /** The `frontend` section's lines. */
  frontend: string[];
  /** Listener key → the name of the backend section that mirrors it for the frontend. */
  backends: Map<string, string>;
  /** Whether the frontend sends anything to NO_ROUTE. */
  noRoute: boolean;
  files: ProxyFile[];
  /** What the running HAProxy must equal for the frontend to need no reload: its lines and the crt-list. */
  signature: string;
}

/** A name for content: its sha256, shortened (128 bits: no two certificates meet). */
function contentName(content: string, ext: string): string {
  return `${createHash("sha256").update(content).digest("hex").slice(0, 32)}.${ext}`;
}

/**
 * A value as one word of a HAProxy configuration line: characters that mean something to HAProxy's
 * parser (space, quotes, '#', '$', '\\', control characters, …) as \xNN escapes, every other character
 * as itself. Values are ASCII (checkProxyConfig refuses anything else).
 */
function word(value: string): string {
  return value.replace(/[^A-Za-z0-9/._~:@!*+,;=&()%-]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
}

/**
 * The ingress frontend of `ingress` (undefined when it binds nothing): the host groups in route order,
 * each followed by a rule that sends the rest of that host's requests to the default backend, so that a
 * host's requests never reach the routes of a less specific host.
 */
function renderIngress(ingress: ProxyIngress | undefined, named: readonly { listener: ProxyListener; name: string }[], filesDir: string | undefined, log: RequestLogTarget | undefined): RenderedIngress | undefined {
  if (ingress === undefined || ingress.http.length + ingress.https.length === 0) return undefined;
  const nameOf = new Map(named.map((n) => [n.listener.key, n.name]));
  const backends = new Map<string, string>();
  const backendOf = (key: string): string => {
    const name = `${nameOf.get(key)!}:ingress`;
    backends.set(key, name);
    return name;
  };
  const fallback = ingress.defaultBackend !== undefined ? backendOf(ingress.defaultBackend) : NO_ROUTE;

  const files: ProxyFile[] = [];
  const binds = ingress.http.map((b) => `    bind ${b.address}:${b.port}`);
  let crtList = "";
  if (ingress.https.length > 0) {
    const pems = new Map<string, string>();
    for (const c of ingress.certificates) {
      const name = contentName(c.pem, "pem");
      if (!pems.has(name)) files.push({ name, content: c.pem });
      pems.set(name, c.pem);
      crtList += `${filesDir!}/${name}${c.hosts.map((h) => ` ${h}`).join("")}\n`;
    }
    const listName = contentName(crtList, "crt-list");
    files.push({ name: listName, content: crtList });
    for (const b of ingress.https) binds.push(`    bind ${b.address}:${b.port} ssl crt-list ${word(`${filesDir!}/${listName}`)}`);
  }

  const acls: string[] = [];
  const rules: string[] = [];
  const hostAcl = new Map<string, string>();
  const pathAcl = new Map<string, string>();
  const hostCondition = (host: string | undefined): string => {
    if (host === undefined) return "";
    let acl = hostAcl.get(host);
    if (acl === undefined) {
      acl = `host_${hostAcl.size + 1}`;
      hostAcl.set(host, acl);
      // A wildcard matches one label: the host without its first label is the wildcard's domain.
      acls.push(host.startsWith("*.") ? `    acl ${acl} var(txn.domain) -m str ${word(host.slice(2))}` : `    acl ${acl} var(txn.host) -m str ${word(host)}`);
    }
    return ` ${acl}`;
  };
  const pathCondition = (match: "Exact" | "Prefix", path: string): string => {
    if (match === "Prefix" && path === "") return "";
    const id = `${match} ${path}`;
    let acl = pathAcl.get(id);
    if (acl === undefined) {
      acl = `path_${pathAcl.size + 1}`;
      pathAcl.set(id, acl);
      acls.push(`    acl ${acl} path -m str ${word(path)}`);
      // Whole path elements: /foo matches /foo and /foo/…, never /foobar.
      if (match === "Prefix") acls.push(`    acl ${acl} path -m beg ${word(`${path}/`)}`);
    }
    return ` ${acl}`;
  };
  let group: string | undefined;
  const closeGroup = (): void => {
    if (group !== undefined) rules.push(`    use_backend ${fallback} if${group}`);
  };
  for (const r of ingress.routes) {
    const host = hostCondition(r.host);
    if (host !== group) {
      closeGroup();
      group = host === "" ? undefined : host;
    }
    const condition = `${host}${pathCondition(r.match, r.path)}`;
    rules.push(condition === "" ? `    use_backend ${backendOf(r.backend)}` : `    use_backend ${backendOf(r.backend)} if${condition}`);
  }
  closeGroup();

  // HAProxy logs a request on its frontend: the ingress's requests are logged when a listener it sends to logs them.
  const logged = log !== undefined && named.some(({ listener }) => listener.requestLog === true && backends.has(listener.key));
  const frontend = [
    `frontend ${INGRESS_FRONTEND}`,
    "    mode http",
    "    option idle-close-on-response",
    ...(logged ? logLines(log, "http") : []),
    "    option forwardfor",
    "    timeout http-request 10s",
    ...binds,
    // The Host header without its port, lower-cased; and without its first label, for wildcard hosts.
    "    http-request set-var(txn.host) req.hdr(host),field(1,:),lower",
    "    http-request set-var(txn.domain) var(txn.host),field(2,.,0)",
    "    http-request set-header X-Forwarded-Proto https if { ssl_fc }",
    "    http-request set-header X-Forwarded-Proto http if !{ ssl_fc }",
    ...acls,
    ...rules,
    `    default_backend ${fallback}`,
  ];
  const noRoute = fallback === NO_ROUTE;
  return { frontend, backends, noRoute, files, signature: `${frontend.join("\n")}\n${crtList}` };
}

/** The bridge frontend's name. */
const BRIDGE_FRONTEND = "bridge";

/** The `frontend bridge` section of `bridge` (see renderHaproxy), as one text; undefined without a bridge. */
function renderBridge(bridge: ProxyBridge | undefined, named: readonly { listener: ProxyListener; name: string }[]): string | undefined {
  if (bridge === undefined) return undefined;
  const nameOf = new Map(named.map((n) => [n.listener.key, n.name]));
  return [
    `frontend ${BRIDGE_FRONTEND}`,
    "    mode tcp",
    `    bind ${bridge.bind.address}:${bridge.bind.port} accept-proxy`,
    ...bridge.routes.map((r) => `    use_backend ${nameOf.get(r.backend)!} if { dst ${r.address} } { dst_port ${r.port} }`),
  ].join("\n");
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
 * A listener's ingress backend gets each command right after the listener. A change of the ingress
 * (binds, routes, default backend, certificates, which listeners it sends to) or of the bridge frontend is
 * a reload.
 * Throws as renderHaproxy does.
 */
export function proxyEdits(applied: RenderedState | undefined, next: ProxyConfig, opts: HaproxyOptions): ProxyEdits {
  checkProxyConfig(next, opts);
  const named = namedListeners(next);
  const log = requestLogOf(next, opts);
  const ingress = renderIngress(next.ingress, named, opts.filesDir, log);
  if (applied === undefined || applied.bridge !== renderBridge(next.bridge, named) || needsReload(applied, named, ingress, log, opts)) return { reload: true, ...renderHaproxy(next, { ...opts, previous: applied }) };
  const edits: { phase: number; commands: string[] }[] = [];
  const listeners = named.map(({ listener }, i): ListenerState => {
    const was = applied.listeners[i]!;
    // The ingress backend mirrors the listener's slots: every edit is made to both.
    const sections = was.ingressBackend === undefined ? [was.name] : [was.name, was.ingressBackend];
    const slots = assignSlots(was.slots, listener.servers).map((want, slot) => {
      const edit = slotEdit(was.slots[slot]!, want);
      edits.push({ phase: edit.phase, commands: edit.steps.flatMap((step) => sections.map((section) => `set server ${section}/s${slot + 1} ${step}`)) });
      return edit.next;
    });
    return { ...was, slots };
  });
  const commands = edits.sort((a, b) => a.phase - b.phase).flatMap((e) => e.commands);
  const state: RenderedState = {
    ...(applied.statsSocket !== undefined ? { statsSocket: applied.statsSocket } : {}),
    listeners,
    ...(applied.ingress !== undefined ? { ingress: applied.ingress } : {}),
    ...(applied.bridge !== undefined ? { bridge: applied.bridge } : {}),
    ...(applied.requestLog !== undefined ? { requestLog: { ...applied.requestLog } } : {}),
  };
  return { reload: false, commands, state };
}

/** Whether `next` (with its ingress and request log as rendered) differs from `applied` in anything the runtime API cannot change. */
function needsReload(applied: RenderedState, next: readonly { listener: ProxyListener; name: string }[], ingress: RenderedIngress | undefined, log: RequestLogTarget | undefined, opts: HaproxyOptions): boolean {
  if (applied.statsSocket !== opts.statsSocket || applied.listeners.length !== next.length || applied.ingress !== ingress?.signature) return true;
  if (applied.requestLog?.address !== log?.address || applied.requestLog?.tag !== log?.tag) return true;
  return next.some(({ listener: l, name }, i) => {
    const a = applied.listeners[i]!;
    return (
      a.key !== l.key ||
      a.name !== name ||
      (a.requestLog === true) !== (l.requestLog === true) ||
      a.ingressBackend !== ingress?.backends.get(l.key) ||
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
  for (const [j, s] of newcomers.sort((a, b) => compareText(a.id, b.id)).entries()) out[free[j]!] = s;
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
      const name = /^[a-z0-9-]+\/[a-z0-9-]+:[0-9]+$/.test(key) ? key.replace("/", ".") : `${key.replace(/[^A-Za-z0-9_.:-]/g, "_")}-${hash32(key).toString(16).padStart(8, "0")}`;
      const other = taken.get(name);
      if (other !== undefined) {
        throw new CoxError("InvalidArgument", `listeners ${other} and ${key} would share the HAProxy name ${name}`, { details: { listeners: [other, key], name } });
      }
      taken.set(name, key);
      return { listener, name };
    });
}

/** The request log a configuration sends to: the options' when a listener logs its requests, none otherwise. */
function requestLogOf(config: ProxyConfig, opts: HaproxyOptions): RequestLogTarget | undefined {
  return config.listeners.some((l) => l.requestLog === true) ? opts.requestLog : undefined;
}

/** First word of a request-log line: the version of its format. */
const LOG_FORMAT_VERSION = "cx1";

/**
 * The lines that make a section log its requests: one line each, when it ends, in `format raw` (the text
 * alone, no syslog header), as parseRequestLine reads them back:
 * `cx1 <tag> h|t <backend> <server> <server ip:port> <status> <Tr> <Ta> <termination> <retries>`; TCP
 * sections log "-" for status and Tr, and the whole connection time (%Tt) for Ta.
 */
function logLines(log: RequestLogTarget, mode: "http" | "tcp"): string[] {
  const fields = mode === "http" ? "h %b %s %si:%sp %ST %Tr %Ta %ts %rc" : "t %b %s %si:%sp - - %Tt %ts %rc";
  return [`    log ${log.address} format raw daemon`, `    log-format "${LOG_FORMAT_VERSION} ${log.tag} ${fields}"`];
}

/** An integer field of a request-log line: HAProxy writes -1 (or "-") where it has no value. */
function logNumber(field: string): number | undefined {
  if (!/^-?\d+$/.test(field)) return undefined;
  const n = Number(field);
  return n < 0 ? undefined : n;
}

/**
 * The record of one request-log line (see logLines) that carries `tag`, received at `at` (epoch ms);
 * undefined for any other line (another tag, another program's output, a malformed or cut line). Pure.
 */
export function parseRequestLine(line: string, tag: string, at: number): RequestRecord | undefined {
  const f = line.trimEnd().split(" ");
  if (f.length !== 11 || f[0] !== LOG_FORMAT_VERSION || f[1] !== tag || (f[2] !== "h" && f[2] !== "t")) return undefined;
  const [, , kind, backend, server, address, status, tr, ta, termination, rc] = f as [string, string, string, string, string, string, string, string, string, string, string];
  const totalMs = logNumber(ta);
  const retries = /^\+?\d+$/.exec(rc) ? Number(rc.replace("+", "")) : undefined;
  if (backend === "" || totalMs === undefined || retries === undefined || termination.length !== 2) return undefined;
  const mode = kind === "h" ? "http" : "tcp";
  const code = mode === "http" ? logNumber(status) : undefined;
  const responseMs = mode === "http" ? logNumber(tr) : undefined;
  const chosen = server !== "<NOSRV>" && server !== "-" && server !== "";
  return {
    at,
    mode,
    backend,
    ...(chosen ? { server } : {}),
    ...(chosen && /^\d+\.\d+\.\d+\.\d+:\d+$/.test(address) ? { serverAddress: address } : {}),
    ...(code !== undefined && code > 0 ? { status: code } : {}),
    ...(responseMs !== undefined ? { responseMs } : {}),
    totalMs,
    termination,
    retries,
    redispatched: rc.startsWith("+"),
  };
}

/**
 * Throws InvalidArgument for anything in `config` HAProxy would refuse or read differently with these
 * options (renderHaproxy and proxyEdits check it first), e.g. the ingress binding an address and port a
 * Service listener binds, or certificates without a files directory; returns otherwise.
 */
export function checkProxyConfig(config: ProxyConfig, opts: HaproxyOptions): void {
  const bad = (what: string, details: Record<string, unknown>): never => {
    throw new CoxError("InvalidArgument", what, { details });
  };
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters cannot be written in HAProxy's configuration
  if (opts.statsSocket !== undefined && (opts.statsSocket === "" || /['\x00-\x1f\x7f]/.test(opts.statsSocket)))
    bad(`stats socket path ${JSON.stringify(opts.statsSocket)} cannot be written in a configuration`, { statsSocket: opts.statsSocket });
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters cannot be written in HAProxy's configuration
  if (opts.peersSocket !== undefined && !/^\/[^\s'"\x00-\x1f\x7f]*$/.test(opts.peersSocket))
    bad(`peers socket path ${JSON.stringify(opts.peersSocket)} is not an absolute path a configuration can name`, { peersSocket: opts.peersSocket });
  const log = opts.requestLog;
  if (log !== undefined) {
    const m = /^(\d+\.\d+\.\d+\.\d+):(\d+)$/.exec(log.address);
    const udp = m !== null && parseIpv4(m[1]!) !== undefined && Number(m[2]) >= 1 && Number(m[2]) <= 65535;
    if (log.address !== "stdout" && !udp) bad(`request log address ${JSON.stringify(log.address)}: expected "stdout" or an IPv4 address and a port`, { address: log.address });
    if (!/^[A-Za-z0-9]{8,64}$/.test(log.tag)) bad(`request log tag ${JSON.stringify(log.tag)}: expected 8 to 64 letters and digits`, { tag: log.tag });
  } else {
    const logging = config.listeners.find((l) => l.requestLog === true);
    if (logging !== undefined) bad(`${logging.key} logs its requests, but the options name no request log to send them to`, { listener: logging.key });
  }
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
  const keys = new Set(config.listeners.map((l) => l.key));
  const bridge = config.bridge;
  if (bridge !== undefined) {
    endpoint("the bridge frontend", bridge.bind.address, bridge.bind.port);
    const at = `${bridge.bind.address}:${bridge.bind.port}`;
    const other = boundBy.get(at);
    if (other !== undefined) bad(`${other} and the bridge frontend both listen on ${at}`, { at, listeners: [other, "bridge"] });
    boundBy.set(at, "the bridge frontend");
    const routed = new Set<string>();
    for (const r of bridge.routes) {
      endpoint("a bridge route", r.address, r.port);
      if (!keys.has(r.backend)) bad(`the bridge frontend routes to ${r.backend}, which is not a listener of this configuration`, { backend: r.backend });
      if (routed.has(`${r.address}:${r.port}`)) bad(`the bridge frontend routes ${r.address}:${r.port} twice`, { route: `${r.address}:${r.port}` });
      routed.add(`${r.address}:${r.port}`);
    }
  }
  const ingress = config.ingress;
  if (ingress === undefined) return;
  for (const b of [...ingress.http, ...ingress.https]) {
    endpoint("the ingress", b.address, b.port);
    const at = `${b.address}:${b.port}`;
    const other = boundBy.get(at);
    if (other !== undefined) bad(`${other} and the ingress both listen on ${at}`, { at, listeners: [other, "ingress"] });
    boundBy.set(at, "the ingress");
  }
  const listener = (key: string): void => {
    if (!keys.has(key)) bad(`the ingress routes to ${key}, which is not a listener of this configuration`, { backend: key });
  };
  if (ingress.defaultBackend !== undefined) listener(ingress.defaultBackend);
  for (const r of ingress.routes) {
    listener(r.backend);
    if (r.host !== undefined && !INGRESS_HOST.test(r.host)) bad(`the ingress route host ${JSON.stringify(r.host)} is not a DNS name or "*." and one`, { host: r.host });
    // Printable ASCII only; Prefix paths come without their trailing "/" ("" for every path).
    const path = r.match === "Exact" ? /^\/[\x21-\x7e]*$/ : /^(\/[\x21-\x7e]*[\x21-\x2e\x30-\x7e])?$/;
    if (!path.test(r.path)) bad(`the ingress route path ${JSON.stringify(r.path)} cannot be a ${r.match} path`, { path: r.path });
  }
  if (ingress.https.length > 0) {
    if (ingress.certificates.length === 0) bad("the ingress has an HTTPS bind but no certificate", {});
    if (opts.filesDir === undefined || !/^\/[^\s'"#$\\]*$/.test(opts.filesDir))
      bad(`the files directory ${JSON.stringify(opts.filesDir)} cannot hold the ingress's certificates: expected an absolute path without whitespace, quotes, '#', '$' or '\\'`, { filesDir: opts.filesDir });
    for (const c of ingress.certificates) {
      for (const h of c.hosts) if (!INGRESS_HOST.test(h)) bad(`the certificate of ${c.secret}: host ${JSON.stringify(h)} is not a DNS name or "*." and one`, { host: h });
      if (!c.pem.includes("-----BEGIN")) bad(`the certificate of ${c.secret} is not PEM`, { secret: c.secret });
    }
  }
}

/** An Ingress host as routes and certificates name it: a DNS name, or "*." and one. */
const INGRESS_HOST = /^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
