import { describe, expect, it } from "vitest";
import { parseRequestLine, proxyEdits, renderHaproxy, type RequestLogTarget } from "../../../operator/src/traffic/haproxy.js";
import type { ProxyConfig, ProxyListener } from "../../../operator/src/traffic/types.js";
import { codeOf } from "../../support/errors.js";

const TAG = "a1b2c3d4e5f6a7b8c9d0e1f2";
const UDP: RequestLogTarget = { address: "127.0.0.1:40123", tag: TAG };

function listener(key: string, over: Partial<ProxyListener> = {}): ProxyListener {
  return { key, binds: [{ address: "127.77.0.10", port: 80 }], mode: "http", servers: [{ id: "web-1:8080", address: "10.0.0.1", port: 31001, weight: 1, state: "ready" }], ...over };
}

function config(...listeners: ProxyListener[]): ProxyConfig {
  return { node: "n1", listeners };
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

describe("the request log in rendered configurations", () => {
  it("an HTTP listener that logs its requests sends one raw line per request to the log address, with the tag", () => {
    const { text, state } = renderHaproxy(config(listener("default/web:80", { requestLog: true })), { requestLog: UDP });
    expect(section(text, "listen default.web:80")).toEqual([
      "mode http",
      "option idle-close-on-response",
      "log 127.0.0.1:40123 format raw daemon",
      `log-format "cx1 ${TAG} h %b %s %si:%sp %ST %Tr %Ta %ts %rc"`,
      "bind 127.77.0.10:80",
      "balance roundrobin",
      "server s1 10.0.0.1:31001 weight 1",
      "server-template s 2-4 127.0.0.1:1 disabled",
    ]);
    expect(state.requestLog).toEqual(UDP);
    expect(state.listeners[0]!.requestLog).toBe(true);
  });

  it("a TCP listener logs each connection with its duration and no status", () => {
    const { text } = renderHaproxy(config(listener("default/db:5432", { mode: "tcp", requestLog: true })), { requestLog: { address: "stdout", tag: TAG } });
    expect(section(text, "listen default.db:5432").slice(0, 3)).toEqual(["mode tcp", "log stdout format raw daemon", `log-format "cx1 ${TAG} t %b %s %si:%sp - - %Tt %ts %rc"`]);
  });

  it("a configuration where no listener logs is rendered as if there were no request log", () => {
    const without = renderHaproxy(config(listener("default/web:80")), {});
    const withTarget = renderHaproxy(config(listener("default/web:80")), { requestLog: UDP });
    expect(withTarget.text).toBe(without.text);
    expect(withTarget.state).toEqual(without.state);
    expect(without.text).not.toContain("log");
  });

  it("the ingress frontend logs its requests when a listener it routes to logs them, and not otherwise", () => {
    const ingress = { http: [{ address: "127.0.0.1", port: 8080 }], https: [], routes: [{ match: "Prefix" as const, path: "", backend: "default/web:80" }], certificates: [] };
    const logged = renderHaproxy({ ...config(listener("default/web:80", { requestLog: true }), listener("default/api:80", { binds: [{ address: "127.77.0.11", port: 80 }] })), ingress }, { requestLog: UDP }).text;
    expect(section(logged, "frontend ingress")).toContain("log 127.0.0.1:40123 format raw daemon");
    const other = renderHaproxy({ ...config(listener("default/web:80"), listener("default/api:80", { binds: [{ address: "127.77.0.11", port: 80 }], requestLog: true })), ingress }, { requestLog: UDP }).text;
    expect(section(other, "frontend ingress").some((l) => l.startsWith("log"))).toBe(false);
  });

  it("turning a listener's request log on or off, or a new log address or tag, is a reload; endpoint churn stays a runtime edit", () => {
    const quiet = config(listener("default/web:80"));
    const logged = config(listener("default/web:80", { requestLog: true }));
    const first = renderHaproxy(quiet, { requestLog: UDP }).state;
    const on = proxyEdits(first, logged, { requestLog: UDP });
    expect(on.reload).toBe(true);
    expect(proxyEdits(on.state, quiet, { requestLog: UDP }).reload).toBe(true);
    expect(proxyEdits(on.state, logged, { requestLog: { ...UDP, address: "127.0.0.1:40124" } }).reload).toBe(true);
    expect(proxyEdits(on.state, logged, { requestLog: { ...UDP, tag: "ffffffffffffffff" } }).reload).toBe(true);
    const churn = config(listener("default/web:80", { requestLog: true, servers: [{ id: "web-2:8080", address: "10.0.0.2", port: 31002, weight: 1, state: "ready" }] }));
    const edits = proxyEdits(on.state, churn, { requestLog: UDP });
    expect(edits).toMatchObject({ reload: false, state: { requestLog: UDP } });
  });

  it("refuses a listener that logs without a request log to send to, a log address HAProxy would not read as one, and a tag that is not letters and digits", () => {
    const logged = config(listener("default/web:80", { requestLog: true }));
    expect(codeOf(() => renderHaproxy(logged, {}))).toBe("InvalidArgument");
    for (const address of ["/dev/log", "127.0.0.1", "localhost:514", "127.0.0.1:0", "127.0.0.1:70000", "stdout "]) {
      expect(
        codeOf(() => renderHaproxy(logged, { requestLog: { address, tag: TAG } })),
        address,
      ).toBe("InvalidArgument");
    }
    for (const tag of ["short", "has space in it", 'quote"quote"', "x".repeat(65)]) {
      expect(
        codeOf(() => renderHaproxy(logged, { requestLog: { address: "stdout", tag } })),
        tag,
      ).toBe("InvalidArgument");
    }
  });
});

describe("parseRequestLine", () => {
  // Lines as HAProxy 2.6.12 wrote them for the formats above (captured from the real binary).
  const cases: { name: string; line: string; want: ReturnType<typeof parseRequestLine> }[] = [
    {
      name: "reads a request the server answered",
      line: `cx1 ${TAG} h default.web:80 s1 127.0.0.1:43555 200 1 1 -- 0\n`,
      want: { at: 5, mode: "http", backend: "default.web:80", server: "s1", serverAddress: "127.0.0.1:43555", status: 200, responseMs: 1, totalMs: 1, termination: "--", retries: 0, redispatched: false },
    },
    {
      name: "reads a 5xx the server sent",
      line: `cx1 ${TAG} h default.web:80 s2 127.0.0.1:41057 500 0 0 -- 0`,
      want: { at: 5, mode: "http", backend: "default.web:80", server: "s2", serverAddress: "127.0.0.1:41057", status: 500, responseMs: 0, totalMs: 0, termination: "--", retries: 0, redispatched: false },
    },
    {
      name: "reads a server that refused the connection: HAProxy's 503, no response time",
      line: `cx1 ${TAG} h default.web:80 s4 127.0.0.1:1 503 -1 2004 SC 2`,
      want: { at: 5, mode: "http", backend: "default.web:80", server: "s4", serverAddress: "127.0.0.1:1", status: 503, totalMs: 2004, termination: "SC", retries: 2, redispatched: false },
    },
    {
      name: "reads a request redispatched to another server after its connection failed",
      line: `cx1 ${TAG} h default.web:80 s1 127.0.0.1:43555 200 0 0 -- +1`,
      want: { at: 5, mode: "http", backend: "default.web:80", server: "s1", serverAddress: "127.0.0.1:43555", status: 200, responseMs: 0, totalMs: 0, termination: "--", retries: 1, redispatched: true },
    },
    {
      name: "reads a request no server was chosen for",
      line: `cx1 ${TAG} h default.web:80 <NOSRV> -:- 503 -1 0 SC 0`,
      want: { at: 5, mode: "http", backend: "default.web:80", status: 503, totalMs: 0, termination: "SC", retries: 0, redispatched: false },
    },
    {
      name: "reads a TCP connection",
      line: `cx1 ${TAG} t default.db:5432 s1 127.0.0.1:43555 - - 12 -- 0`,
      want: { at: 5, mode: "tcp", backend: "default.db:5432", server: "s1", serverAddress: "127.0.0.1:43555", totalMs: 12, termination: "--", retries: 0, redispatched: false },
    },
    { name: "ignores a line with another tag", line: `cx1 ffffffffffffffff h default.web:80 s1 127.0.0.1:1 200 1 1 -- 0`, want: undefined },
    { name: "ignores another program's output", line: "[NOTICE]   (1) : Loading success.", want: undefined },
    { name: "ignores a line of another format version", line: `cx2 ${TAG} h default.web:80 s1 127.0.0.1:1 200 1 1 -- 0`, want: undefined },
    { name: "ignores a line cut short", line: `cx1 ${TAG} h default.web:80 s1 127.0.0.1:1 200 1`, want: undefined },
  ];
  for (const c of cases) {
    it(c.name, () => {
      expect(parseRequestLine(c.line, TAG, 5)).toEqual(c.want);
    });
  }
});
