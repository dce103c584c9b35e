/**
 * A fleet of real Docker engines on this machine for integration and end-to-end tests: N dockerd
 * daemons side by side, each with its own socket, data root, exec root, pidfile, log and port range,
 * all under one temp dir.
 *
 * Cleanup is by pid only, never by process name: stop() removes every container (so no shim keeps
 * running), SIGTERMs each daemon, SIGKILLs it after a wait, kills what is left of its process tree,
 * unmounts what the daemon left mounted under the fleet dir and removes the dir. A process exit handler
 * does the same synchronously if a test forgets stop() or the worker dies on a signal; and every
 * startFleet() first reaps fleets whose owning test process no longer exists (a run killed with -9).
 *
 * With `tls: true` every engine also listens on tcp://127.0.0.1:<free port> with --tlsverify: a server
 * certificate for 127.0.0.1 signed by a CA made for the fleet (test/support/tls.ts), client certificates
 * required. Each node exposes that endpoint and the client's PEM credentials.
 *
 * Set CX_FLEET_KEEP=1 to keep the fleet dir (daemon logs) after stop() for debugging.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { stringify } from "yaml";
import { TEST_PROXY_IMAGE } from "./images.js";
import { makeTestPki, type TestPki } from "./tls.js";

/** One engine of a test fleet. */
export interface FleetNode {
  /** "node-1", "node-2", … */
  name: string;
  /** The engine's unix socket. */
  socketPath: string;
  /** "unix://" + socketPath, as a Node manifest wants it. */
  endpoint: string;
  /** Pid of the dockerd process (changes after startNode). */
  pid: number;
  /** Host ports reserved for this node, "from-to" inclusive; disjoint across nodes and across fleets. */
  portRange: string;
  /** The node's directory (data root, exec root, pidfile, dockerd.log). */
  dir: string;
  /** Storage driver the daemon runs with ("overlay2", or "vfs" when overlay2 failed here). */
  storageDriver: "overlay2" | "vfs";
  /** With FleetOptions.tls: "tcp://127.0.0.1:<port>", where the engine speaks TLS and requires a client certificate. */
  tcpEndpoint?: string;
  /** With FleetOptions.tls: what a client needs for tcpEndpoint (PEM): the CA, a client certificate and its key. */
  tls?: { ca: string; cert: string; key: string };
}

/** A running fleet. */
export interface TestFleet {
  name: string;
  /** The temp dir holding every node's dir. */
  dir: string;
  nodes: FleetNode[];
  /** Simulates node loss: SIGTERM to the node's dockerd, SIGKILL after a wait. Resolves when it is gone. */
  stopNode(index: number): Promise<void>;
  /** Starts a stopped node again on the same data root (its containers are still known) and waits for /_ping. */
  startNode(index: number): Promise<void>;
  /**
   * Simulates a hung engine: SIGSTOP to the node's dockerd. Resolves once every thread of the daemon is
   * stopped (/proc/<pid>/task/<tid>/stat in state T): the kernel stops threads one by one, and until the
   * last one has stopped the daemon may still answer (a request was once answered 58 ms after the signal).
   */
  pauseNode(index: number): Promise<void>;
  /** Lets a paused node run again (SIGCONT). */
  resumeNode(index: number): void;
  /** Removes every container, stops every daemon, removes the temp dir. Idempotent. */
  stop(): Promise<void>;
  /**
   * YAML of coxswain.io/v1alpha1 Node objects for the fleet (endpoint, network host, address 127.0.0.1,
   * portRange, serviceNetwork 127.<100+slot>.0.0/16 so that no two nodes' proxies on this machine share an address, proxyImage
   * TEST_PROXY_IMAGE; `network: "bridge"` for bridge nodes). With `tls` (a fleet started with tls), each Node uses its tcp:// endpoint with
   * spec.tls.secretRef "<node>-tls" in namespace default, and a kubernetes.io/tls Secret of that name
   * (stringData ca.crt, tls.crt, tls.key: the client's credentials) precedes it. With `ownAddresses`,
   * each Node has an address of its own, 127.<100+slot>.128.1, above a Service network of half the size
   * (127.<100+slot>.0.0/17): for what every node binds on its address at the same port (the Ingress ports).
   * Pods must then listen on that address or on all of them (the test app: env BIND=0.0.0.0).
   */
  nodeManifests(options?: { tls?: boolean; ownAddresses?: boolean; network?: "host" | "bridge" }): string;
  /** With FleetOptions.tls: the fleet's CA, server and client certificates (keys included). */
  pki?: TestPki;
}

