/**
 * The web dashboard's files, served by startServer with `ui` (`coxswain run --ui`) on the API's listener:
 * GET / (the page), /ui/dashboard.js (the browser code, operator/ui/dashboard.ts compiled by `npm run gen`),
 * /ui/dashboard.css and /ui/icon.svg. Everything is in the package: no CDN, no web font (the system's sans-serif).
 *
 * These files hold no data and need no token: the page reads everything through /api/v1, which does. A
 * Content-Security-Policy lets the page run only its own script and talk only to its own origin.
 */
import { DASHBOARD_SCRIPT } from "./generated/dashboard.js";

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>coxswain</title>
<link rel="icon" href="/ui/icon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/ui/dashboard.css">
<script type="module" src="/ui/dashboard.js"></script>
</head>
<body>
<header>
<h1><a href="#/">coxswain</a></h1>
<nav aria-label="Main"><ul><li><a href="#/">Overview</a></li><li><a href="#/proposals">Proposals</a></li></ul></nav>
<p id="live" role="status" aria-live="polite" data-state="connecting">Connecting…</p>
<button id="forget" type="button" hidden>Forget token</button>
</header>
<main id="main" tabindex="-1"><p>Loading…</p></main>
<noscript><p>The dashboard needs JavaScript; the same data is at /api/v1 (see /api/v1/openapi.json).</p></noscript>
</body>
</html>
`;

const CSS = `:root { color-scheme: light dark; --fg: #1b1f24; --bg: #fff; --muted: #59636e; --line: #d1d9e0; --ok: #1a7f37; --bad: #cf222e; --warn: #9a6700; --info: #0969da; }
@media (prefers-color-scheme: dark) { :root { --fg: #e6edf3; --bg: #0d1117; --muted: #9198a1; --line: #3d444d; --ok: #3fb950; --bad: #f85149; --warn: #d29922; --info: #4493f8; } }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; color: var(--fg); background: var(--bg); }
header { display: flex; gap: 1.5rem; align-items: center; padding: .5rem 1rem; border-bottom: 1px solid var(--line); flex-wrap: wrap; }
header h1 { font-size: 1.2rem; margin: 0; }
header h1 a { color: inherit; text-decoration: none; }
nav ul { list-style: none; display: flex; gap: 1rem; margin: 0; padding: 0; }
nav a[aria-current="page"] { font-weight: 600; text-decoration: underline; }
#live { margin: 0 0 0 auto; color: var(--muted); }
#live[data-state="live"]::before { content: "● "; color: var(--ok); }
#live[data-state="reconnecting"]::before { content: "● "; color: var(--warn); }
main { padding: 1rem; max-width: 90rem; }
main:focus { outline: none; }
a { color: var(--info); }
h2 { font-size: 1.1rem; border-bottom: 1px solid var(--line); padding-bottom: .25rem; }
h3 { font-size: 1rem; margin: 1rem 0 .4rem; }
code, .sha, .where { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, "Liberation Mono", monospace; font-size: .92em; }
.meta, .condition { color: var(--muted); }
.phase { display: inline-block; min-width: 6.5rem; text-align: center; border-radius: 1rem; padding: 0 .5rem; border: 1px solid currentColor; font-size: .85em; }
.phase-Succeeded { color: var(--ok); }
.phase-Failed, .phase-Invalid, .phase-RolledBack, .phase-Quarantined { color: var(--bad); }
.phase-Progressing, .phase-Pending { color: var(--info); }
.phase-Superseded { color: var(--muted); }
.timeline { list-style: none; padding: 0; margin: 0; }
.timeline li { padding: .3rem 0; border-bottom: 1px solid var(--line); }
.rollback, .revert { color: var(--bad); }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; vertical-align: top; padding: .35rem .5rem; border-bottom: 1px solid var(--line); }
thead th { color: var(--muted); font-weight: 600; }
.rollout p { margin: .15rem 0; }
.bar-row { display: grid; grid-template-columns: 4.5rem minmax(6rem, 14rem) auto; gap: .5rem; align-items: center; }
.bar-text { white-space: nowrap; }
meter { width: 100%; height: .9rem; }
.nodes { list-style: none; padding: 0; display: grid; grid-template-columns: repeat(auto-fill, minmax(22rem, 1fr)); gap: 1rem; }
.nodes li { border: 1px solid var(--line); border-radius: .4rem; padding: .5rem .75rem; }
.nodes h3 { margin-top: 0; }
.ok { color: var(--ok); }
.bad, .error { color: var(--bad); }
.paused { color: var(--warn); }
.errors { padding-left: 1.2rem; }
.errors .code { font-weight: 600; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; }
dt { color: var(--muted); }
dd { margin: 0; }
.token { max-width: 32rem; display: grid; gap: .5rem; }
.token input { font: inherit; padding: .35rem; }
.token button, #forget { font: inherit; padding: .3rem .8rem; width: max-content; }
.proposal { border: 1px solid var(--line); border-radius: .4rem; padding: .5rem .75rem; margin-bottom: 1rem; }
`;

/** A ship's wheel, so that the browser asks for no /favicon.ico. */
const ICON = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><circle cx="16" cy="16" r="9" fill="none" stroke="#0969da" stroke-width="3"/><path d="M16 2v28M2 16h28M6 6l20 20M26 6 6 26" stroke="#0969da" stroke-width="2"/><circle cx="16" cy="16" r="3" fill="#0969da"/></svg>
`;

/** A file of the dashboard: its content type and text. */
interface UiFile {
  contentType: string;
  body: string;
}

/** The dashboard's files by request path. */
export const UI_FILES: ReadonlyMap<string, UiFile> = new Map([
  ["/", { contentType: "text/html; charset=utf-8", body: PAGE }],
  ["/ui/dashboard.js", { contentType: "text/javascript; charset=utf-8", body: DASHBOARD_SCRIPT }],
  ["/ui/dashboard.css", { contentType: "text/css; charset=utf-8", body: CSS }],
  ["/ui/icon.svg", { contentType: "image/svg+xml", body: ICON }],
]);

/**
 * Headers of every dashboard file: its own script and styles only, requests to its own origin only, never
 * in a frame, no Referer sent, revalidated on every load (a new operator version serves new files).
 */
export const UI_HEADERS: Readonly<Record<string, string>> = {
  "content-security-policy": "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cache-control": "no-cache",
};
