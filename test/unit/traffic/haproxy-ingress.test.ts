/**
 * renderHaproxy and proxyEdits with an ingress: the frontend's lines, the backends that mirror Service
 * listeners, the certificate files and their crt-list, which changes are runtime edits (endpoints, on both
 * sections) and which are reloads (anything of the ingress), and what is refused.
 */
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { proxyEdits, renderHaproxy, type ProxyEdits } from "../../../operator/src/traffic/haproxy.js";
import type { IngressCertificate, ProxyConfig, ProxyIngress, ProxyListener, ProxyServer } from "../../../operator/src/traffic/types.js";
import { codeOf } from "../../support/errors.js";

const FILES = "/var/lib/coxswain/proxy/n1/files";
const opts = { statsSocket: "/run/coxswain/haproxy.sock", filesDir: FILES };
const WEB = "default/web:80";
const API = "default/api:8080";

function server(id: string, over: Partial<ProxyServer> = {}): ProxyServer {
  const n = Number(/[0-9]+/.exec(id)?.[0] ?? 1);
  return { id, address: `10.0.0.${n}`, port: 31000 + n, weight: 1, state: "ready", ...over };
}

function listener(key: string, address: string, servers: ProxyServer[] = [server("w-1")], over: Partial<ProxyListener> = {}): ProxyListener {
  return { key, binds: [{ address, port: Number(key.split(":")[1]) }], mode: "tcp", servers, ...over };
}

const certificate = (secret: string, hosts: string[], body = secret): IngressCertificate => ({
  secret,
  hosts,
  pem: `-----BEGIN CERTIFICATE-----\n${body}\n-----END CERTIFICATE-----\n-----BEGIN PRIVATE KEY-----\nkey\n-----END PRIVATE KEY-----\n`,
});

function ingress(over: Partial<ProxyIngress> = {}): ProxyIngress {
  return {
    http: [{ address: "10.0.0.1", port: 80 }],
    https: [],
    routes: [
      { host: "a.example.com", match: "Exact", path: "/healthz", backend: API },
      { host: "a.example.com", match: "Prefix", path: "/api", backend: API },
      { host: "*.example.com", match: "Prefix", path: "", backend: WEB },
      { match: "Prefix", path: "/static", backend: WEB },
    ],
    certificates: [],
    ...over,
  };
}

/** The two listeners and `ing` (null: no ingress). */
function config(ing: ProxyIngress | null = ingress(), webServers = [server("w-1")]): ProxyConfig {
  return {
    node: "n1",
    listeners: [listener(API, "127.77.0.11", [server("a-1")]), listener(WEB, "127.77.0.10", webServers, { mode: "http" })],
    ...(ing !== null ? { ingress: ing } : {}),
  };
}

/** The lines of the section that starts with `header`, without indentation. */
function section(text: string, header: string): string[] {
  const block = text.split("\n\n").find((b) => b.startsWith(`${header}\n`));
  if (block === undefined) throw new Error(`no section ${header} in:\n${text}`);
  return block
    .trimEnd()
    .split("\n")
    .slice(1)
    .map((l) => l.trim());
}

function commands(edits: ProxyEdits): string[] {
  if (edits.reload) throw new Error("expected runtime edits, got a reload");
  return edits.commands;
}

const sha = (s: string): string => createHash("sha256").update(s).digest("hex").slice(0, 32);

