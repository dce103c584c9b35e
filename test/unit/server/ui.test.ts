/**
 * The dashboard's files on the listener (startServer with `ui`) and `coxswain run --ui`: the page, its
 * script and styles served with a Content-Security-Policy that allows only the page's own origin, without
 * a token even when the API needs one (they hold no data), not served without `ui`; `--ui` alone listens
 * on 127.0.0.1:8080, with --listen on that address, and counts as a listener for the flags that need one.
 */
import { afterEach, describe, expect, it } from "vitest";
import { DEFAULT_UI_LISTEN, runOptions } from "../../../operator/src/cli/run.js";
import { parseApiTokens, startServer, type ApiSource, type RunningServer } from "../../../operator/src/server/index.js";
import { coxErrorOf } from "../../support/errors.js";

const source: ApiSource = {
  state: () => ({ summary: undefined, commits: [], workloads: [], extra: [] }) as unknown as ReturnType<ApiSource["state"]>,
  nodes: () => ({ observed: [], snapshot: [] }),
  previews: () => [],
  authors: async () => new Map(),
};

let server: RunningServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe("the dashboard's files", () => {
  it("serves the page, its script, styles and icon, with a same-origin-only policy and no token, while the API asks for one", async () => {
    const tokens = parseApiTokens("read ui-test-token-0123456789\n", "tokens");
    server = await startServer({ listen: "127.0.0.1:0", onPush: () => undefined, api: { source, tokens }, ui: true });
    const page = await fetch(`${server.url}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(page.headers.get("content-security-policy")).toMatch(/default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'/);
    expect(page.headers.get("x-content-type-options")).toBe("nosniff");
    expect(page.headers.get("access-control-allow-origin")).toBeNull();
    const html = await page.text();
    expect(html).toMatch(/<html lang="en">/);
    expect(html).toMatch(/<script type="module" src="\/ui\/dashboard.js"><\/script>/);
    // Nothing from another origin: no CDN, no web font.
    expect(html).not.toMatch(/https?:\/\//);
    for (const [path, type] of [
      ["/ui/dashboard.js", "text/javascript; charset=utf-8"],
      ["/ui/dashboard.css", "text/css; charset=utf-8"],
      ["/ui/icon.svg", "image/svg+xml"],
    ] as const) {
      const res = await fetch(`${server.url}${path}`);
      expect([res.status, res.headers.get("content-type")], path).toEqual([200, type]);
      const text = await res.text();
      if (path !== "/ui/icon.svg") expect(text, path).not.toMatch(/https?:\/\/(?!www\.w3\.org)/);
    }
    expect((await fetch(`${server.url}/api/v1/commits`)).status).toBe(401);
    expect((await fetch(`${server.url}/`, { method: "POST" })).status).toBe(405);
    expect((await fetch(`${server.url}/ui/nothing.js`)).status).toBe(404);
  });

  it("is not served without ui, and ui needs the API", async () => {
    server = await startServer({ listen: "127.0.0.1:0", onPush: () => undefined, api: { source } });
    expect((await fetch(`${server.url}/`)).status).toBe(404);
    expect((await fetch(`${server.url}/ui/dashboard.js`)).status).toBe(404);
    expect((await coxErrorOf(startServer({ listen: "127.0.0.1:0", onPush: () => undefined, ui: true }))).code).toBe("InvalidArgument");
  });
});

describe("coxswain run --ui", () => {
  const run = (...flags: string[]) => runOptions(["--repo", "/srv/repo", ...flags], () => undefined);

  it("alone listens on loopback; with --listen there; off without it", async () => {
    expect(DEFAULT_UI_LISTEN).toBe("127.0.0.1:8080");
    expect(await run("--ui")).toMatchObject({ ui: true, listen: "127.0.0.1:8080" });
    expect(await run("--ui", "--listen", "127.0.0.1:9000")).toMatchObject({ ui: true, listen: "127.0.0.1:9000" });
    const off = await run();
    expect([off.ui, off.listen]).toEqual([undefined, undefined]);
  });

  it("counts as a listener for the flags that need one, and keeps the loopback rule without tokens", async () => {
    expect((await run("--ui", "--ready-fetch-failures", "5")).readyFetchFailures).toBe(5);
    expect((await coxErrorOf(run("--ui", "--listen", "0.0.0.0:8080"))).code).toBe("ApiTokensRequired");
  });
});