/** Options of startFleet. */
export interface FleetOptions {
  /** Number of engines (≥ 1). */
  nodes: number;
  /** Short name used in the temp dir and manifests (default "fleet"). */
  name?: string;
  /**
   * First port of node 1's range; node i gets portBase + 1000·i … +999. Without it, each node takes a
   * free 1000-port slot in 20000–59999 reserved machine-wide (lock files), so fleets of concurrently
   * running suites never share ports.
   */
  portBase?: number;
  /** How long to wait for each daemon's /_ping (default 60 s). */
  startTimeoutMs?: number;
  /** Also listen on tcp://127.0.0.1:<free port> with TLS and client-certificate verification (default false). */
  tls?: boolean;
}

const PORT_SLOT_BASE = 20_000;
const PORT_SLOT_SIZE = 1_000;
const PORT_SLOTS = 40;
const FLEET_PREFIX = "cxf-";
/**
 * The lock files of the port slots (and the address slots derived from them): in /tmp itself, not under
 * TMPDIR, so that every test process of the machine shares them — CI gives its run a TMPDIR of its own,
 * and fleets of two TMPDIRs taking one slot would bind the same ports and address pools.
 */
const SLOT_DIR = path.join("/tmp", `${FLEET_PREFIX}ports`);

function findExecutable(name: string): string | undefined {
  const dirs = (process.env.PATH ?? "").split(path.delimiter).concat(["/usr/sbin", "/usr/bin", "/sbin", "/bin", "/usr/local/bin"]);
  for (const dir of dirs) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      // next
    }
  }
  return undefined;
}

/** Synchronous availability check: dockerd, containerd and runc are installed and we are root. */
function dockerAvailableSync(): boolean {
  if (typeof process.getuid !== "function" || process.getuid() !== 0) return false;
  return ["dockerd", "containerd", "runc"].every((b) => findExecutable(b) !== undefined);
}

/**
 * For test files: true when Docker suites can run. When they cannot, returns false locally (use
 * describe.skipIf(!requireDocker(name))), but throws in CI (CI=true), so that a CI machine without
 * Docker fails the suite instead of skipping it silently.
 */
export function requireDocker(suiteName: string): boolean {
  if (dockerAvailableSync()) return true;
  const why = "needs root and dockerd, containerd and runc on PATH (apt-get install -y docker.io busybox-static)";
  if (process.env.CI === "true") throw new Error(`${suiteName}: Docker is not available in CI: ${why}`);
  console.warn(`${suiteName}: skipped, Docker is not available: ${why}`);
  return false;
}

// ---------------------------------------------------------------- process bookkeeping (by pid)

/** Start time of a process (clock ticks since boot, /proc/<pid>/stat field 22), to tell a reused pid from ours. */
function processStartTime(pid: number): string | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return fields[19]; // field 22 overall; fields here start at field 3
  } catch {
    return undefined;
  }
}

function processState(pid: number): string | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[0];
  } catch {
    return undefined;
  }
}

/** True when every thread of the process is stopped (state T, or t under a tracer); false when it is gone. */
function allThreadsStopped(pid: number): boolean {
  let tids: string[];
  try {
    tids = fs.readdirSync(`/proc/${pid}/task`);
  } catch {
    return false;
  }
  return (
    tids.length > 0 &&
    tids.every((tid) => {
      try {
        const stat = fs.readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8");
        const state = stat.slice(stat.lastIndexOf(")") + 2)[0];
        return state === "T" || state === "t";
      } catch {
        return true; // the thread exited: it runs no more
      }
    })
  );
}

