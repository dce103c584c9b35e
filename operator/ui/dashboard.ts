/**
 * The dashboard's browser code: reads the read API (/api/v1) and follows its event stream. Compiled by
 * `npm run gen` into operator/src/server/ui/generated/dashboard.ts, which the operator serves as
 * /ui/dashboard.js (type-checked with operator/ui/tsconfig.json: `npm run typecheck`).
 *
 * Token: with --api-token-file every API request needs `Authorization: Bearer <token>`. The page asks for
 * a token when the API answers 401 and keeps it in sessionStorage (this tab only, gone when it closes); it
 * goes in that header only, never in a URL (URLs end up in logs and history). EventSource cannot send
 * headers, so the event stream is read with fetch: the same header, and Last-Event-ID sent by hand on a
 * reconnect; a `reset` event (the operator lost track of what we missed) reloads everything.
 *
 * Rendering builds DOM nodes with textContent (never innerHTML): nothing the API returns is markup.
 */
export {};

interface Author {
  name: string;
  email: string;
  time: string;
}
interface RecordedError {
  code: string;
  message: string;
  file?: string;
  line?: number;
  col?: number;
  object?: string;
  field?: string;
}
interface Commit {
  sha: string;
  branch: string;
  subject: string;
  author: Author | null;
  phase: string;
  message: string;
  timings: { seen: string; applied?: string; finished?: string; durationMs?: number };
  changes: string[];
  errors: RecordedError[];
  applied: boolean;
  stable: boolean;
  quarantined: boolean;
  supersededBy: string | null;
  rollback: { to: string; code: string; reason: string } | null;
  revert: { state: string; commit?: string; message: string } | null;
  plan: string | null;
}
interface Replicas {
  desired: number;
  current: number;
  updated: number;
  ready: number;
  available: number;
}
interface Condition {
  type: string;
  status: string;
  reason: string;
  message: string;
}
interface WorkloadSummary {
  kind: string;
  namespace: string;
  name: string;
  revision: string;
  commit: string;
  strategy: string | null;
  paused: boolean;
  replicas: Replicas;
  conditions: Condition[];
}
interface Workload extends WorkloadSummary {
  pods: { name: string; node: string; revision: string; ready: boolean; state?: string }[];
  stable?: { revision: string; commit: string };
  canary?: { step: number; steps: number; weight: number; waiting?: string };
  blueGreen?: { active?: string; preview?: string; waiting?: string };
  traffic?: { strategy: string; stable?: string; canary?: string; weight?: number; active?: string; preview?: string; applied: boolean; services: { service: string; role: string; revision?: string }[] };
}
interface Resources {
  cpuMillis: number;
  memoryBytes: number;
  pods: number;
}
interface NodeView {
  name: string;
  condition: string;
  ready: boolean;
  unschedulable: boolean;
  draining: boolean;
  allocatable: Resources | null;
  requested: Resources | null;
  pods: number;
  message: string | null;
  taints: { key: string; value: string; effect: string }[];
}
interface Change {
  action: string;
  key: string;
  fields: string[];
  details?: string[];
  rollsTo?: { revision: string; replicas: number };
  placements?: { pod: string; node?: string; fits: boolean; message?: string }[];
}
interface Proposal {
  name: string;
  ref: string;
  commit: string;
  base?: string;
  valid: boolean;
  errors: RecordedError[];
  changes: Change[];
  preview?: { namespace: string; state: string; expiresAt?: string };
}
interface Preview {
  name: string;
  ref: string;
  commit: string;
  namespaces: string[];
  expiresAt: string;
}

const TOKEN_KEY = "coxswain.apiToken";
/** Least time between two reloads of what events changed (the API rate-limits each client). */
const REFRESH_MS = 500;
/** Reconnect delays of the event stream: from 1 s, doubling, to 30 s. */
const RECONNECT_MS = [1_000, 30_000] as const;

/** The API answered 401: a token is needed (or the one given was refused). */
class Unauthorized extends Error {}

