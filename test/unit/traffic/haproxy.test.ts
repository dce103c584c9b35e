import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { proxyEdits, renderHaproxy, type ProxyEdits, type RenderedState, type SlotState } from "../../../operator/src/traffic/haproxy.js";
import type { ProxyConfig, ProxyListener, ProxyServer } from "../../../operator/src/traffic/types.js";
import { codeOf } from "../../support/errors.js";

const SOCKET = "/run/coxswain/haproxy.sock";
const opts = { statsSocket: SOCKET };

function server(id: string, over: Partial<ProxyServer> = {}): ProxyServer {
  const n = Number(/[0-9]+/.exec(id)?.[0] ?? 1);
  return { id, address: `10.0.0.${n}`, port: 31000 + n, weight: 1, state: "ready", ...over };
}

function listener(key: string, servers: ProxyServer[] = [], over: Partial<ProxyListener> = {}): ProxyListener {
  return { key, binds: [{ address: "127.77.0.10", port: 80 }], mode: "tcp", servers, ...over };
}

function config(...listeners: ProxyListener[]): ProxyConfig {
  return { node: "n1", listeners };
}

/** The lines of the `listen` section named `name`, without indentation. */
function section(text: string, name: string): string[] {
  const blocks = text.split("\n\n");
  const block = blocks.find((b) => b.startsWith(`listen ${name}\n`));
  if (block === undefined) throw new Error(`no section ${name} in:\n${text}`);
  return block
    .trimEnd()
    .split("\n")
    .slice(1)
    .map((l) => l.trim());
}

/** The commands of edits that need no reload (fails the test otherwise). */
function commands(edits: ProxyEdits): string[] {
  if (edits.reload) throw new Error("expected runtime edits, got a reload");
  return edits.commands;
}