function alive(pid: number): boolean {
  const state = processState(pid);
  return state !== undefined && state !== "Z" && state !== "X";
}

interface ProcInfo {
  pid: number;
  ppid: number;
  cmdline: string;
}

function listProcesses(): ProcInfo[] {
  const out: ProcInfo[] = [];
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      const cmdline = fs.readFileSync(`/proc/${entry}/cmdline`, "utf8").replace(/\0/g, " ");
      out.push({ pid: Number(entry), ppid, cmdline });
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

/**
 * Every process that belongs to a fleet dir: processes whose command line names the dir (dockerd,
 * containerd, containerd-shim), plus the given root pids, plus all their descendants (the containers).
 */
function fleetProcesses(dir: string, roots: number[]): number[] {
  // Match "<dir>/" so that node-1 does not claim node-10's processes.
  const needle = dir.endsWith("/") ? dir : dir + "/";
  const procs = listProcesses();
  const children = new Map<number, number[]>();
  for (const p of procs) {
    const list = children.get(p.ppid) ?? [];
    list.push(p.pid);
    children.set(p.ppid, list);
  }
  const found = new Set<number>();
  const stack = [...roots.filter((pid) => pid > 1), ...procs.filter((p) => p.cmdline.includes(needle)).map((p) => p.pid)];
  while (stack.length) {
    const pid = stack.pop()!;
    if (pid === process.pid || found.has(pid)) continue;
    found.add(pid);
    for (const c of children.get(pid) ?? []) stack.push(c);
  }
  return [...found];
}

function cmdlineOf(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ");
  } catch {
    return "";
  }
}

function killSync(pids: number[], signal: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  }
}

/** Unmounts (lazily) everything mounted under dir, deepest first: dockerd leaves exec-root/netns/default behind. */
function unmountUnder(dir: string): void {
  let mounts: string[] = [];
  try {
    mounts = fs
      .readFileSync("/proc/self/mounts", "utf8")
      .split("\n")
      .map((l) => l.split(" ")[1] ?? "")
      .map((p) => p.replace(/\\040/g, " "))
      .filter((p) => p === dir || p.startsWith(dir + "/"));
  } catch {
    return;
  }
  for (const m of mounts.sort((a, b) => b.length - a.length)) spawnSync("umount", ["-l", m], { stdio: "ignore" });
}

function removeDirSync(dir: string): void {
  unmountUnder(dir);
  try {
    fs.rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
  } catch {
    unmountUnder(dir);
    fs.rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
  }
}

/** Kills a fleet's whole process tree, deletes its known bridges and removes its dir, synchronously (exit handler, reaper). */
function destroyFleetSync(dir: string, pids: number[], keepDir: boolean, bridges: string[] = []): void {
  // A recorded pid counts only while its command line still names the fleet dir: pids get reused.
  const roots = pids.filter((pid) => pid > 0 && alive(pid) && cmdlineOf(pid).includes(dir + "/"));
  const victims = fleetProcesses(dir, roots);
  killSync(victims, "SIGKILL");
  // Give the kernel a moment to tear processes down before unmounting what they used.
  const until = Date.now() + 2_000;
  while (Date.now() < until && victims.some(alive)) spawnSync("sleep", ["0.05"]);
  deleteBridgesSync(bridges);
  if (keepDir) unmountUnder(dir);
  else removeDirSync(dir);
}

/** Fleets started by this process and not stopped yet. */
const liveFleets = new Map<string, { pids: () => number[]; bridges: () => string[]; slots: string[] }>();
let handlersInstalled = false;

function emergencyCleanup(): void {
  for (const [dir, fleet] of liveFleets) {
    try {
      destroyFleetSync(dir, fleet.pids(), process.env.CX_FLEET_KEEP === "1", fleet.bridges());
    } catch {
      // best effort: keep going with the other fleets
    }
    for (const slot of fleet.slots) fs.rmSync(slot, { force: true });
  }
  liveFleets.clear();
}

function installExitHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on("exit", emergencyCleanup);
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    const handler = () => {
      emergencyCleanup();
      process.removeListener(signal, handler);
      process.kill(process.pid, signal); // die of the signal as we would have
    };
    process.on(signal, handler);
  }
}

interface OwnerRecord {
  pid: number;
  startTime: string | undefined;
}

function ownerAlive(owner: OwnerRecord): boolean {
  return alive(owner.pid) && (owner.startTime === undefined || processStartTime(owner.pid) === owner.startTime);
}

function me(): OwnerRecord {
  return { pid: process.pid, startTime: processStartTime(process.pid) };
}

/**
 * Removes fleets (daemons, their process trees, mounts, dirs) and port slots left behind by test
 * processes that died without cleaning up (killed with -9). startFleet() calls it first; a fleet whose
 * owner process is alive is never touched.
 */
export function reapAbandonedFleets(): void {
  const tmp = os.tmpdir();
  let entries: string[] = [];
  try {
    entries = fs.readdirSync(tmp);
  } catch {
    return;
  }
  for (const entry of entries) {
    if (!entry.startsWith(FLEET_PREFIX) || entry === `${FLEET_PREFIX}ports`) continue;
    const dir = path.join(tmp, entry);
    let owner: OwnerRecord;
    try {
      owner = JSON.parse(fs.readFileSync(path.join(dir, "owner.json"), "utf8")) as OwnerRecord;
    } catch {
      continue; // not ours, or still being created
    }
    if (ownerAlive(owner) || liveFleets.has(dir)) continue;
    const pids: number[] = [];
    for (const node of fs.readdirSync(dir)) {
      try {
        const pid = Number(fs.readFileSync(path.join(dir, node, "docker.pid"), "utf8").trim());
        // Only a process whose command line names this dir is taken for its daemon (pids get reused).
        if (pid > 0 && fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(dir)) pids.push(pid);
      } catch {
        // no pidfile or process gone
      }
    }
    try {
      destroyFleetSync(dir, pids, false);
    } catch {
      // leave it for the next run
    }
  }
  const slotDir = SLOT_DIR;
  try {
    for (const slot of fs.readdirSync(slotDir)) {
      const file = path.join(slotDir, slot);
      try {
        const owner = JSON.parse(fs.readFileSync(file, "utf8")) as OwnerRecord;
        if (!ownerAlive(owner)) fs.rmSync(file, { force: true });
      } catch {
        // being written right now, or gone
      }
    }
  } catch {
    // no slots yet
  }
}

/** Reserves `count` free port slots machine-wide; returns the slot numbers and their lock files. */
function reservePortSlots(count: number): { slots: number[]; files: string[] } {
  const slotDir = SLOT_DIR;
  fs.mkdirSync(slotDir, { recursive: true });
  const slots: number[] = [];
  const files: string[] = [];
  for (let k = 0; k < PORT_SLOTS && slots.length < count; k++) {
    const file = path.join(slotDir, `slot-${k}.json`);
    try {
      fs.writeFileSync(file, JSON.stringify(me()), { flag: "wx" });
      slots.push(k);
      files.push(file);
    } catch {
      // taken
    }
  }
  if (slots.length < count) {
    for (const f of files) fs.rmSync(f, { force: true });
    throw new Error(`no free port slots: wanted ${count} of ${PORT_SLOTS} (see ${slotDir})`);
  }
  return { slots, files };
}

// ---------------------------------------------------------------- talking to a daemon (plain HTTP on its socket)

function engineRequest(socketPath: string, method: string, urlPath: string, timeoutMs = 5_000): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath, method, path: urlPath, timeout: timeoutMs, agent: false }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      res.on("error", reject);
    });
    req.on("timeout", () => req.destroy(new Error(`timeout after ${timeoutMs} ms`)));
    req.on("error", reject);
    req.end();
  });
}