const state = {
  commits: [] as Commit[],
  totalCommits: 0,
  workloads: [] as WorkloadSummary[],
  details: new Map<string, Workload>(),
  nodes: [] as NodeView[],
  proposals: [] as Proposal[],
  previews: [] as Preview[],
  commit: undefined as Commit | undefined,
  /** What events said changed since the last reload. */
  dirty: new Set<string>(),
  lastEventId: undefined as string | undefined,
  stream: undefined as AbortController | undefined,
};

const main = document.getElementById("main")!;
const live = document.getElementById("live")!;
const forget = document.getElementById("forget") as HTMLButtonElement;

// ---- the API --------------------------------------------------------------------------------------

function token(): string | null {
  return sessionStorage.getItem(TOKEN_KEY);
}

function authHeaders(): Record<string, string> {
  const t = token();
  return t ? { authorization: `Bearer ${t}` } : {};
}

/** GET an API path as JSON; waits out a 429 (Retry-After); Unauthorized on 401. */
async function api<T>(path: string): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    const res = await fetch(path, { headers: authHeaders(), cache: "no-store" });
    if (res.status === 401) throw new Unauthorized();
    if (res.status === 429 && attempt < 5) {
      await sleep(Math.max(1, Number(res.headers.get("retry-after")) || 1) * 1000);
      continue;
    }
    if (!res.ok) throw new Error(`${path}: ${res.status} ${((await res.json().catch(() => ({}))) as { message?: string }).message ?? ""}`);
    return (await res.json()) as T;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** The API path of a workload (`_cluster` for cluster-scoped ones). */
function workloadPath(key: string): string {
  const [kind, ns, name] = key.split("/");
  return `/api/v1/workloads/${encodeURIComponent(kind!)}/${encodeURIComponent(ns || "_cluster")}/${encodeURIComponent(name!)}`;
}

function keyOf(w: { kind: string; namespace: string; name: string }): string {
  return `${w.kind}/${w.namespace}/${w.name}`;
}

async function loadCommits(): Promise<void> {
  const list = await api<{ total: number; commits: Commit[] }>("/api/v1/commits?limit=50");
  state.commits = list.commits;
  state.totalCommits = list.total;
}

async function loadWorkloads(only?: Set<string>): Promise<void> {
  state.workloads = (await api<{ workloads: WorkloadSummary[] }>("/api/v1/workloads")).workloads;
  const keys = new Set(state.workloads.map(keyOf));
  for (const k of [...state.details.keys()]) if (!keys.has(k)) state.details.delete(k);
  // One at a time: the API limits requests per client.
  for (const k of [...keys].sort()) {
    if (only && state.details.has(k) && !only.has(k)) continue;
    try {
      state.details.set(k, await api<Workload>(workloadPath(k)));
    } catch (err) {
      if (err instanceof Unauthorized) throw err;
      state.details.delete(k); // gone between the list and the detail
    }
  }
}

async function loadNodes(): Promise<void> {
  state.nodes = (await api<{ nodes: NodeView[] }>("/api/v1/nodes")).nodes;
}

async function loadProposals(): Promise<void> {
  const p = await api<{ proposals: Proposal[]; previews: Preview[] }>("/api/v1/proposals");
  state.proposals = p.proposals;
  state.previews = p.previews;
}

async function loadCommit(sha: string): Promise<void> {
  try {
    state.commit = await api<Commit>(`/api/v1/commits/${encodeURIComponent(sha)}`);
  } catch (err) {
    if (err instanceof Unauthorized) throw err;
    state.commit = undefined;
  }
}

/** Reloads everything the current page shows. */
async function loadAll(): Promise<void> {
  state.dirty.clear();
  const route = currentRoute();
  await loadCommits();
  if (route.page === "overview") {
    await loadWorkloads();
    await loadNodes();
  } else if (route.page === "proposals") await loadProposals();
  else await loadCommit(route.sha);
  render();
}

// ---- live events ----------------------------------------------------------------------------------

