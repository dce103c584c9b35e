/**
 * The node proxy as the service controller sees it: one HAProxy per node that takes a whole configuration
 * (a reload) or runtime-API edits (no reload), reports its health and its per-server counters, and stops.
 * The configuration text and the edit commands are made elsewhere (traffic/); this side only applies them.
 */
import type { ErrorCode } from "../../api/errors.js";
import type { RequestLogTarget } from "../../traffic/haproxy.js";
import type { RequestRecord } from "../../traffic/types.js";

/**
 * What to apply: the whole configuration text (validated, then a hitless reload, or the first start), or
 * runtime-API commands (one HAProxy CLI command each, e.g. `set server be/s1 state drain`) applied in order
 * to the running configuration without a reload. `files` are files the text names as `<filesDir>/<name>`
 * (certificates and their keys, crt-lists): the proxy writes them before it checks the text.
 */
export type ProxyChange = { reload: true; text: string; files?: readonly ProxyChangeFile[] } | { reload: false; commands: string[] };

/** A file of a configuration: a plain name (letters, digits, '.', '_', '-'), and its content. */
export interface ProxyChangeFile {
  name: string;
  content: string;
}

/** How a node proxy is doing, from the manager's own bookkeeping (no call to the proxy). */
export interface ProxyHealth {
  /** A proxy process is up (started or adopted, and not seen dead). */
  running: boolean;
  /** The pid of the proxy's master process while running. */
  pid?: number;
  /** The configuration text last applied with a reload: its sha256 (hex) and when it was applied (epoch ms). */
  config?: { hash: string; appliedAt: number };
  /** The error of the last apply or restart that failed; cleared by the next one that succeeds. */
  lastError?: { code: ErrorCode; message: string; at: number };
  /** How many times the manager started the proxy again after it died (attempts, failed ones included). */
  restarts: number;
}

/**
 * Counters of one backend (`server` undefined: the backend as a whole) or one of its servers, from
 * HAProxy's `show stat`. They count from the start of the serving process: a reload starts them at zero.
 */
export interface ProxyServerStats {
  backend: string;
  server?: string;
  /** HAProxy's status: "UP", "DOWN", "MAINT", "DRAIN", "no check", … */
  status: string;
  /** Servers: the weight set (0–256); backends: the sum of the effective weights of their servers taking traffic. */
  weight: number;
  /** Servers: "ip:port" as HAProxy has it now. */
  address?: string;
  /** HTTP requests (0 in TCP mode). */
  requestsTotal: number;
  /** Sessions (connections in TCP mode). */
  sessionsTotal: number;
  responses2xx: number;
  responses3xx: number;
  responses4xx: number;
  responses5xx: number;
  /** Failed connection attempts to servers. */
  connectionErrors: number;
  currentSessions: number;
  /** Requests waiting for a server. */
  queued: number;
  /** Average response time (ms) over the last 1024 requests. */
  responseTimeMs: number;
  /** Average total session time (ms) over the last 1024 requests. */
  totalTimeMs: number;
}

/**
 * The request log of a node proxy: a record of every request (or TCP connection) of the listeners that log
 * them (ProxyListener.requestLog), collected by the operator as the proxy sends them. Records are
 * delivered once, in the order they arrived; none are kept (whoever needs a window keeps its records).
 */
export interface RequestLog {
  /**
   * Starts collecting (the first call; later ones give the same answer) and resolves to where the proxy
   * must send its log and the tag of its lines: HaproxyOptions.requestLog of the configurations it is given.
   */
  start(): Promise<RequestLogTarget>;
  /** Calls `listener` with every batch of records that arrives from now on; returns what stops that. */
  subscribe(listener: (records: readonly RequestRecord[]) => void): () => void;
}

/** One node's proxy. Calls are serialized: an apply waits for the one before it. */
export interface NodeProxy {
  /**
   * False when the proxy takes whole configurations only (apply({ reload: false }) is refused): the
   * controller then renders the whole configuration and reloads. Absent means true.
   */
  readonly runtimeApi?: boolean;
  /**
   * The directory (absolute, as the proxy reads it) where the files of a change go: a configuration names
   * them `<filesDir>/<name>`. Absent: this proxy takes no files, and a change with files is refused
   * (ProxyConfigInvalid).
   */
  readonly filesDir?: string;
  /** Its request log; absent: this proxy logs no requests, and a listener that would is refused (InvalidArgument). */
  readonly requestLog?: RequestLog;
  /**
   * Where the proxy's `peers` unix socket goes (absolute, as the proxy sees it): the stick tables of
   * ClientIP affinity cross reloads through it (HaproxyOptions.peersSocket). Absent: they do not.
   */
  readonly peersSocket?: string;
  /**
   * Applies a change and resolves once the proxy serves it (after a reload: the new process answers). The
   * files of a reload are written (mode 0600) before the text is checked; files of earlier reloads that
   * the new one does not name are removed once it serves.
   * Throws CoxError: ProxyConfigInvalid (the text does not load; the running configuration is kept),
   * ProxyBindFailed (an address cannot be bound; the running configuration is kept), ProxyCommandRejected
   * (a runtime-API command was refused; the ones before it were applied), ProxyUnreachable (the proxy is
   * not running or does not answer), CommandNotFound (no haproxy binary).
   */
  apply(change: ProxyChange): Promise<void>;
  /** The manager's view of the proxy; see ProxyHealth. */
  health(): ProxyHealth;
  /** Per backend and server counters, sorted by backend, the backend's own row first, then by server. */
  stats(): Promise<ProxyServerStats[]>;
  /**
   * Stops the proxy this manager runs (or one an earlier manager of the same place left running: adopted
   * first), gracefully, then by force after a bound, and its request log; later applies fail.
   */
  close(): Promise<void>;
}