describe("renderHaproxy", () => {
  it("renders a complete configuration with no listeners: the admin socket, the hard stop, no shared binds, the defaults", () => {
    expect(renderHaproxy(config(), opts).text).toBe(
      [
        "# The HAProxy configuration of coxswain node n1, rendered by operator/src/traffic/haproxy.ts.",
        "global",
        `    stats socket '${SOCKET}' mode 600 level admin expose-fd listeners`,
        "    hard-stop-after 30s",
        "    noreuseport",
        "",
        "defaults",
        "    mode tcp",
        "    timeout connect 5s",
        "    timeout client 60s",
        "    timeout server 60s",
        "    option redispatch",
        "    retries 2",
        "",
      ].join("\n"),
    );
  });

  const sections: { name: string; listener: ProxyListener; section: string; want: string[] }[] = [
    {
      name: "renders a TCP listener with its servers in slots and the free slots in maintenance",
      listener: listener("default/db:5432", [server("db-1"), server("db-2")]),
      section: "default.db:5432",
      want: ["mode tcp", "bind 127.77.0.10:80", "balance roundrobin", "server s1 10.0.0.1:31001 weight 1", "server s2 10.0.0.2:31002 weight 1", "server-template s 3-4 127.0.0.1:1 disabled"],
    },
    {
      name: "renders an HTTP listener that closes idle client connections when its worker leaves",
      listener: listener("default/web:80", [], { mode: "http" }),
      section: "default.web:80",
      want: ["mode http", "option idle-close-on-response", "bind 127.77.0.10:80", "balance roundrobin", "server-template s 1-4 127.0.0.1:1 disabled"],
    },
    {
      name: "renders every bind of a NodePort listener",
      listener: listener("default/web:80", [], {
        binds: [
          { address: "10.0.0.1", port: 30080 },
          { address: "127.77.0.10", port: 80 },
        ],
      }),
      section: "default.web:80",
      want: ["mode tcp", "bind 10.0.0.1:30080", "bind 127.77.0.10:80", "balance roundrobin", "server-template s 1-4 127.0.0.1:1 disabled"],
    },
    {
      name: "keeps a client on its server for the affinity timeout with a stick table on the source address",
      listener: listener("default/web:80", [server("w-1")], { affinity: { timeoutSeconds: 600 } }),
      section: "default.web:80",
      want: ["mode tcp", "bind 127.77.0.10:80", "balance roundrobin", "stick-table type ip size 100k expire 600s", "stick on src", "server s1 10.0.0.1:31001 weight 1", "server-template s 2-4 127.0.0.1:1 disabled"],
    },
    {
      name: "renders a draining server with weight 0 and a server in maintenance disabled",
      listener: listener("default/web:80", [server("w-1", { state: "drain", weight: 5 }), server("w-2", { state: "maint", weight: 7 }), server("w-3", { weight: 256 })]),
      section: "default.web:80",
      want: [
        "mode tcp",
        "bind 127.77.0.10:80",
        "balance roundrobin",
        "server s1 10.0.0.1:31001 weight 0",
        "server s2 10.0.0.2:31002 weight 7 disabled",
        "server s3 10.0.0.3:31003 weight 256",
        "server-template s 4-8 127.0.0.1:1 disabled",
      ],
    },
    {
      name: "names a listener whose key has characters HAProxy refuses with them replaced and a hash of the key",
      listener: listener("Odd NS/wéb+1:80"),
      section: "Odd_NS_w_b_1:80-ae627031",
      want: ["mode tcp", "bind 127.77.0.10:80", "balance roundrobin", "server-template s 1-4 127.0.0.1:1 disabled"],
    },
  ];
  it.each(sections)("$name", ({ listener: l, section: name, want }) => {
    expect(section(renderHaproxy(config(l), opts).text, name)).toEqual(want);
  });

  it.each([
    { servers: 0, slots: 4 },
    { servers: 1, slots: 4 },
    { servers: 2, slots: 4 },
    { servers: 3, slots: 8 },
    { servers: 4, slots: 8 },
    { servers: 5, slots: 16 },
    { servers: 100, slots: 256 },
  ])("gives $servers servers $slots slots: room for twice as many, at least 4, a power of two", ({ servers, slots }) => {
    const l = listener(
      "default/web:80",
      Array.from({ length: servers }, (_, i) => server(`w-${i + 1}`, { address: "10.0.0.1" })),
    );
    expect(renderHaproxy(config(l), opts).state.listeners[0]!.slots).toHaveLength(slots);
  });

  it("gives two keys that read the same once sanitized two names", () => {
    const { state } = renderHaproxy(config(listener("a/b_c:80"), listener("a_b/c:80", [], { binds: [{ address: "127.77.0.11", port: 80 }] })), opts);
    const [x, y] = state.listeners.map((l) => l.name);
    expect(x).not.toBe(y);
  });

  it("keeps every server in its slot, and the slot count, when rendered after a state", () => {
    const first = renderHaproxy(config(listener("default/web:80", [server("w-1"), server("w-2"), server("w-3")])), opts).state;
    const { state } = renderHaproxy(config(listener("default/web:80", [server("w-0"), server("w-3")], { mode: "http" })), { ...opts, previous: first });
    // w-0 takes the first slot that was free before, not one just vacated (the same rule as proxyEdits).
    expect(state.listeners[0]!.slots.map((s) => s.server ?? "-")).toEqual(["-", "-", "w-3", "w-0", "-", "-", "-", "-"]);
  });

  it("records what HAProxy holds after reading the text", () => {
    const { state } = renderHaproxy(config(listener("default/web:80", [server("w-1", { state: "drain", weight: 3 }), server("w-2", { state: "maint" })])), opts);
    expect(state).toEqual({
      statsSocket: SOCKET,
      listeners: [
        {
          key: "default/web:80",
          name: "default.web:80",
          binds: [{ address: "127.77.0.10", port: 80 }],
          mode: "tcp",
          slots: [
            { server: "w-1", address: "10.0.0.1", port: 31001, weight: 0, admin: "ready" },
            { server: "w-2", address: "10.0.0.2", port: 31002, weight: 1, admin: "maint" },
            { address: "127.0.0.1", port: 1, weight: 1, admin: "maint" },
            { address: "127.0.0.1", port: 1, weight: 1, admin: "maint" },
          ],
        },
      ],
    });
  });

  it("puts ClientIP stick tables in a peers section on the peers socket, and only when a listener has affinity", () => {
    const sticky = listener("a/web:80", [server("w-1")], { affinity: { timeoutSeconds: 600 } });
    const withPeers = renderHaproxy(config(sticky, listener("a/db:5432", [], { binds: [{ address: "127.77.0.11", port: 5432 }] })), { ...opts, peersSocket: "/run/cx/peers.sock" }).text;
    expect(withPeers).toContain("\n    localpeer coxswain\n");
    expect(withPeers).toContain("\npeers coxswain\n    peer coxswain unix@/run/cx/peers.sock\n");
    expect(section(withPeers, "a.web:80")).toContain("stick-table type ip size 100k expire 600s peers coxswain");
    expect(section(withPeers, "a.db:5432").some((l) => l.startsWith("stick"))).toBe(false);
    const noAffinity = renderHaproxy(config(listener("a/web:80", [server("w-1")])), { ...opts, peersSocket: "/run/cx/peers.sock" }).text;
    expect(noAffinity).not.toMatch(/peer/);
    const noSocket = renderHaproxy(config(sticky), opts).text;
    expect(noSocket).not.toMatch(/peer/);
    expect(section(noSocket, "a.web:80")).toContain("stick-table type ip size 100k expire 600s");
  });

  it.each([
    { name: "refuses a relative peers socket path", peersSocket: "run/peers.sock" },
    { name: "refuses a peers socket path with a space", peersSocket: "/run/my peers.sock" },
    { name: "refuses a peers socket path with a quote", peersSocket: "/run/it's.sock" },
  ])("$name", ({ peersSocket }) => {
    expect(codeOf(() => renderHaproxy(config(), { ...opts, peersSocket }))).toBe("InvalidArgument");
  });

  const bad: { name: string; config: ProxyConfig; statsSocket?: string }[] = [
    { name: "refuses a stats socket path with a quote", config: config(), statsSocket: "/run/it's.sock" },
    { name: "refuses a stats socket path with a line break", config: config(), statsSocket: "/run/a\nglobal" },
    { name: "refuses an empty stats socket path", config: config(), statsSocket: "" },
    { name: "refuses a host name as a server address", config: config(listener("a/b:80", [server("w-1", { address: "node-1.example" })])) },
    { name: "refuses an IPv6 bind address", config: config(listener("a/b:80", [], { binds: [{ address: "::1", port: 80 }] })) },
    { name: "refuses port 0", config: config(listener("a/b:80", [server("w-1", { port: 0 })])) },
    { name: "refuses a weight above 256", config: config(listener("a/b:80", [server("w-1", { weight: 300 })])) },
    { name: "refuses an affinity timeout of 0", config: config(listener("a/b:80", [], { affinity: { timeoutSeconds: 0 } })) },
    { name: "refuses a server id given twice in a listener", config: config(listener("a/b:80", [server("w-1"), server("w-1")])) },
    { name: "refuses a listener key given twice", config: config(listener("a/b:80"), listener("a/b:80", [], { binds: [{ address: "127.77.0.11", port: 80 }] })) },
    { name: "refuses two listeners on the same address and port", config: config(listener("a/b:80"), listener("a/c:80")) },
  ];
  it.each(bad)("$name", ({ config: c, statsSocket }) => {
    expect(codeOf(() => renderHaproxy(c, { statsSocket: statsSocket ?? SOCKET }))).toBe("InvalidArgument");
    expect(codeOf(() => proxyEdits(undefined, c, { statsSocket: statsSocket ?? SOCKET }))).toBe("InvalidArgument");
  });
});