function logTail(logFile: string, lines = 30): string {
  try {
    return fs.readFileSync(logFile, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}

async function sleep(ms: number): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}

interface NodeState {
  node: FleetNode;
  child: ChildProcess | undefined;
  exited: Promise<void> | undefined;
  logFile: string;
  /** Host bridge interfaces of the node's user-defined networks, as last listed (see rememberBridges). */
  bridges: Set<string>;
  /** The second octet of the node's addresses: its Service network is 127.<octet>.0.0/16, or /17 with an address of its own (nodeManifests). */
  octet: number;
}

/**
 * Lists the node's bridge networks and remembers their host interfaces. dockerd leaves a user-defined
 * network's bridge (br-<id>) on the host when it stops, and once its data root is gone nothing removes it;
 * every leaked bridge keeps one of the engine's default address pools (31 in all) taken machine-wide, and a
 * CI run that leaked 31 of them failed with "could not find an available, non-overlapping IPv4 address
 * pool". Best effort: a node that does not answer keeps what was remembered before.
 */
async function rememberBridges(state: NodeState): Promise<void> {
  try {
    const res = await engineRequest(state.node.socketPath, "GET", "/networks", 2_000);
    if (res.status !== 200) return;
    const networks = JSON.parse(res.body) as Array<{ Id: string; Name: string; Driver: string; Options?: Record<string, string> }>;
    for (const n of networks) {
      if (n.Driver !== "bridge" || n.Name === "bridge") continue;
      state.bridges.add(n.Options?.["com.docker.network.bridge.name"] ?? `br-${n.Id.slice(0, 12)}`);
    }
  } catch {
    // not answering: keep what we had
  }
}

/** Deletes the given host interfaces that still exist (the daemon that made them must be gone). */
function deleteBridgesSync(names: Iterable<string>): void {
  for (const name of names) {
    if (!/^[\w.-]{1,15}$/.test(name) || !fs.existsSync(`/sys/class/net/${name}`)) continue;
    spawnSync("ip", ["link", "delete", name], { stdio: "ignore" });
  }
}

/** A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0, then released). */
async function freeTcpPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Paths of a node's TLS files (written when the fleet has TLS). */
function tlsFiles(node: FleetNode): { ca: string; cert: string; key: string } {
  return { ca: path.join(node.dir, "tls-ca.pem"), cert: path.join(node.dir, "tls-server.pem"), key: path.join(node.dir, "tls-server-key.pem") };
}

function daemonArgs(node: FleetNode, driver: string, octet: number): string[] {
  const tls: string[] = [];
  if (node.tcpEndpoint !== undefined) {
    const files = tlsFiles(node);
    tls.push("-H", node.tcpEndpoint, "--tlsverify", "--tlscacert", files.ca, "--tlscert", files.cert, "--tlskey", files.key);
  }
  return [
    "-H",
    `unix://${node.socketPath}`,
    ...tls,
    "--data-root",
    path.join(node.dir, "data"),
    "--exec-root",
    path.join(node.dir, "exec"),
    "--pidfile",
    path.join(node.dir, "docker.pid"),
    // An explicit, empty config file: /etc/docker/daemon.json (if any) must not leak into tests.
    "--config-file",
    path.join(node.dir, "daemon.json"),
    "--iptables=false",
    "--ip-forward=false",
    "--ip-masq=false",
    "--bridge=none",
    // Names that no container or network alias answers go to this resolver, where nothing listens: a test
    // never sends a lookup off this machine (by default the embedded DNS of a bridge network would forward
    // it to the host's nameservers).
    "--dns",
    "127.0.0.1",
    // Engines side by side on this host must never give two bridge networks the same subnet: each one
    // avoids the routes it sees, but two that pick at once (a network made and removed to learn a free
    // subnet, then made again) can both take the same one, and the host then routes one network's replies
    // into the other (seen: a bridge pod asking for one Service got another's answer). Each node's engine
    // takes its networks from a pool of its own, 10.<octet>.0.0/16, by its machine-wide slot.
    "--default-address-pool",
    `base=10.${octet}.0.0/16,size=24`,
    `--storage-driver=${driver}`,
    // Daemon shutdown (stopNode) stops containers; do not wait the default 15 s for ones that ignore TERM.
    "--shutdown-timeout=5",
  ];
}

/** Spawns dockerd and waits for /_ping; rejects (after killing it) with the log tail when it does not come up. */
async function launch(state: NodeState, driver: string, timeoutMs: number): Promise<void> {
  const { node } = state;
  fs.writeFileSync(path.join(node.dir, "daemon.json"), "{}\n");
  const fd = fs.openSync(state.logFile, "a");
  fs.writeSync(fd, `\n==== ${new Date().toISOString()} starting dockerd (${driver})\n`);
  const child = spawn(findExecutable("dockerd") ?? "dockerd", daemonArgs(node, driver, state.octet), {
    stdio: ["ignore", fd, fd],
  });
  fs.closeSync(fd);
  child.unref();
  let exitCode: number | null | undefined;
  state.child = child;
  state.exited = new Promise<void>((resolve) => {
    child.once("exit", (code) => {
      exitCode = code;
      resolve();
    });
    child.once("error", () => resolve());
  });
  node.pid = child.pid ?? 0;
  node.storageDriver = driver as FleetNode["storageDriver"];
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (exitCode !== undefined) break;
    try {
      const res = await engineRequest(node.socketPath, "GET", "/_ping", 1_000);
      if (res.status === 200 && res.body.trim() === "OK") return;
    } catch {
      // not up yet
    }
    await sleep(50);
  }
  const why = exitCode !== undefined ? `dockerd exited with code ${exitCode}` : `no answer to /_ping within ${timeoutMs} ms`;
  if (exitCode === undefined) await terminate(state, 2_000);
  throw new DaemonStartError(`${node.name}: ${why}; last lines of ${state.logFile}:\n${logTail(state.logFile)}`, exitCode !== undefined);
}