describe("renderHaproxy with an ingress", () => {
  it("renders the frontend: the binds, the Host header read once, host groups in route order each closed by its fallback, 404 for the rest", () => {
    expect(section(renderHaproxy(config(), opts).text, "frontend ingress")).toEqual([
      "mode http",
      "option idle-close-on-response",
      "option forwardfor",
      "timeout http-request 10s",
      "bind 10.0.0.1:80",
      "http-request set-var(txn.host) req.hdr(host),field(1,:),lower",
      "http-request set-var(txn.domain) var(txn.host),field(2,.,0)",
      "http-request set-header X-Forwarded-Proto https if { ssl_fc }",
      "http-request set-header X-Forwarded-Proto http if !{ ssl_fc }",
      "acl host_1 var(txn.host) -m str a.example.com",
      "acl path_1 path -m str /healthz",
      "acl path_2 path -m str /api",
      "acl path_2 path -m beg /api/",
      "acl host_2 var(txn.domain) -m str example.com",
      "acl path_3 path -m str /static",
      "acl path_3 path -m beg /static/",
      "use_backend default.api:8080:ingress if host_1 path_1",
      "use_backend default.api:8080:ingress if host_1 path_2",
      "use_backend ingress:no-route if host_1",
      "use_backend default.web:80:ingress if host_2",
      "use_backend ingress:no-route if host_2",
      "use_backend default.web:80:ingress if path_3",
      "default_backend ingress:no-route",
    ]);
    expect(section(renderHaproxy(config(), opts).text, "backend ingress:no-route")).toEqual(["mode http", "http-request deny deny_status 404"]);
  });

  it("sends what no route takes to the default backend instead, and renders no 404 backend then", () => {
    const { text } = renderHaproxy(config(ingress({ defaultBackend: WEB })), opts);
    expect(section(text, "frontend ingress")).toContain("use_backend default.web:80:ingress if host_1");
    expect(section(text, "frontend ingress").at(-1)).toBe("default_backend default.web:80:ingress");
    expect(text).not.toContain("ingress:no-route");
  });

  it("mirrors each listener the ingress sends to in an HTTP backend with the listener's own slots, whatever the listener's mode", () => {
    const { text, state } = renderHaproxy(config(), opts);
    expect(section(text, "backend default.api:8080:ingress")).toEqual(["mode http", "balance roundrobin", "server s1 10.0.0.1:31001 weight 1", "server-template s 2-4 127.0.0.1:1 disabled"]);
    expect(section(text, "listen default.api:8080").slice(0, 1)).toEqual(["mode tcp"]);
    expect(state.listeners.map((l) => [l.key, l.ingressBackend])).toEqual([
      [API, "default.api:8080:ingress"],
      [WEB, "default.web:80:ingress"],
    ]);
  });

  it("mirrors only the listeners the ingress sends to", () => {
    const { state, text } = renderHaproxy(config(ingress({ routes: [{ match: "Prefix", path: "", backend: WEB }] })), opts);
    expect(state.listeners.map((l) => l.ingressBackend)).toEqual([undefined, "default.web:80:ingress"]);
    expect(text).not.toContain("backend default.api:8080:ingress");
  });

  it("renders nothing of an ingress that binds nothing, and the same as without one", () => {
    const without = renderHaproxy(config(null), opts);
    expect(renderHaproxy(config(ingress({ http: [] })), opts)).toEqual(without);
    expect(without.state.ingress).toBeUndefined();
    expect(without.files).toEqual([]);
    expect(without.text).not.toContain("frontend");
  });

  it("writes characters that mean something to HAProxy's parser as \\x escapes", () => {
    const { text } = renderHaproxy(config(ingress({ routes: [{ match: "Exact", path: "/it's$HOME#x\\\"", backend: WEB }] })), opts);
    expect(section(text, "frontend ingress")).toContain("acl path_1 path -m str /it\\x27s\\x24HOME\\x23x\\x5c\\x22");
  });

  it("presents certificates from a crt-list of files named by their content, the first as the default, each PEM once", () => {
    const certs = [certificate("default/wild", []), certificate("default/a", ["a.example.com", "*.a.example.com"]), certificate("other/a", ["b.example.com"], "default/a")];
    const { text, files, state } = renderHaproxy(config(ingress({ https: [{ address: "10.0.0.1", port: 443 }], certificates: certs })), opts);
    const wild = `${sha(certs[0]!.pem)}.pem`;
    const a = `${sha(certs[1]!.pem)}.pem`;
    const crtList = `${FILES}/${wild}\n${FILES}/${a} a.example.com *.a.example.com\n${FILES}/${a} b.example.com\n`;
    expect(files).toEqual([
      { name: wild, content: certs[0]!.pem },
      { name: a, content: certs[1]!.pem },
      { name: `${sha(crtList)}.crt-list`, content: crtList },
    ]);
    expect(section(text, "frontend ingress")).toContain(`bind 10.0.0.1:443 ssl crt-list ${FILES}/${sha(crtList)}.crt-list`);
    expect(state.ingress).toContain(crtList);
    expect(JSON.stringify(state)).not.toContain("PRIVATE KEY");
  });
});