describe("proxyEdits", () => {
  const WEB = "default/web:80";
  const applied = (...servers: ProxyServer[]): RenderedState => renderHaproxy(config(listener(WEB, servers)), opts).state;
  const next = (...servers: ProxyServer[]): ProxyConfig => config(listener(WEB, servers));
  /** Four servers in four slots: rendered with two, then two added at run time. */
  const full = (): RenderedState => proxyEdits(applied(server("w-1"), server("w-2")), next(...["w-1", "w-2", "w-3", "w-4"].map((id) => server(id))), opts).state;

  it("renders the whole text to start a proxy that runs nothing yet", () => {
    const edits = proxyEdits(undefined, next(server("w-1")), opts);
    expect(edits.reload).toBe(true);
    expect(edits).toEqual({ reload: true, ...renderHaproxy(next(server("w-1")), opts) });
  });

  const runtime: { name: string; from: RenderedState; to: ProxyConfig; want: string[] }[] = [
    { name: "needs nothing when nothing changed", from: applied(server("w-1")), to: next(server("w-1")), want: [] },
    {
      name: "puts a new server in a free slot: its address, then ready",
      from: applied(server("w-1")),
      to: next(server("w-1"), server("w-2")),
      want: ["set server default.web:80/s2 addr 10.0.0.2 port 31002", "set server default.web:80/s2 state ready"],
    },
    {
      name: "gives a new server its weight before it takes requests",
      from: applied(),
      to: next(server("w-2", { weight: 9 })),
      want: ["set server default.web:80/s1 addr 10.0.0.2 port 31002", "set server default.web:80/s1 weight 9", "set server default.web:80/s1 state ready"],
    },
    { name: "takes a removed server out", from: applied(server("w-1"), server("w-2")), to: next(server("w-2")), want: ["set server default.web:80/s1 state maint"] },
    { name: "drains a leaving server", from: applied(server("w-1")), to: next(server("w-1", { state: "drain" })), want: ["set server default.web:80/s1 state drain"] },
    {
      name: "takes a server rendered draining (weight 0) back with its weight",
      from: applied(server("w-1", { state: "drain", weight: 4 })),
      to: next(server("w-1", { weight: 4 })),
      want: ["set server default.web:80/s1 weight 4"],
    },
    {
      name: "needs nothing for a server rendered draining that still drains",
      from: applied(server("w-1", { state: "drain" })),
      to: next(server("w-1", { state: "drain", weight: 9 })),
      want: [],
    },
    { name: "changes a server's weight", from: applied(server("w-1")), to: next(server("w-1", { weight: 128 })), want: ["set server default.web:80/s1 weight 128"] },
    { name: "moves a server whose address changed", from: applied(server("w-1")), to: next(server("w-1", { address: "10.0.9.9" })), want: ["set server default.web:80/s1 addr 10.0.9.9 port 31001"] },
    {
      name: "puts a server in maintenance and back",
      from: applied(server("w-1", { state: "maint" })),
      to: next(server("w-1")),
      want: ["set server default.web:80/s1 state ready"],
    },
    {
      name: "makes the new server ready before it drains the one it replaces",
      from: applied(server("w-1")),
      to: next(server("w-1", { state: "drain" }), server("w-2")),
      want: ["set server default.web:80/s2 addr 10.0.0.2 port 31002", "set server default.web:80/s2 state ready", "set server default.web:80/s1 state drain"],
    },
    {
      name: "gives a newcomer a slot that was free before one just vacated",
      from: applied(server("w-1"), server("w-2")),
      to: next(server("w-2"), server("w-3")),
      want: ["set server default.web:80/s3 addr 10.0.0.3 port 31003", "set server default.web:80/s3 state ready", "set server default.web:80/s1 state maint"],
    },
    {
      name: "hands a vacated slot over when every other slot is taken: out, new address, in",
      from: full(),
      to: next(server("w-2"), server("w-3"), server("w-4"), server("w-5")),
      want: ["set server default.web:80/s1 state maint", "set server default.web:80/s1 addr 10.0.0.5 port 31005", "set server default.web:80/s1 state ready"],
    },
  ];
  it.each(runtime)("$name", ({ from, to, want }) => {
    expect(commands(proxyEdits(from, to, opts))).toEqual(want);
  });

  it("orders commands by what they do, then listener key, then slot", () => {
    const from = renderHaproxy(config(listener("a/x:80", [server("x-1")]), listener("b/y:80", [server("y-1")], { binds: [{ address: "127.77.0.11", port: 80 }] })), opts).state;
    const to = config(listener("a/x:80", [server("x-2")]), listener("b/y:80", [server("y-1", { state: "drain" }), server("y-2")], { binds: [{ address: "127.77.0.11", port: 80 }] }));
    expect(commands(proxyEdits(from, to, opts))).toEqual([
      "set server a.x:80/s2 addr 10.0.0.2 port 31002",
      "set server a.x:80/s2 state ready",
      "set server b.y:80/s2 addr 10.0.0.2 port 31002",
      "set server b.y:80/s2 state ready",
      "set server b.y:80/s1 state drain",
      "set server a.x:80/s1 state maint",
    ]);
  });

  const reloads: { name: string; from: RenderedState; to: ProxyConfig; statsSocket?: string }[] = [
    { name: "reloads for a new listener", from: applied(), to: config(listener(WEB), listener("default/api:80", [], { binds: [{ address: "127.77.0.11", port: 80 }] })) },
    { name: "reloads for a removed listener", from: applied(), to: config() },
    {
      name: "reloads for a new bind",
      from: applied(),
      to: config(
        listener(WEB, [], {
          binds: [
            { address: "10.0.0.1", port: 30080 },
            { address: "127.77.0.10", port: 80 },
          ],
        }),
      ),
    },
    { name: "reloads for a new mode", from: applied(), to: config(listener(WEB, [], { mode: "http" })) },
    { name: "reloads for new affinity", from: applied(), to: config(listener(WEB, [], { affinity: { timeoutSeconds: 60 } })) },
    {
      name: "reloads for a new affinity timeout",
      from: renderHaproxy(config(listener(WEB, [], { affinity: { timeoutSeconds: 60 } })), opts).state,
      to: config(listener(WEB, [], { affinity: { timeoutSeconds: 61 } })),
    },
    { name: "reloads for a new stats socket", from: applied(), to: next(), statsSocket: "/run/other.sock" },
    { name: "reloads when a listener outgrows its slots", from: applied(), to: next(...["w-1", "w-2", "w-3", "w-4", "w-5"].map((id) => server(id))) },
  ];
  it.each(reloads)("$name", ({ from, to, statsSocket }) => {
    expect(proxyEdits(from, to, { statsSocket: statsSocket ?? SOCKET }).reload).toBe(true);
  });

  it("keeps servers in their slots across a reload and grows the slots", () => {
    const from = applied(server("w-1"), server("w-2"));
    const edits = proxyEdits(proxyEdits(from, next(server("w-2")), opts).state, next(...["w-2", "w-3", "w-4", "w-5", "w-6"].map((id) => server(id))), opts);
    expect(edits.reload).toBe(true);
    expect(edits.state.listeners[0]!.slots.map((s) => s.server ?? "-")).toEqual(["w-3", "w-2", "w-4", "w-5", "w-6", "-", "-", "-", "-", "-", "-", "-", "-", "-", "-", "-"]);
  });
});

