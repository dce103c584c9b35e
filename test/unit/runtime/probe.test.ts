import { createServer as createHttpServer, type Server as HttpServer } from "node:http";
import { createServer as createTcpServer, type AddressInfo, type Server as TcpServer } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isCoxError } from "../../../operator/src/api/errors.js";
import { FakeRuntime } from "../../../operator/src/runtime/fake/index.js";
import { PROBE_USER_AGENT, probeHeaders, runProbe, ProbeTracker, type ProbeParams } from "../../../operator/src/runtime/probe.js";
import type { ExecResult } from "../../../operator/src/runtime/types.js";

/** A port on 127.0.0.1 that nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const server = createTcpServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe("runProbe over real sockets", () => {
  let http: HttpServer;
  let tcp: TcpServer;
  let httpPort = 0;
  let tcpPort = 0;
  /** Requests per path, to prove redirects are not followed. */
  const hits = new Map<string, number>();
  /** User-Agent of the last request. */
  let lastUserAgent: string | undefined;
  /** Set when the streaming response noticed the client went away. */
  let streamAborted = false;

  beforeAll(async () => {
    http = createHttpServer((req, res) => {
      const path = req.url ?? "/";
      hits.set(path, (hits.get(path) ?? 0) + 1);
      lastUserAgent = req.headers["user-agent"];
      switch (path) {
        case "/ok":
          res.writeHead(200).end("fine");
          return;
        case "/no-content":
          res.writeHead(204).end();
          return;
        case "/moved":
          res.writeHead(301, { Location: "/broken" }).end();
          return;
        case "/not-modified":
          res.writeHead(304).end();
          return;
        case "/missing":
          res.writeHead(404).end("nope");
          return;
        case "/broken":
          res.writeHead(500).end("boom");
          return;
        case "/unavailable":
          res.writeHead(503).end();
          return;
        case "/slow":
          setTimeout(() => {
            if (!res.destroyed) res.writeHead(200).end("late");
          }, 2_000).unref();
          return;
        case "/endless": {
          // 16 KiB every 10 ms for ~5 s: a probe that read the whole body would time out.
          res.writeHead(200, { "Content-Type": "application/octet-stream" });
          const chunk = Buffer.alloc(16 * 1024, 97);
          let sent = 0;
          const timer = setInterval(() => {
            if (res.destroyed || sent >= 500) {
              clearInterval(timer);
              if (!res.destroyed) res.end();
              return;
            }
            sent += 1;
            res.write(chunk);
          }, 10);
          res.on("close", () => {
            if (sent < 500) streamAborted = true;
            clearInterval(timer);
          });
          return;
        }
        case "/cut":
          // Promises 1 MB, sends a little, then drops the connection.
          res.writeHead(200, { "Content-Length": String(1024 * 1024) });
          res.write("partial");
          setTimeout(() => res.destroy(), 20);
          return;
        default:
          res.writeHead(404).end();
      }
    });
    await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
    httpPort = (http.address() as AddressInfo).port;
    tcp = createTcpServer((socket) => socket.end());
    await new Promise<void>((resolve) => tcp.listen(0, "127.0.0.1", resolve));
    tcpPort = (tcp.address() as AddressInfo).port;
  });

  afterAll(async () => {
    http.closeAllConnections();
    await new Promise<void>((resolve) => http.close(() => resolve()));
    await new Promise<void>((resolve) => tcp.close(() => resolve()));
  });

  const httpCases: { name: string; path: string; status: number; ok: boolean }[] = [
    { name: "counts a 200 as success", path: "/ok", status: 200, ok: true },
    { name: "counts a 204 as success", path: "/no-content", status: 204, ok: true },
    { name: "counts a 301 as success without following the redirect", path: "/moved", status: 301, ok: true },
    { name: "counts a 304 as success", path: "/not-modified", status: 304, ok: true },
    { name: "counts a 404 as failure", path: "/missing", status: 404, ok: false },
    { name: "counts a 500 as failure", path: "/broken", status: 500, ok: false },
    { name: "counts a 503 as failure", path: "/unavailable", status: 503, ok: false },
  ];

  it.each(httpCases)("$name", async ({ path, status, ok }) => {
    hits.clear();
    const outcome = await runProbe({ type: "http", host: "127.0.0.1", port: httpPort, path }, 1_000);
    expect(outcome.ok).toBe(ok);
    expect(outcome.message).toContain(String(status));
    expect(outcome.message).toContain(path);
    expect(hits.get(path)).toBe(1);
    // A redirect is never followed: its target is not requested.
    expect(hits.get("/broken") ?? 0).toBe(path === "/broken" ? 1 : 0);
  });

  it("sends a probe User-Agent", async () => {
    await runProbe({ type: "http", host: "127.0.0.1", port: httpPort, path: "/ok" }, 1_000);
    expect(lastUserAgent).toMatch(/probe/);
  });

  it("adds the leading slash to a path that lacks one", async () => {
    hits.clear();
    const outcome = await runProbe({ type: "http", host: "127.0.0.1", port: httpPort, path: "ok" }, 1_000);
    expect(outcome.ok).toBe(true);
    expect(hits.get("/ok")).toBe(1);
  });

  it("fails a server that answers after the timeout, at the timeout", async () => {
    const started = Date.now();
    const outcome = await runProbe({ type: "http", host: "127.0.0.1", port: httpPort, path: "/slow" }, 300);
    const elapsed = Date.now() - started;
    // Failed by the deadline: the server's 200 comes after 2 s and would have passed the probe.
    expect(outcome.ok).toBe(false);
    expect(outcome.message).toContain("300");
    expect(elapsed).toBeGreaterThanOrEqual(290);
  });

  it("reads only the start of a large body and drops the connection", async () => {
    streamAborted = false;
    const outcome = await runProbe({ type: "http", host: "127.0.0.1", port: httpPort, path: "/endless" }, 2_000);
    expect(outcome.ok).toBe(true); // reading the ~8 MiB body to its end would take 5 s: the 2 s deadline would fail it
    await expect.poll(() => streamAborted, { timeout: 2_000 }).toBe(true);
  });

  it("fails when the connection drops in the middle of the body", async () => {
    const outcome = await runProbe({ type: "http", host: "127.0.0.1", port: httpPort, path: "/cut" }, 2_000);
    expect(outcome.ok).toBe(false);
  });

  it("fails an HTTP probe of a closed port with the connect error", async () => {
    const port = await closedPort();
    const outcome = await runProbe({ type: "http", host: "127.0.0.1", port, path: "/" }, 1_000);
    expect(outcome.ok).toBe(false);
    expect(outcome.message).toContain("ECONNREFUSED");
    expect(outcome.message).toContain(String(port));
  });

  it("passes a TCP probe of a listening port", async () => {
    const outcome = await runProbe({ type: "tcp", host: "127.0.0.1", port: tcpPort }, 1_000);
    expect(outcome.ok).toBe(true);
  });

  it("passes a TCP probe of the HTTP server's port", async () => {
    const outcome = await runProbe({ type: "tcp", host: "127.0.0.1", port: httpPort }, 1_000);
    expect(outcome.ok).toBe(true);
  });

  it("fails a TCP probe of a closed port with the connect error", async () => {
    const port = await closedPort();
    const outcome = await runProbe({ type: "tcp", host: "127.0.0.1", port }, 1_000);
    expect(outcome.ok).toBe(false);
    expect(outcome.message).toContain("ECONNREFUSED");
  });

  it.each([
    { name: "reports an out-of-range TCP port as a failure instead of throwing", type: "tcp" as const },
    { name: "reports an out-of-range HTTP port as a failure instead of throwing", type: "http" as const },
  ])("$name", async ({ type }) => {
    const target = type === "tcp" ? { type, host: "127.0.0.1", port: 70_000 } : { type, host: "127.0.0.1", port: 70_000, path: "/" };
    const outcome = await runProbe(target, 500);
    expect(outcome.ok).toBe(false);
    expect(outcome.message.length).toBeGreaterThan(0);
  });
});