describe("proxyEdits with an ingress", () => {
  const applied = renderHaproxy(config(), opts).state;

  it("edits a listener's servers and its ingress backend's alike, without a reload", () => {
    expect(commands(proxyEdits(applied, config(ingress(), [server("w-1"), server("w-2")]), opts))).toEqual([
      "set server default.web:80/s2 addr 10.0.0.2 port 31002",
      "set server default.web:80:ingress/s2 addr 10.0.0.2 port 31002",
      "set server default.web:80/s2 state ready",
      "set server default.web:80:ingress/s2 state ready",
    ]);
    expect(commands(proxyEdits(applied, config(ingress(), [server("w-1", { state: "drain" })]), opts))).toEqual(["set server default.web:80/s1 state drain", "set server default.web:80:ingress/s1 state drain"]);
  });

  it("needs nothing for the same configuration", () => {
    expect(commands(proxyEdits(applied, config(), opts))).toEqual([]);
  });

  const reloads: { name: string; next: ProxyConfig; filesDir?: string }[] = [
    { name: "a route added", next: config(ingress({ routes: [...ingress().routes, { match: "Exact", path: "/x", backend: WEB }] })) },
    { name: "a route's backend changed", next: config(ingress({ routes: ingress().routes.map((r) => ({ ...r, backend: WEB })) })) },
    { name: "a default backend", next: config(ingress({ defaultBackend: API })) },
    { name: "another bind", next: config(ingress({ http: [{ address: "10.0.0.1", port: 8080 }] })) },
    { name: "a certificate", next: config(ingress({ https: [{ address: "10.0.0.1", port: 443 }], certificates: [certificate("default/a", ["a.example.com"])] })) },
    { name: "no ingress any more", next: config(null) },
    { name: "another files directory", next: config(ingress({ https: [{ address: "10.0.0.1", port: 443 }], certificates: [certificate("default/a", [])] })), filesDir: "/elsewhere" },
  ];
  it.each(reloads)("reloads for $name, with the files of the new text", ({ next, filesDir }) => {
    const from = filesDir === undefined ? applied : renderHaproxy(reloads[6]!.next, opts).state;
    const edits = proxyEdits(from, next, { ...opts, ...(filesDir ? { filesDir } : {}) });
    expect(edits.reload).toBe(true);
    if (edits.reload) expect(edits.files).toEqual(renderHaproxy(next, { ...opts, ...(filesDir ? { filesDir } : {}) }).files);
  });

  it("reloads when the ingress starts sending to a listener it did not, keeping every server's slot", () => {
    const from = renderHaproxy(config(ingress({ routes: [{ match: "Prefix", path: "", backend: API }] }), [server("w-1"), server("w-3")]), opts).state;
    const edits = proxyEdits(from, config(ingress(), [server("w-1"), server("w-3")]), opts);
    expect(edits.reload).toBe(true);
    expect(edits.state.listeners[1]!.slots.map((s) => s.server)).toEqual(from.listeners[1]!.slots.map((s) => s.server));
  });
});

describe("what renderHaproxy refuses of an ingress", () => {
  const https = { https: [{ address: "10.0.0.1", port: 443 }], certificates: [certificate("default/a", [])] };
  const bad: { name: string; config: ProxyConfig; filesDir?: string | undefined }[] = [
    { name: "an ingress bind a Service listener binds", config: config(ingress({ http: [{ address: "127.77.0.10", port: 80 }] })) },
    { name: "HTTP and HTTPS on one address and port", config: config(ingress({ http: [{ address: "10.0.0.1", port: 443 }], ...https })) },
    { name: "a route to a listener that is not there", config: config(ingress({ routes: [{ match: "Prefix", path: "", backend: "default/gone:80" }] })) },
    { name: "a default backend that is not there", config: config(ingress({ defaultBackend: "default/gone:80" })) },
    { name: "a route host that is not a DNS name", config: config(ingress({ routes: [{ host: "a b", match: "Prefix", path: "", backend: WEB }] })) },
    { name: "a Prefix path with a trailing slash", config: config(ingress({ routes: [{ match: "Prefix", path: "/a/", backend: WEB }] })) },
    { name: "an Exact path with a space", config: config(ingress({ routes: [{ match: "Exact", path: "/a b", backend: WEB }] })) },
    { name: "an HTTPS bind without a certificate", config: config(ingress({ https: [{ address: "10.0.0.1", port: 443 }] })) },
    { name: "certificates without a files directory", config: config(ingress(https)), filesDir: undefined },
    { name: "a files directory with a space", config: config(ingress(https)), filesDir: "/var/lib/cox swain" },
    { name: "a relative files directory", config: config(ingress(https)), filesDir: "files" },
    { name: "a certificate that is not PEM", config: config(ingress({ ...https, certificates: [{ secret: "default/a", hosts: [], pem: "nope" }] })) },
  ];
  it.each(bad)("refuses $name", ({ config: c, ...rest }) => {
    const o = "filesDir" in rest ? { statsSocket: opts.statsSocket, ...(rest.filesDir !== undefined ? { filesDir: rest.filesDir } : {}) } : opts;
    expect(codeOf(() => renderHaproxy(c, o))).toBe("InvalidArgument");
    expect(codeOf(() => proxyEdits(undefined, c, o))).toBe("InvalidArgument");
  });
});