// ---------------------------------------------------------------------------------------------------------
// Property: a HAProxy simulated from the commands alone ends where the state says, and the state means
// the configuration.

/** Applies runtime-API commands to a state the way HAProxy does to its servers. */
function simulate(state: RenderedState, cmds: readonly string[]): RenderedState {
  const out: RenderedState = structuredClone(state);
  for (const cmd of cmds) {
    const m = /^set server (\S+)\/s([0-9]+) (addr (\S+) port ([0-9]+)|weight ([0-9]+)|state (ready|drain|maint))$/.exec(cmd);
    if (!m) throw new Error(`not a command HAProxy takes here: ${cmd}`);
    const slot = out.listeners.find((l) => l.name === m[1])?.slots[Number(m[2]) - 1];
    if (slot === undefined) throw new Error(`no such server: ${cmd}`);
    if (m[4] !== undefined) Object.assign(slot, { address: m[4], port: Number(m[5]) });
    if (m[6] !== undefined) slot.weight = Number(m[6]);
    if (m[7] !== undefined) slot.admin = m[7] as SlotState["admin"];
  }
  return out;
}

/** The state without the bookkeeping of which server a slot is for: what HAProxy itself would show. */
function asHaproxySees(state: RenderedState): unknown {
  return state.listeners.map((l) => ({ ...l, slots: l.slots.map(({ server: _id, ...rest }) => rest) }));
}