/** One step of a tracker scenario: a result at a time (seconds after start) and the state expected after it. */
type Step = [ok: boolean, atSeconds: number, readyAfter: boolean];

const trackerCases: {
  name: string;
  params: Partial<ProbeParams>;
  initiallyReady?: boolean;
  steps: Step[];
}[] = [
  {
    name: "becomes ready after one success with the default successThreshold",
    params: {},
    steps: [[true, 0, true]],
  },
  {
    name: "stays not ready through failures when it never passed",
    params: {},
    steps: [
      [false, 0, false],
      [false, 10, false],
      [false, 20, false],
      [false, 30, false],
    ],
  },
  {
    name: "needs successThreshold consecutive successes, and a failure restarts the count",
    params: { successThreshold: 3 },
    steps: [
      [true, 0, false],
      [true, 10, false],
      [false, 20, false],
      [true, 30, false],
      [true, 40, false],
      [true, 50, true],
    ],
  },
  {
    name: "stays ready until failureThreshold consecutive failures",
    params: { failureThreshold: 3 },
    steps: [
      [true, 0, true],
      [false, 10, true],
      [false, 20, true],
      [false, 30, false],
    ],
  },
  {
    name: "resets the failure count on a success in between",
    params: { failureThreshold: 2 },
    steps: [
      [true, 0, true],
      [false, 10, true],
      [true, 20, true],
      [false, 30, true],
      [false, 40, false],
    ],
  },
  {
    name: "becomes not ready after one failure with failureThreshold 1, and ready again after a success",
    params: { failureThreshold: 1 },
    steps: [
      [true, 0, true],
      [false, 10, false],
      [true, 20, true],
    ],
  },
  {
    name: "ignores results recorded before the initial delay has passed",
    params: { initialDelaySeconds: 15 },
    steps: [
      [true, 5, false],
      [true, 14, false],
      [true, 15, true],
    ],
  },
  {
    name: "starts passing when initially ready (liveness) and fails after failureThreshold failures",
    params: { failureThreshold: 2 },
    initiallyReady: true,
    steps: [
      [false, 0, true],
      [false, 10, false],
    ],
  },
];