/** Marks what an event changed; a reload follows (coalesced). */
function onEvent(type: string, data: Record<string, unknown>): void {
  switch (type) {
    case "reset":
      state.dirty.add("all");
      break;
    case "commit":
      state.dirty.add("commits");
      state.dirty.add("proposals");
      if (state.commit && state.commit.sha === data.sha) state.dirty.add("commit");
      break;
    case "rollout":
    case "pod":
      state.dirty.add("workloads");
      // Pod events name a cluster-scoped owner Kind/name, rollout events Kind//name (an empty namespace).
      if (typeof data.workload === "string") state.dirty.add(`w:${data.workload.split("/").length === 2 ? data.workload.replace("/", "//") : data.workload}`);
      if (type === "pod") state.dirty.add("nodes");
      break;
    case "node":
      state.dirty.add("nodes");
      break;
  }
  scheduleRefresh();
}

let refreshing: Promise<void> | undefined;
let refreshTimer: ReturnType<typeof setTimeout> | undefined;

function scheduleRefresh(): void {
  if (refreshTimer !== undefined) return;
  refreshTimer = setTimeout(() => {
    refreshTimer = undefined;
    void (refreshing ?? Promise.resolve()).then(() => {
      refreshing = refresh()
        .catch(handleError)
        .finally(() => (refreshing = undefined));
    });
  }, REFRESH_MS);
}

/** Reloads what events marked, for the page shown. */
async function refresh(): Promise<void> {
  const dirty = new Set(state.dirty);
  state.dirty.clear();
  if (dirty.size === 0) return;
  if (dirty.has("all")) return loadAll();
  const route = currentRoute();
  if (dirty.has("commits")) await loadCommits();
  if (route.page === "overview") {
    if (dirty.has("workloads")) {
      const only = new Set([...dirty].filter((d) => d.startsWith("w:")).map((d) => d.slice(2)));
      await loadWorkloads(only);
    }
    if (dirty.has("nodes")) await loadNodes();
  } else if (route.page === "proposals" && dirty.has("proposals")) await loadProposals();
  else if (route.page === "commit" && (dirty.has("commit") || !state.commit)) await loadCommit(route.sha);
  render();
}

/**
 * Follows GET /api/v1/events with fetch (EventSource cannot send the Authorization header): each event
 * marks what to reload; a dropped stream reconnects with Last-Event-ID after 1 s, doubling to 30 s. The
 * first connection (no id yet) loads everything once the stream is open, so nothing falls between the two.
 */
async function follow(): Promise<void> {
  state.stream?.abort();
  const abort = new AbortController();
  state.stream = abort;
  let delay: number = RECONNECT_MS[0];
  while (!abort.signal.aborted) {
    try {
      const headers: Record<string, string> = { accept: "text/event-stream", ...authHeaders() };
      if (state.lastEventId !== undefined) headers["last-event-id"] = state.lastEventId;
      const res = await fetch("/api/v1/events", { headers, signal: abort.signal, cache: "no-store" });
      if (res.status === 401) throw new Unauthorized();
      if (!res.ok || !res.body) throw new Error(`events: ${res.status}`);
      setLive("live");
      delay = RECONNECT_MS[0];
      if (state.lastEventId === undefined) {
        state.dirty.add("all");
        scheduleRefresh();
      }
      await readEvents(res.body);
    } catch (err) {
      if (abort.signal.aborted) return;
      if (err instanceof Unauthorized) return handleError(err);
    }
    setLive("reconnecting");
    await sleep(delay);
    delay = Math.min(delay * 2, RECONNECT_MS[1]);
  }
}

/** Reads Server-Sent Events from a stream until it ends. */
async function readEvents(body: ReadableStream<Uint8Array>): Promise<void> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer = (buffer + decoder.decode(value, { stream: true })).replace(/\r\n?/g, "\n");
    let cut: number;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      let type = "message";
      let id: string | undefined;
      const data: string[] = [];
      for (const line of block.split("\n")) {
        if (line.startsWith(":")) continue;
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
        if (field === "event") type = value;
        else if (field === "id") id = value;
        else if (field === "data") data.push(value);
      }
      if (id !== undefined) state.lastEventId = id;
      if (data.length === 0) continue;
      try {
        onEvent(type, JSON.parse(data.join("\n")) as Record<string, unknown>);
      } catch {
        // Not JSON: not an event of this API.
      }
    }
  }
}