/** Whether the slots carry exactly the servers, each with the traffic it should get. */
function means(state: RenderedState, config: ProxyConfig): void {
  expect(state.listeners.map((l) => l.key)).toEqual(config.listeners.map((l) => l.key));
  config.listeners.forEach((l, i) => {
    const slots = state.listeners[i]!.slots;
    for (const s of l.servers) {
      const held = slots.filter((x) => x.server === s.id);
      expect(held).toHaveLength(1);
      const slot = held[0]!;
      expect([slot.address, slot.port]).toEqual([s.address, s.port]);
      if (s.state === "ready") expect([slot.admin, slot.weight]).toEqual(["ready", s.weight]);
      if (s.state === "drain") expect(slot.admin === "drain" || (slot.admin === "ready" && slot.weight === 0)).toBe(true);
      if (s.state === "maint") expect(slot.admin).toBe("maint");
    }
    for (const slot of slots.filter((x) => x.server === undefined)) expect(slot.admin).toBe("maint");
  });
}

describe("proxyEdits properties", () => {
  const arbListener = (key: string, address: string) =>
    fc
      .record({
        servers: fc.uniqueArray(
          fc.record({
            n: fc.integer({ min: 1, max: 12 }),
            weight: fc.constantFrom(0, 1, 2, 100, 256),
            state: fc.constantFrom("ready" as const, "ready" as const, "drain" as const, "maint" as const),
            moved: fc.boolean(),
          }),
          { selector: (s) => s.n, maxLength: 9 },
        ),
        mode: fc.constantFrom("tcp" as const, "tcp" as const, "http" as const),
      })
      .map(({ servers, mode }) =>
        listener(
          key,
          servers.map((s) => server(`p-${s.n}`, { weight: s.weight, state: s.state, address: s.moved ? "10.1.0.1" : `10.0.0.${s.n}` })).sort((a, b) => (a.id < b.id ? -1 : 1)),
          { mode, binds: [{ address, port: 80 }] },
        ),
      );
  const arbConfig = fc.tuple(arbListener("a/one:80", "127.77.0.1"), fc.option(arbListener("b/two:80", "127.77.0.2"), { nil: undefined })).map(([a, b]) => config(...(b === undefined ? [a] : [a, b])));

  it("takes a proxy through any sequence of configurations, each step ending in a state that means the configuration", () => {
    let runtimeSteps = 0;
    fc.assert(
      fc.property(fc.array(arbConfig, { minLength: 1, maxLength: 12 }), (configs) => {
        let state: RenderedState | undefined;
        for (const c of configs) {
          const edits = proxyEdits(state, c, opts);
          if (edits.reload) {
            expect(edits.state).toEqual(renderHaproxy(c, { ...opts, previous: state }).state);
          } else {
            runtimeSteps++;
            expect(asHaproxySees(simulate(state!, edits.commands))).toEqual(asHaproxySees(edits.state));
            // A server that stays keeps its slot.
            for (const [i, l] of edits.state.listeners.entries()) {
              l.slots.forEach((slot, j) => {
                const before = state!.listeners[i]!.slots.findIndex((x) => x.server === slot.server);
                if (slot.server !== undefined && before !== -1) expect(before).toBe(j);
              });
            }
            // Applying the same configuration again needs nothing.
            expect(commands(proxyEdits(edits.state, c, opts))).toEqual([]);
          }
          means(edits.state, c);
          state = edits.state;
        }
      }),
    );
    // The runs must have exercised the runtime path, not only reloads.
    expect(runtimeSteps).toBeGreaterThan(50);
  });
});