describe("ProbeTracker", () => {
  const start = 1_000_000;

  it.each(trackerCases)("$name", ({ params, initiallyReady, steps }) => {
    const tracker = new ProbeTracker(params, start, initiallyReady ?? false);
    expect(tracker.ready).toBe(initiallyReady ?? false);
    for (const [ok, at, readyAfter] of steps) {
      const before = tracker.ready;
      const result = tracker.record(ok, start + at * 1000);
      expect(result.ready).toBe(readyAfter);
      expect(tracker.ready).toBe(readyAfter);
      expect(result.changed).toBe(before !== readyAfter);
    }
  });

  it("is first due at the end of the initial delay, then periodSeconds after each result", () => {
    const tracker = new ProbeTracker({ initialDelaySeconds: 5, periodSeconds: 7 }, start);
    expect(tracker.dueAt).toBe(start + 5_000);
    tracker.record(true, start + 1_000); // ignored: inside the initial delay
    expect(tracker.dueAt).toBe(start + 5_000);
    tracker.record(false, start + 5_200);
    expect(tracker.dueAt).toBe(start + 12_200);
    tracker.record(true, start + 12_300);
    expect(tracker.dueAt).toBe(start + 19_300);
  });

  it("uses Kubernetes' defaults for unset parameters", () => {
    const tracker = new ProbeTracker({}, start);
    expect(tracker.params).toEqual({ initialDelaySeconds: 0, periodSeconds: 10, successThreshold: 1, failureThreshold: 3 });
    expect(tracker.dueAt).toBe(start);
  });

  it("remembers since when it has been ready, and forgets it when it fails", () => {
    const tracker = new ProbeTracker({ successThreshold: 2, failureThreshold: 1 }, start);
    tracker.record(true, start + 1_000);
    expect(tracker.readySince).toBeUndefined();
    tracker.record(true, start + 2_000);
    expect(tracker.readySince).toBe(start + 2_000);
    tracker.record(true, start + 3_000);
    expect(tracker.readySince).toBe(start + 2_000);
    tracker.record(false, start + 4_000);
    expect(tracker.readySince).toBeUndefined();
  });

  it("counts consecutive successes and failures", () => {
    const tracker = new ProbeTracker({}, start);
    tracker.record(true, start);
    tracker.record(true, start + 1);
    expect([tracker.consecutiveSuccesses, tracker.consecutiveFailures]).toEqual([2, 0]);
    tracker.record(false, start + 2);
    expect([tracker.consecutiveSuccesses, tracker.consecutiveFailures]).toEqual([0, 1]);
  });

  it.each([
    { name: "rejects a successThreshold of 0", params: { successThreshold: 0 } },
    { name: "rejects a failureThreshold of 0", params: { failureThreshold: 0 } },
    { name: "rejects a periodSeconds of 0", params: { periodSeconds: 0 } },
    { name: "rejects a negative initialDelaySeconds", params: { initialDelaySeconds: -1 } },
    { name: "rejects a NaN threshold", params: { failureThreshold: Number.NaN } },
  ])("$name", ({ params }) => {
    let caught: unknown;
    try {
      new ProbeTracker(params, start);
    } catch (err) {
      caught = err;
    }
    expect(isCoxError(caught, "InvalidArgument")).toBe(true);
  });
});