function setLive(what: "connecting" | "live" | "reconnecting" | "signed out"): void {
  live.textContent = what === "live" ? "Live" : what === "connecting" ? "Connecting…" : what === "reconnecting" ? "Reconnecting…" : "Not signed in";
  live.dataset.state = what;
}

// ---- token ---------------------------------------------------------------------------------------

function handleError(err: unknown): void {
  if (err instanceof Unauthorized) {
    state.stream?.abort();
    const refused = token() !== null;
    sessionStorage.removeItem(TOKEN_KEY);
    setLive("signed out");
    askToken(refused);
    return;
  }
  const p = el("p", { role: "alert", class: "error" }, `Could not read the API: ${err instanceof Error ? err.message : String(err)}`);
  main.prepend(p);
}

/** The token form: shown when the API answers 401. */
function askToken(refused: boolean): void {
  forget.hidden = true;
  const input = el("input", { id: "token", name: "token", type: "password", autocomplete: "off", required: "", spellcheck: "false" }) as HTMLInputElement;
  const form = el(
    "form",
    { class: "token", "aria-labelledby": "token-title" },
    el("h2", { id: "token-title" }, "API token"),
    el("p", {}, "This operator's API needs a bearer token (one line of its --api-token-file; a read token is enough). It is kept in this tab only (sessionStorage) and sent in the Authorization header."),
    refused ? el("p", { role: "alert", class: "error" }, "The token was refused.") : null,
    el("label", { for: "token" }, "Token"),
    input,
    el("button", { type: "submit" }, "Sign in"),
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, input.value.trim());
    start();
  });
  main.replaceChildren(form);
  input.focus();
}

// ---- rendering -----------------------------------------------------------------------------------

type Child = Node | string | null | undefined | false;

/** An element with attributes and children (text as text nodes). */
function el(tag: string, attrs: Record<string, string> = {}, ...children: (Child | Child[])[]): HTMLElement {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) e.append(c);
  return e;
}

function short(sha: string): string {
  return sha.slice(0, 7);
}

function commitLink(sha: string): HTMLElement {
  return el("a", { href: `#/commit/${sha}`, class: "sha" }, short(sha));
}

function duration(ms: number | undefined): string {
  if (ms === undefined) return "—";
  return ms < 1000 ? `${Math.round(ms)} ms` : ms < 60_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}

function phaseBadge(phase: string): HTMLElement {
  return el("span", { class: `phase phase-${phase}`, "data-phase": phase }, phase);
}

function errorList(errors: RecordedError[]): HTMLElement {
  if (errors.length === 0) return el("p", {}, "No errors.");
  return el(
    "ul",
    { class: "errors" },
    errors.map((e) =>
      el(
        "li",
        { "data-code": e.code },
        e.file ? el("code", { class: "where" }, `${e.file}${e.line !== undefined ? `:${e.line}${e.col !== undefined ? `:${e.col}` : ""}` : ""}`) : null,
        " ",
        el("span", { class: "code" }, e.code),
        " ",
        e.message,
        e.object ? ` (${e.object}${e.field ? ` ${e.field}` : ""})` : null,
      ),
    ),
  );
}

function timeline(): HTMLElement {
  return el(
    "section",
    { "aria-labelledby": "commits-title" },
    el("h2", { id: "commits-title" }, `Commits (${state.totalCommits})`),
    state.commits.length === 0
      ? el("p", {}, "No commit processed yet.")
      : el(
          "ol",
          { class: "timeline", id: "timeline" },
          state.commits.map((c) =>
            el(
              "li",
              { "data-sha": c.sha, "data-phase": c.phase },
              phaseBadge(c.phase),
              " ",
              commitLink(c.sha),
              " ",
              el("span", { class: "subject" }, c.subject),
              el(
                "span",
                { class: "meta" },
                c.author ? ` by ${c.author.name}` : "",
                ` · ${duration(c.timings.durationMs)}`,
                c.applied ? " · applied" : "",
                c.stable ? " · stable" : "",
                c.quarantined ? " · quarantined" : "",
              ),
              c.rollback ? el("span", { class: "rollback" }, " · rolled back to ", commitLink(c.rollback.to), ` (${c.rollback.code})`) : null,
              c.revert ? el("span", { class: "revert" }, ` · revert ${c.revert.state}`, c.revert.commit ? [" ", commitLink(c.revert.commit)] : []) : null,
              c.supersededBy ? el("span", {}, " · superseded by ", commitLink(c.supersededBy)) : null,
            ),
          ),
        ),
  );
}