/** A daemon that did not come up; `exited` tells a crash at startup from a timeout. */
class DaemonStartError extends Error {
  constructor(
    message: string,
    readonly exited: boolean,
  ) {
    super(message);
  }
}

/** True when the daemon's last start failed because of its storage driver (overlay2 unsupported here). */
/** The log of the daemon's last start (each start appends after a "==== " line). */
function lastStartLog(logFile: string): string {
  let log = "";
  try {
    log = fs.readFileSync(logFile, "utf8");
  } catch {
    return "";
  }
  return log.slice(log.lastIndexOf("==== "));
}

/**
 * dockerd gave up on the containerd it supervises ("timeout waiting for containerd to start"): its own
 * fixed limit, which a loaded machine can pass. Starting again is the remedy; nothing else was wrong.
 */
function containerdStartTimedOut(logFile: string): boolean {
  return /failed to start containerd: timeout waiting for containerd to start/.test(lastStartLog(logFile));
}

function failedOnStorageDriver(logFile: string): boolean {
  const lastStart = lastStartLog(logFile);
  return /error initializing graphdriver|driver not supported|overlay2?:? .*not supported/i.test(lastStart);
}

/** SIGTERM, wait, SIGKILL; then kill what is left of the node's process tree. */
async function terminate(state: NodeState, graceMs: number): Promise<void> {
  const { child, node } = state;
  if (child && child.exitCode === null && child.signalCode === null && node.pid > 0) {
    try {
      process.kill(node.pid, "SIGCONT"); // a paused node (pauseNode) would not act on SIGTERM
    } catch {
      // gone
    }
    await rememberBridges(state);
    try {
      process.kill(node.pid, "SIGTERM");
    } catch {
      // gone
    }
    const done = await Promise.race([state.exited!.then(() => true), sleep(graceMs).then(() => false)]);
    if (!done) {
      try {
        process.kill(node.pid, "SIGKILL");
      } catch {
        // gone
      }
      await state.exited;
    }
  }
  const leftovers = fleetProcesses(node.dir, []);
  if (leftovers.length) {
    killSync(leftovers, "SIGKILL");
    const until = Date.now() + 2_000;
    while (Date.now() < until && leftovers.some(alive)) await sleep(20);
  }
  state.child = undefined;
  // dockerd makes the bridges again from its data root when the node is started again (startNode).
  deleteBridgesSync(state.bridges);
}

