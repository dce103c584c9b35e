/**
 * Reading what HAProxy 2.6 says: the master CLI's `show proc`, the stats socket's `show info`, `show stat`
 * CSV and runtime-API answers, and the [ALERT] lines it prints when a configuration does not load or a
 * listener cannot bind. Pure text in, data out; the formats were taken from Debian's 2.6.12.
 */
import type { ProxyServerStats } from "./types.js";

/** The master and its current workers, as the master CLI's `show proc` lists them. */
export interface MasterProcs {
  masterPid: number;
  /** Reloads of the master so far (every reload, failed ones included). */
  reloads: number;
  /** Non-zero when the last reload failed (HAProxy resets it to 0 on a successful one). */
  failedReloads: number;
  /** Workers still serving (not the leaving ones); reloads 0 is the one started by the last successful (re)load. */
  workers: { pid: number; reloads: number }[];
}

/**
 * Parses `show proc`, e.g. "123  master  2 [failed: 0]  0d00h00m04s  2.6.12", then "# workers" rows
 * "456  worker  0  …". Rows under other headers ("# old workers", "# programs") are not workers that serve
 * the current configuration. Undefined when there is no master row.
 */
export function parseShowProc(text: string): MasterProcs | undefined {
  let master: Omit<MasterProcs, "workers"> | undefined;
  const workers: MasterProcs["workers"] = [];
  let section = "";
  for (const line of text.split("\n")) {
    if (line.startsWith("#")) {
      section = line.startsWith("#<") ? "" : line.slice(1).trim();
      continue;
    }
    const m = /^(\d+)\s+master\s+(\d+)(?:\s+\[failed:\s*(\d+)\])?/.exec(line);
    if (m) {
      master = { masterPid: Number(m[1]), reloads: Number(m[2]), failedReloads: Number(m[3] ?? 0) };
      continue;
    }
    const w = /^(\d+)\s+worker\s+(\d+)/.exec(line);
    if (w && section === "workers") workers.push({ pid: Number(w[1]), reloads: Number(w[2]) });
  }
  return master === undefined ? undefined : { ...master, workers };
}

/** The serving process's pid from the stats socket's `show info`; undefined when absent. */
export function parseInfoPid(text: string): number | undefined {
  const m = /^Pid: (\d+)$/m.exec(text);
  return m ? Number(m[1]) : undefined;
}

/** Splits one CSV line; HAProxy quotes a field (doubling inner quotes) only when it holds a comma or quote. */
function splitCsv(line: string): string[] {
  const out: string[] = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") {
      out.push(field);
      field = "";
    } else field += c;
  }
  out.push(field);
  return out;
}

/**
 * Parses `show stat` CSV (header "# pxname,svname,…") into backend rows (type 1) and server rows (type 2),
 * sorted by backend, the backend's own row first, then by server name. Empty counters read as 0.
 */
export function parseStatCsv(text: string): ProxyServerStats[] {
  const lines = text.split("\n");
  const header = lines.find((l) => l.startsWith("# "));
  if (header === undefined) return [];
  const names = splitCsv(header.slice(2));
  const col = new Map(names.map((n, i) => [n, i]));
  const out: ProxyServerStats[] = [];
  for (const line of lines) {
    if (line === "" || line.startsWith("#")) continue;
    const f = splitCsv(line);
    const str = (name: string): string => f[col.get(name) ?? -1] ?? "";
    const num = (name: string): number => {
      const v = Number(str(name));
      return str(name) === "" || !Number.isFinite(v) ? 0 : v;
    };
    const type = str("type");
    if (type !== "1" && type !== "2") continue;
    const row: ProxyServerStats = {
      backend: str("pxname"),
      status: str("status"),
      weight: type === "2" ? num("uweight") : num("weight"),
      requestsTotal: num("req_tot"),
      sessionsTotal: num("stot"),
      responses2xx: num("hrsp_2xx"),
      responses3xx: num("hrsp_3xx"),
      responses4xx: num("hrsp_4xx"),
      responses5xx: num("hrsp_5xx"),
      connectionErrors: num("econ"),
      currentSessions: num("scur"),
      queued: num("qcur"),
      responseTimeMs: num("rtime"),
      totalTimeMs: num("ttime"),
    };
    if (type === "2") {
      row.server = str("svname");
      if (str("addr") !== "") row.address = str("addr");
    }
    out.push(row);
  }
  return out.sort(compareStats);
}

function compareStats(a: ProxyServerStats, b: ProxyServerStats): number {
  if (a.backend !== b.backend) return a.backend < b.backend ? -1 : 1;
  if (a.server === b.server) return 0;
  if (a.server === undefined) return -1;
  if (b.server === undefined) return 1;
  return a.server < b.server ? -1 : 1;
}

/**
 * Answers of runtime-API commands that mean success. Most successful edits answer nothing; `set server …
 * addr` reports what changed, `add server`/`del server` confirm. Anything else is HAProxy refusing the
 * command ("No such server.", "Absolute weight can only be between 0 and 256 inclusive.", "Unknown
 * command…"), so an answer not listed here is an error rather than a silently ignored edit.
 */
const OK_ANSWERS = [/^(IP changed from|no need to change the addr)\b.* by '[^']*'$/i, /^New server registered\.$/, /^Server deleted\.$/, /^health check (addr|port) updated\.$/];

/** The error HAProxy answered to one runtime-API command, or undefined when the answer means success. */
export function runtimeAnswerError(answer: string): string | undefined {
  const lines = answer
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "");
  const bad = lines.filter((l) => !OK_ANSWERS.some((re) => re.test(l)));
  return bad.length === 0 ? undefined : bad.join(" ");
}

/**
 * HAProxy's [ALERT] lines from its output, without the "[ALERT] (pid) :" prefix (the pid changes from run
 * to run) and with the file it read (`path`) named `name`, so that "[haproxy.cfg:12]" points into the
 * generated text whatever temporary file was checked.
 */
export function alertLines(output: string, path: string, name: string): string[] {
  return output
    .split("\n")
    .filter((l) => l.startsWith("[ALERT]"))
    .map((l) =>
      l
        .replace(/^\[ALERT\]\s*\(\d+\)\s*:\s*/, "")
        .split(path)
        .join(name)
        .trimEnd(),
    );
}

/** A listener HAProxy could not bind. */
export interface BindFailure {
  /** The address as HAProxy prints it: "127.0.0.1:8080", "[::1]:80", a socket path. */
  bind: string;
  /** The system's reason: "Address already in use", "Cannot assign requested address", … */
  reason: string;
  /** Where in the configuration: "haproxy.cfg:12", when HAProxy said. */
  where?: string;
}

/**
 * The binds in alert lines such as "Binding [haproxy.cfg:9] for frontend fe: cannot bind socket (Address
 * already in use) for [127.0.0.1:18482]", in the order HAProxy first reported them, each once (a container's
 * log stream can deliver the same alert twice: seen once in CI under load).
 */
export function bindFailures(lines: readonly string[]): BindFailure[] {
  const out: BindFailure[] = [];
  const seen = new Set<string>();
  for (const line of lines) {
    const m = /cannot bind socket \(([^)]*)\) for \[(.+)\]\s*$/.exec(line);
    if (!m) continue;
    const where = /^Binding \[([^\]]+)\]/.exec(line)?.[1];
    const key = `${m[2]}\0${m[1]}\0${where ?? ""}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ bind: m[2]!, reason: m[1]!, ...(where !== undefined ? { where } : {}) });
  }
  return out;
}