/** A bar: `value` of `max`, with its figures as text for screen readers and everyone. */
function bar(label: string, value: number, max: number, text: string): HTMLElement {
  const pct = max > 0 ? Math.min(100, Math.round((value / max) * 100)) : 0;
  return el(
    "div",
    { class: "bar-row" },
    el("span", { class: "bar-label" }, label),
    el("meter", { min: "0", max: String(max || 1), value: String(value), "aria-label": `${label} ${text}`, class: pct >= 90 ? "high" : "" }),
    el("span", { class: "bar-text" }, text),
  );
}

function rolloutCell(w: WorkloadSummary, d: Workload | undefined): HTMLElement {
  const pods = d?.pods ?? [];
  const fresh = pods.filter((p) => p.revision === w.revision);
  const old = pods.filter((p) => p.revision !== w.revision);
  const progressing = w.conditions.find((c) => c.type === "Progressing");
  const t = d?.traffic;
  return el(
    "div",
    { class: "rollout" },
    bar("updated", w.replicas.updated, w.replicas.desired, `${w.replicas.updated}/${w.replicas.desired}`),
    el(
      "p",
      {
        class: "pods",
        "data-new-pods": String(fresh.length),
        "data-new-ready": String(fresh.filter((p) => p.ready).length),
        "data-old-pods": String(old.length),
        "data-old-ready": String(old.filter((p) => p.ready).length),
      },
      `new ${short(w.revision)}: ${fresh.filter((p) => p.ready).length}/${fresh.length} ready`,
      old.length > 0 ? ` · old ${[...new Set(old.map((p) => short(p.revision)))].join(", ")}: ${old.filter((p) => p.ready).length}/${old.length} ready` : "",
    ),
    d?.canary ? el("p", { class: "canary", "data-step": String(d.canary.step) }, `canary step ${d.canary.step}/${d.canary.steps}, weight ${d.canary.weight}%${d.canary.waiting ? ` — ${d.canary.waiting}` : ""}`) : null,
    d?.blueGreen
      ? el(
          "p",
          { class: "bluegreen" },
          `active ${d.blueGreen.active ? short(d.blueGreen.active) : "—"}, preview ${d.blueGreen.preview ? short(d.blueGreen.preview) : "—"}${d.blueGreen.waiting ? ` — ${d.blueGreen.waiting}` : ""}`,
        )
      : null,
    t
      ? el(
          "p",
          { class: "traffic" },
          t.strategy === "canary" ? `traffic: canary ${t.weight ?? 0}% / stable ${100 - (t.weight ?? 0)}%` : `traffic: active ${t.active ? short(t.active) : "—"}`,
          t.applied ? "" : " (not yet on every proxy)",
          t.services.length > 0 ? ` via ${t.services.map((s) => `${s.service} (${s.role})`).join(", ")}` : "",
        )
      : null,
    progressing ? el("p", { class: "condition" }, `${progressing.reason}${progressing.status === "True" ? "" : ` (${progressing.status})`}`) : null,
  );
}