async function removeAllContainers(socketPath: string): Promise<void> {
  const res = await engineRequest(socketPath, "GET", "/containers/json?all=1");
  if (res.status !== 200) return;
  const ids = (JSON.parse(res.body) as Array<{ Id: string }>).map((c) => c.Id);
  await Promise.all(ids.map((id) => engineRequest(socketPath, "DELETE", `/containers/${id}?force=1&v=1`, 30_000).catch(() => undefined)));
}

/**
 * Starts `nodes` dockerd daemons in parallel under a new temp dir and waits until each answers /_ping.
 * overlay2 is tried first; a node whose daemon fails to start with it is started again with vfs (and a
 * warning says so).
 */
export async function startFleet(options: FleetOptions): Promise<TestFleet> {
  if (!Number.isInteger(options.nodes) || options.nodes < 1) throw new Error(`nodes must be an integer >= 1, got ${options.nodes}`);
  if (!dockerAvailableSync()) throw new Error("startFleet: Docker is not available (root and dockerd, containerd, runc needed)");
  installExitHandlers();
  reapAbandonedFleets();
  const name = (options.name ?? "fleet").replace(/[^a-zA-Z0-9-]/g, "-").slice(0, 12);
  const startTimeoutMs = options.startTimeoutMs ?? 60_000;
  // Short paths: unix socket paths are limited to 108 bytes.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `${FLEET_PREFIX}${name}-`));
  fs.writeFileSync(path.join(dir, "owner.json"), JSON.stringify(me()));
  let slotFiles: string[] = [];
  let bases: number[];
  // Each node's proxy takes Service addresses in 127.<octet>.0.0/16: from its machine-wide port slot
  // (127.100–127.139), so that the proxies of fleets run side by side never bind the same address.
  let networkOctets: number[];
  if (options.portBase !== undefined) {
    bases = Array.from({ length: options.nodes }, (_, i) => options.portBase! + PORT_SLOT_SIZE * i);
    networkOctets = bases.map((_, i) => 100 + PORT_SLOTS + i);
  } else {
    const reserved = reservePortSlots(options.nodes);
    slotFiles = reserved.files;
    bases = reserved.slots.map((k) => PORT_SLOT_BASE + PORT_SLOT_SIZE * k);
    networkOctets = reserved.slots.map((k) => 100 + k);
  }
  const states: NodeState[] = bases.map((base, i) => {
    const nodeDir = path.join(dir, `node-${i + 1}`);
    fs.mkdirSync(nodeDir, { recursive: true });
    const socketPath = path.join(nodeDir, "docker.sock");
    return {
      node: {
        name: `node-${i + 1}`,
        socketPath,
        endpoint: `unix://${socketPath}`,
        pid: 0,
        portRange: `${base}-${base + PORT_SLOT_SIZE - 1}`,
        dir: nodeDir,
        storageDriver: "overlay2",
      },
      child: undefined,
      exited: undefined,
      logFile: path.join(nodeDir, "dockerd.log"),
      bridges: new Set<string>(),
      octet: networkOctets[i]!,
    };
  });
  liveFleets.set(dir, { pids: () => states.map((s) => s.node.pid), bridges: () => states.flatMap((s) => [...s.bridges]), slots: slotFiles });
  let pki: TestPki | undefined;
  if (options.tls) {
    pki = makeTestPki(["127.0.0.1", "localhost"]);
    for (const state of states) {
      const node = state.node;
      node.tcpEndpoint = `tcp://127.0.0.1:${await freeTcpPort()}`;
      node.tls = { ca: pki.ca.cert, cert: pki.client.cert, key: pki.client.key };
      const files = tlsFiles(node);
      fs.writeFileSync(files.ca, pki.ca.cert);
      fs.writeFileSync(files.cert, pki.server.cert);
      fs.writeFileSync(files.key, pki.server.key, { mode: 0o600 });
    }
  }

  const startOne = async (state: NodeState, driver?: string): Promise<void> => {
    const first = driver ?? state.node.storageDriver;
    for (let attempt = 1; ; attempt++) {
      try {
        await launch(state, first, startTimeoutMs);
        return;
      } catch (err) {
        const exited = err instanceof DaemonStartError && err.exited;
        if (exited && attempt < 3 && containerdStartTimedOut(state.logFile)) {
          console.warn(`${state.node.name}: dockerd timed out starting its containerd (a loaded machine); starting it again (attempt ${attempt + 1})`);
          continue;
        }
        if (first !== "overlay2" || !exited || !failedOnStorageDriver(state.logFile)) throw err;
        console.warn(`${state.node.name}: dockerd failed with overlay2 on this machine; falling back to vfs (slow, but works)`);
        await launch(state, "vfs", startTimeoutMs);
        return;
      }
    }
  };

  let stopped = false;
  const fleet: TestFleet = {
    name,
    dir,
    nodes: states.map((s) => s.node),
    ...(pki ? { pki } : {}),
    async stopNode(index) {
      const state = states[index];
      if (!state) throw new Error(`no node ${index} (fleet has ${states.length})`);
      await terminate(state, 10_000);
    },
    async startNode(index) {
      const state = states[index];
      if (!state) throw new Error(`no node ${index} (fleet has ${states.length})`);
      if (state.child) return;
      await startOne(state, state.node.storageDriver);
    },
    async pauseNode(index) {
      const state = states[index];
      if (!state?.child) throw new Error(`no running node ${index} (fleet has ${states.length})`);
      const pid = state.node.pid;
      process.kill(pid, "SIGSTOP");
      const deadline = Date.now() + 10_000;
      while (!allThreadsStopped(pid)) {
        if (Date.now() > deadline) throw new Error(`${state.node.name}: dockerd (pid ${pid}) still has running threads 10 s after SIGSTOP`);
        await sleep(5);
      }
    },
    resumeNode(index) {
      const state = states[index];
      if (!state?.child) throw new Error(`no running node ${index} (fleet has ${states.length})`);
      process.kill(state.node.pid, "SIGCONT");
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await Promise.all(
        states.map(async (state) => {
          if (state.child) await removeAllContainers(state.node.socketPath).catch(() => undefined);
          await terminate(state, 15_000);
        }),
      );
      if (process.env.CX_FLEET_KEEP === "1") unmountUnder(dir);
      else removeDirSync(dir);
      for (const f of slotFiles) fs.rmSync(f, { force: true });
      liveFleets.delete(dir);
    },
    nodeManifests(options = {}) {
      if (options.tls && !pki) throw new Error("nodeManifests({ tls: true }) needs a fleet started with tls: true");
      return states
        .flatMap((s) => {
          // Nodes share this host's loopback: each needs a Service network of its own for its proxy.
          // The proxy image is the local stand-in for the official one (buildProxyImage), which no test can pull.
          const own = options.ownAddresses === true;
          const spec = {
            endpoint: s.node.endpoint,
            network: options.network ?? "host",
            address: own ? `127.${s.octet}.128.1` : "127.0.0.1",
            portRange: s.node.portRange,
            serviceNetwork: `127.${s.octet}.0.0/${own ? 17 : 16}`,
            proxyImage: TEST_PROXY_IMAGE,
          };
          const node = (extra: Record<string, unknown>) => stringify({ apiVersion: "coxswain.io/v1alpha1", kind: "Node", metadata: { name: s.node.name }, spec: { ...spec, ...extra } });
          if (!options.tls) return [node({})];
          const secretName = `${s.node.name}-tls`;
          return [
            stringify({
              apiVersion: "v1",
              kind: "Secret",
              metadata: { name: secretName, namespace: "default" },
              type: "kubernetes.io/tls",
              stringData: { "ca.crt": s.node.tls!.ca, "tls.crt": s.node.tls!.cert, "tls.key": s.node.tls!.key },
            }),
            node({ endpoint: s.node.tcpEndpoint!, tls: { secretRef: { name: secretName, namespace: "default" } } }),
          ];
        })
        .join("---\n");
    },
  };

  try {
    await Promise.all(states.map((s) => startOne(s)));
  } catch (err) {
    await fleet.stop().catch(() => undefined);
    throw err;
  }
  return fleet;
}