describe("runProbe: httpGet headers, host and HTTPS", () => {
  let server: HttpServer;
  let port = 0;
  /** Raw headers of the last request, as [name, value] pairs in order. */
  let lastHeaders: Array<[string, string]> = [];

  beforeAll(async () => {
    server = createHttpServer((req, res) => {
      lastHeaders = [];
      for (let i = 0; i < req.rawHeaders.length; i += 2) lastHeaders.push([req.rawHeaders[i]!.toLowerCase(), req.rawHeaders[i + 1]!]);
      // A virtual host: only "app.example" is served.
      res.writeHead(req.headers.host === "app.example" ? 200 : 404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    port = (server.address() as AddressInfo).port;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  const values = (name: string) => lastHeaders.filter(([n]) => n === name).map(([, v]) => v);

  it("sends the default User-Agent and Accept, and closes the connection", async () => {
    await runProbe({ type: "http", host: "127.0.0.1", port, path: "/" }, 1_000);
    expect(values("user-agent")).toEqual([PROBE_USER_AGENT]);
    expect(values("accept")).toEqual(["*/*"]);
    expect(values("connection")).toEqual(["close"]);
  });

  it.each([
    {
      name: "adds custom headers, repeating a name as often as it is given",
      headers: [
        { name: "X-Probe", value: "a" },
        { name: "X-Probe", value: "b" },
        { name: "X-Other", value: "c" },
      ],
      expect: { "x-probe": ["a", "b"], "x-other": ["c"], "user-agent": [PROBE_USER_AGENT] },
    },
    {
      name: "replaces the default User-Agent and Accept when the manifest sets them, whatever their case",
      headers: [
        { name: "user-agent", value: "mine/1" },
        { name: "ACCEPT", value: "application/json" },
      ],
      expect: { "user-agent": ["mine/1"], accept: ["application/json"] },
    },
    {
      name: "never lets a header change the connection handling",
      headers: [{ name: "Connection", value: "keep-alive" }],
      expect: { connection: ["close"] },
    },
  ])("$name", async ({ headers, expect: expected }) => {
    await runProbe({ type: "http", host: "127.0.0.1", port, path: "/", headers }, 1_000);
    for (const [name, want] of Object.entries(expected)) expect(values(name)).toEqual(want);
  });

  it("probes a virtual host through a Host header: success only with it", async () => {
    expect((await runProbe({ type: "http", host: "127.0.0.1", port, path: "/" }, 1_000)).ok).toBe(false);
    const outcome = await runProbe({ type: "http", host: "127.0.0.1", port, path: "/", headers: [{ name: "Host", value: "app.example" }] }, 1_000);
    expect(outcome.ok).toBe(true);
    expect(values("host")).toEqual(["app.example"]);
  });

  it("probes HTTPS without verifying the certificate, as the kubelet does", async () => {
    const { createServer: createHttpsServer } = await import("node:https");
    const { makeTestPki } = await import("../../support/tls.js");
    const pki = makeTestPki(["not-this-host.example"]); // a certificate no client would trust for 127.0.0.1
    const tls = createHttpsServer({ cert: pki.server.cert, key: pki.server.key }, (req, res) => res.writeHead(req.url === "/healthz" ? 200 : 500).end());
    await new Promise<void>((resolve) => tls.listen(0, "127.0.0.1", resolve));
    const tlsPort = (tls.address() as AddressInfo).port;
    try {
      const ok = await runProbe({ type: "http", scheme: "HTTPS", host: "127.0.0.1", port: tlsPort, path: "/healthz" }, 2_000);
      expect(ok).toEqual({ ok: true, message: `HTTP 200 from GET https://127.0.0.1:${tlsPort}/healthz` });
      expect((await runProbe({ type: "http", scheme: "HTTPS", host: "127.0.0.1", port: tlsPort, path: "/other" }, 2_000)).ok).toBe(false);
      // Plain HTTP to a TLS port fails.
      expect((await runProbe({ type: "http", host: "127.0.0.1", port: tlsPort, path: "/healthz" }, 2_000)).ok).toBe(false);
    } finally {
      tls.closeAllConnections();
      await new Promise<void>((resolve) => tls.close(() => resolve()));
    }
  });

  it("builds the header set deterministically", () => {
    expect(
      probeHeaders({
        headers: [
          { name: "X-A", value: "1" },
          { name: "x-a", value: "2" },
        ],
      }),
    ).toEqual({
      "User-Agent": PROBE_USER_AGENT,
      Accept: "*/*",
      "X-A": ["1", "2"],
      Connection: "close",
    });
  });
});

describe("runProbe: exec", () => {
  const result = (exitCode: number, output = "", timedOut = false): ExecResult => ({ exitCode, output, ...(timedOut ? { timedOut: true as const } : {}) });

  it.each([
    { name: "passes on exit code 0", run: async () => result(0, "ok\n"), ok: true, message: 'exec ["cat","/healthz"] exited with exit code 0: ok' },
    { name: "fails on exit code 1 with the output", run: async () => result(1, "cat: can't open '/healthz'\n"), ok: false, message: `exec ["cat","/healthz"] exited with exit code 1: cat: can't open '/healthz'` },
    { name: "fails on a command that was not found (127)", run: async () => result(127, "not found"), ok: false, message: 'exec ["cat","/healthz"] exited with exit code 127: not found' },
    { name: "fails when the runtime reports a timeout", run: async () => result(-1, "", true), ok: false, message: 'exec ["cat","/healthz"] timed out after 500 ms' },
    {
      name: "fails when the command cannot run (the runtime throws)",
      run: async () => {
        throw new Error("container is not running");
      },
      ok: false,
      message: 'exec ["cat","/healthz"] could not run: container is not running',
    },
  ])("$name", async ({ run, ok, message }) => {
    expect(await runProbe({ type: "exec", command: ["cat", "/healthz"], run }, 500)).toEqual({ ok, message });
  });

  it("fails an exec that never answers at the probe's own deadline", async () => {
    const outcome = await runProbe({ type: "exec", run: () => new Promise<ExecResult>(() => undefined) }, 200);
    expect(outcome).toEqual({ ok: false, message: "timed out after 200 ms" });
  });

  it("cuts long output in the message", async () => {
    const outcome = await runProbe({ type: "exec", run: async () => result(2, "x".repeat(5_000)) }, 500);
    expect(outcome.message.length).toBeLessThan(400);
    expect(outcome.message.endsWith("…")).toBe(true);
  });

  it("runs through a runtime's exec with the container, the command and the deadline", async () => {
    const rt = new FakeRuntime({ cpuMillis: 1000, memoryBytes: 1 << 30 });
    const c = await rt.run({ runtimeName: "a", image: "i", env: {}, network: "host", ports: [], limits: {}, labels: {} });
    const seen: Array<[readonly string[], number]> = [];
    rt.setExecResult(c.id, (command, timeoutMs) => {
      seen.push([command, timeoutMs]);
      return { exitCode: 1, output: "" };
    });
    const outcome = await runProbe({ type: "exec", command: ["test", "-f", "/ready"], runtime: rt, containerId: c.id }, 700);
    expect(outcome).toEqual({ ok: false, message: 'exec ["test","-f","/ready"] exited with exit code 1' });
    expect(seen).toEqual([[["test", "-f", "/ready"], 700]]);
    rt.crash(c.id, 1);
    expect((await runProbe({ type: "exec", command: ["true"], runtime: rt, containerId: c.id }, 700)).message).toMatch(/could not run/);
  });
});