function workloadsSection(): HTMLElement {
  const byNs = new Map<string, WorkloadSummary[]>();
  for (const w of state.workloads) {
    const ns = w.namespace || "(cluster)";
    byNs.set(ns, [...(byNs.get(ns) ?? []), w]);
  }
  return el(
    "section",
    { "aria-labelledby": "workloads-title" },
    el("h2", { id: "workloads-title" }, "Workloads"),
    byNs.size === 0 ? el("p", {}, "No workload.") : null,
    [...byNs].map(([ns, ws]) =>
      el(
        "section",
        { class: "namespace", "aria-label": `namespace ${ns}` },
        el("h3", {}, ns),
        el(
          "table",
          {},
          el(
            "thead",
            {},
            el(
              "tr",
              {},
              ["Workload", "Strategy", "Ready", "Rollout"].map((h) => el("th", { scope: "col" }, h)),
            ),
          ),
          el(
            "tbody",
            {},
            ws.map((w) =>
              el(
                "tr",
                { "data-workload": keyOf(w), "data-revision": w.revision },
                el("th", { scope: "row" }, `${w.kind}/${w.name}`, w.paused ? el("span", { class: "paused" }, " paused") : null),
                el("td", {}, w.strategy ?? "—"),
                el("td", { class: "ready" }, `${w.replicas.ready}/${w.replicas.desired}`),
                el("td", {}, rolloutCell(w, state.details.get(keyOf(w)))),
              ),
            ),
          ),
        ),
      ),
    ),
  );
}

function gib(bytes: number): string {
  return bytes >= 2 ** 30 ? `${(bytes / 2 ** 30).toFixed(1)} GiB` : `${Math.round(bytes / 2 ** 20)} MiB`;
}

function nodesSection(): HTMLElement {
  return el(
    "section",
    { "aria-labelledby": "nodes-title" },
    el("h2", { id: "nodes-title" }, "Nodes"),
    state.nodes.length === 0 ? el("p", {}, "No node.") : null,
    el(
      "ul",
      { class: "nodes" },
      state.nodes.map((n) =>
        el(
          "li",
          { "data-node": n.name, "data-condition": n.condition },
          el("h3", {}, n.name, " ", el("span", { class: `condition ${n.ready ? "ok" : "bad"}` }, n.condition), n.draining ? " draining" : n.unschedulable ? " cordoned" : ""),
          n.allocatable && n.requested
            ? [
                bar("cpu", n.requested.cpuMillis, n.allocatable.cpuMillis, `${n.requested.cpuMillis}m of ${n.allocatable.cpuMillis}m`),
                bar("memory", n.requested.memoryBytes, n.allocatable.memoryBytes, `${gib(n.requested.memoryBytes)} of ${gib(n.allocatable.memoryBytes)}`),
              ]
            : el("p", {}, "no allocation yet"),
          el("p", { class: "meta" }, `${n.pods} pod${n.pods === 1 ? "" : "s"}`, n.taints.length ? ` · taints ${n.taints.map((t) => `${t.key}=${t.value}:${t.effect}`).join(", ")}` : ""),
          n.message ? el("p", { class: "error" }, n.message) : null,
        ),
      ),
    ),
  );
}

function changesTable(changes: Change[]): HTMLElement {
  if (changes.length === 0) return el("p", {}, "No change.");
  return el(
    "table",
    { class: "plan" },
    el(
      "thead",
      {},
      el(
        "tr",
        {},
        ["Action", "Object", "What changes", "New pods"].map((h) => el("th", { scope: "col" }, h)),
      ),
    ),
    el(
      "tbody",
      {},
      changes.map((c) =>
        el(
          "tr",
          { "data-change": c.key },
          el("td", {}, c.action),
          el("th", { scope: "row" }, c.key),
          el("td", {}, (c.details ?? c.fields).join("; ")),
          el("td", {}, (c.placements ?? []).map((p) => `${p.pod} → ${p.fits ? (p.node ?? "?") : `does not fit${p.message ? `: ${p.message}` : ""}`}`).join("; ")),
        ),
      ),
    ),
  );
}

function commitPage(sha: string): HTMLElement {
  const c = state.commit;
  if (!c?.sha.startsWith(sha)) return el("section", {}, el("h2", {}, `Commit ${short(sha)}`), el("p", {}, "No such commit was processed."));
  return el(
    "article",
    { "aria-labelledby": "commit-title", "data-sha": c.sha },
    el("h2", { id: "commit-title" }, c.subject || short(c.sha)),
    el(
      "dl",
      {},
      el("dt", {}, "Commit"),
      el("dd", {}, el("code", {}, c.sha), ` on ${c.branch}`),
      el("dt", {}, "Author"),
      el("dd", {}, c.author ? `${c.author.name} <${c.author.email}>, ${c.author.time}` : "—"),
      el("dt", {}, "Phase"),
      el("dd", { id: "commit-phase" }, phaseBadge(c.phase), c.message ? ` ${c.message}` : ""),
      el("dt", {}, "Duration"),
      el("dd", {}, `${duration(c.timings.durationMs)} (seen ${c.timings.seen}${c.timings.finished ? `, finished ${c.timings.finished}` : ""})`),
      c.rollback ? [el("dt", {}, "Rollback"), el("dd", {}, "to ", commitLink(c.rollback.to), `: ${c.rollback.code} ${c.rollback.reason}`)] : [],
      c.revert ? [el("dt", {}, "Revert"), el("dd", {}, `${c.revert.state} `, c.revert.commit ? commitLink(c.revert.commit) : "", ` ${c.revert.message}`)] : [],
      c.plan ? [el("dt", {}, "Proposal plan"), el("dd", {}, el("a", { href: "#/proposals" }, c.plan))] : [],
    ),
    el("h3", {}, "Plan"),
    c.changes.length
      ? el(
          "ul",
          { class: "changes" },
          c.changes.map((x) => el("li", {}, x)),
        )
      : el("p", {}, "No change."),
    el("h3", {}, "Errors"),
    errorList(c.errors),
  );
}

function proposalsPage(): HTMLElement {
  return el(
    "section",
    { "aria-labelledby": "proposals-title" },
    el("h2", { id: "proposals-title" }, "Proposals"),
    state.proposals.length === 0 ? el("p", {}, "No proposal planned.") : null,
    state.proposals.map((p) =>
      el(
        "article",
        { class: "proposal", "data-proposal": p.name, "aria-label": `proposal ${p.name}` },
        el("h3", {}, p.name, " ", el("span", { class: `phase ${p.valid ? "phase-Succeeded" : "phase-Invalid"}` }, p.valid ? "valid" : "invalid")),
        el("p", { class: "meta" }, `${p.ref} at `, el("code", {}, short(p.commit)), p.base ? [" against ", commitLink(p.base)] : [], p.preview ? ` · preview ${p.preview.namespace} ${p.preview.state}` : ""),
        changesTable(p.changes),
        p.errors.length ? errorList(p.errors) : null,
      ),
    ),
    state.previews.length
      ? [
          el("h3", {}, "Previews"),
          el(
            "ul",
            {},
            state.previews.map((v) => el("li", {}, `${v.name} (${v.ref}, ${short(v.commit)}): ${v.namespaces.join(", ")} until ${v.expiresAt}`)),
          ),
        ]
      : [],
  );
}

type Route = { page: "overview" } | { page: "proposals" } | { page: "commit"; sha: string };

function currentRoute(): Route {
  const h = location.hash.replace(/^#\/?/, "");
  const m = /^commit\/([0-9a-f]{4,40})$/.exec(h);
  if (m) return { page: "commit", sha: m[1]! };
  if (h === "proposals") return { page: "proposals" };
  return { page: "overview" };
}

function render(): void {
  const route = currentRoute();
  forget.hidden = token() === null;
  for (const a of document.querySelectorAll<HTMLAnchorElement>("nav a")) {
    if (a.getAttribute("href") === (route.page === "proposals" ? "#/proposals" : "#/")) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  if (route.page === "overview") main.replaceChildren(timeline(), workloadsSection(), nodesSection());
  else if (route.page === "proposals") main.replaceChildren(proposalsPage());
  else main.replaceChildren(commitPage(route.sha));
  main.dataset.page = route.page;
}

// ---- start ---------------------------------------------------------------------------------------

function start(): void {
  setLive("connecting");
  state.lastEventId = undefined;
  void follow();
}

forget.addEventListener("click", () => {
  sessionStorage.removeItem(TOKEN_KEY);
  state.stream?.abort();
  setLive("signed out");
  askToken(false);
});
window.addEventListener("hashchange", () => {
  state.commit = undefined;
  // The new page's content gets the focus, so that a screen reader reads it rather than the old link.
  void loadAll()
    .then(() => main.focus())
    .catch(handleError);
});
start();
