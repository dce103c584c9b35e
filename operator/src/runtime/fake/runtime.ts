/**
 * The fake runtime: one in-memory node with a capacity, configurable latency and injectable failures,
 * for unit tests and scale benchmarks (tens of thousands of containers). It behaves like a Docker engine
 * where that matters to callers: names are unique, stop/start/remove follow the NodeRuntime contract,
 * images stay on the node after their containers are removed, and list() only shows the owner's
 * containers. Ids are deterministic: "<name>-c<counter>".
 *
 * What list() and run() hand out are frozen views of the containers, made once per change of a container:
 * callers cannot change the node's state through them, and a listing of a node where nothing changed answers
 * with the very objects of the listing before, as the Docker runtime's cache does (docker/listing.ts). The
 * fleet then recognises unchanged containers by identity; copies of every container on every listing made an
 * idle operator with 1,000 fake pods copy and compare 500 containers a second (bench:idle).
 */
import { setTimeout as sleep } from "node:timers/promises";
import { CoxError, type ErrorCode } from "../../api/errors.js";
import { DEFAULT_OWNER, LABELS } from "../labels.js";
import { logTail, type LogTail } from "../log-tail.js";
import { MAX_EXEC_OUTPUT_BYTES, type ContainerLaunch, type ContainerUsage, type ExecResult, type KillSignal, type NodeInfo, type NodeRuntime, type ObservedContainer, type RuntimeChangeListener } from "../types.js";

/** The NodeRuntime calls the fake counts, delays and can fail. */
export type FakeOp = "connect" | "list" | "run" | "start" | "stop" | "kill" | "remove" | "images" | "exec";

/** Every FakeOp, in a fixed order. */
export const FAKE_OPS: readonly FakeOp[] = ["connect", "list", "run", "start", "stop", "kill", "remove", "images", "exec"];

/**
 * What a fake container's program does on SIGTERM: "die" of it (exit 143, the default), "exit0" (a
 * handler that exits cleanly), or "ignore" it (stop() then ends in SIGKILL: exit 137).
 */
export type FakeSigtermBehaviour = "die" | "exit0" | "ignore";

/** A scripted exec: gets the command and the deadline; may be async (a result later than the deadline times out). */
export type FakeExecScript = (command: readonly string[], timeoutMs: number) => Pick<ExecResult, "exitCode" | "output"> | Promise<Pick<ExecResult, "exitCode" | "output">>;

/** Signal numbers on Linux, for 128+n exit codes. */
const SIGNAL_NUMBERS: Record<KillSignal, number> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGKILL: 9, SIGTERM: 15 };

/** Options of a FakeRuntime. */
export interface FakeRuntimeOptions {
  /** Node name, used in ids and messages (default "fake"). */
  name?: string;
  /** Capacity reported by connect(). */
  cpuMillis: number;
  memoryBytes: number;
  /** Delay of every call in ms, or per operation; 0 (default) answers without a timer. */
  latencyMs?: number | ((op: FakeOp) => number);
  /** Owner label value list() filters on (default DEFAULT_OWNER). */
  owner?: string;
  /** Clock for createdAt/startedAt/finishedAt (default Date.now). */
  now?: () => number;
}

/** Exit code the fake reports after stop() with a grace period (terminated by SIGTERM: 128 + 15). */
export const FAKE_SIGTERM_EXIT = 143;
/** Exit code the fake reports after stop() with grace 0 or remove() of a running container (SIGKILL: 128 + 9). */
export const FAKE_SIGKILL_EXIT = 137;

interface Injected {
  code: ErrorCode;
  remaining: number;
}

/** An in-memory NodeRuntime (see the module comment). */
export class FakeRuntime implements NodeRuntime {
  /** Always "fake". */
  readonly type = "fake";
  /** The node name. */
  readonly name: string;
  /** Number of calls per operation, including calls that failed. */
  readonly calls: Record<FakeOp, number> = {
    connect: 0,
    list: 0,
    run: 0,
    start: 0,
    stop: 0,
    kill: 0,
    remove: 0,
    images: 0,
    exec: 0,
  };
  readonly #cpuMillis: number;
  readonly #memoryBytes: number;
  readonly #latency: (op: FakeOp) => number;
  readonly #owner: string;
  readonly #now: () => number;
  readonly #containers = new Map<string, ObservedContainer>();
  /** The frozen view of each container callers get (see the module comment); dropped when the container changes. */
  readonly #views = new Map<string, ObservedContainer>();
  /** What list() answers (the owner's views, sorted), until any container changes. */
  #listing: readonly ObservedContainer[] | undefined;
  readonly #byName = new Map<string, string>();
  readonly #images = new Set<string>();
  readonly #ready = new Map<string, boolean>();
  readonly #inject = new Map<FakeOp, Injected[]>();
  readonly #exec = new Map<string, FakeExecScript>();
  readonly #sigterm = new Map<string, FakeSigtermBehaviour>();
  /** What each container printed (crash's output). */
  readonly #logs = new Map<string, string>();
  /** Per container: millicores it burns and bytes it holds (setUsage); CPU time accrues from when it was set. */
  readonly #usage = new Map<string, { cpuMillis: number; memoryBytes: number; since: number; cpuNanos: number }>();
  /** Every exec() that reached a running container, in order: [id, command]. */
  readonly execs: Array<{ id: string; command: string[] }> = [];
  readonly #listeners = new Set<RuntimeChangeListener>();
  #counter = 0;
  #down = false;

  /** Creates an empty, reachable node. */
  constructor(options: FakeRuntimeOptions) {
    this.name = options.name ?? "fake";
    this.#cpuMillis = options.cpuMillis;
    this.#memoryBytes = options.memoryBytes;
    const latency = options.latencyMs ?? 0;
    this.#latency = typeof latency === "number" ? () => latency : latency;
    this.#owner = options.owner ?? DEFAULT_OWNER;
    this.#now = options.now ?? Date.now;
  }

  // ---- failure injection and inspection (test helpers) ----

  /** Makes the next `count` calls of `op` throw a CoxError with `code` (after their latency). Queues behind earlier injections. */
  failNext(op: FakeOp, code: ErrorCode, count = 1): void {
    if (count <= 0) return;
    const queue = this.#inject.get(op) ?? [];
    queue.push({ code, remaining: count });
    this.#inject.set(op, queue);
  }

  /** Drops the failures queued by failNext (of one operation, or all). */
  clearFailures(op?: FakeOp): void {
    if (op) this.#inject.delete(op);
    else this.#inject.clear();
  }

  /** While down, every call throws NodeUnreachable; containers keep their state (the engine is unreachable, not gone). */
  setDown(down: boolean): void {
    this.#down = down;
  }

  /** Whether the node is simulated down. */
  get down(): boolean {
    return this.#down;
  }

  /**
   * A running container exits with `exitCode` now (no-op when it is not running), having printed `output` (kept
   * for logs()). Throws InvalidArgument for an unknown id.
   */
  crash(id: string, exitCode: number, output?: string): void {
    const c = this.#mustGet(id, "crash");
    if (output !== undefined) this.#logs.set(id, (this.#logs.get(id) ?? "") + output);
    if (c.state !== "running") return;
    this.#exit(c, exitCode);
  }

  /** Overrides readiness of a container until its next start, stop or crash. Throws InvalidArgument for an unknown id. */
  setReady(id: string, ready: boolean): void {
    this.#mustGet(id, "setReady");
    this.#ready.set(id, ready);
    this.#notify(id);
  }

  /** Readiness without real probes: running and not overridden to false. Unknown ids are not ready. */
  isReady(id: string): boolean {
    const c = this.#containers.get(id);
    return c !== undefined && c.state === "running" && (this.#ready.get(id) ?? true);
  }

  /**
   * Scripts exec() on container `id` (until it is removed): the script's result is returned, a thrown
   * error becomes exit code 126 with the error's message as output (a command that could not run), and a
   * script still pending at the deadline times out. Without a script, exec succeeds with empty output.
   * Throws InvalidArgument for an unknown id.
   */
  setExecResult(id: string, script: FakeExecScript): void {
    this.#mustGet(id, "setExecResult");
    this.#exec.set(id, script);
  }

  /** Sets what container `id`'s program does on SIGTERM (default "die"); kept across restarts. Throws InvalidArgument for an unknown id. */
  setSigtermBehaviour(id: string, behaviour: FakeSigtermBehaviour): void {
    this.#mustGet(id, "setSigtermBehaviour");
    this.#sigterm.set(id, behaviour);
  }

  /** Puts an image on the node, as a pull or a previous revision would have. */
  addImage(ref: string): void {
    this.#images.add(ref);
  }

  /** Adds a container as found on the node (e.g. left by an earlier operator, or of another owner). Throws InvalidArgument when its id or name is taken. */
  seed(container: Omit<ObservedContainer, "restartCount"> & { restartCount?: number }): void {
    if (this.#containers.has(container.id) || this.#byName.has(container.runtimeName)) {
      throw new CoxError("InvalidArgument", `fake node ${this.name} already has container ${container.id} / ${container.runtimeName}`);
    }
    this.#containers.set(container.id, {
      ...container,
      restartCount: container.restartCount ?? 0,
      labels: Object.freeze({ ...container.labels }),
    });
    this.#byName.set(container.runtimeName, container.id);
    this.#images.add(container.image);
    this.#changed(container.id);
  }

  /**
   * Makes a running container use `cpuMillis` millicores from now on (its CPU time accrues at that rate on
   * the fake's clock) and hold `memoryBytes`; usage() answers for it from then on.
   */
  setUsage(id: string, cpuMillis: number, memoryBytes: number): void {
    const now = this.#now();
    const prev = this.#usage.get(id);
    const cpuNanos = prev === undefined ? 0 : prev.cpuNanos + (now - prev.since) * prev.cpuMillis * 1000;
    this.#usage.set(id, { cpuMillis, memoryBytes, since: now, cpuNanos });
  }

  /** A copy of one container whatever its owner, or undefined. No latency, never fails, not counted. */
  get(id: string): ObservedContainer | undefined {
    const c = this.#containers.get(id);
    return c === undefined ? undefined : { ...c };
  }

  /** Number of containers on the node, whatever their owner. */
  get size(): number {
    return this.#containers.size;
  }

  // ---- NodeRuntime ----

  /** What setUsage said, for a running container (undefined otherwise, or when it was never set). Not counted, never fails. */
  async usage(id: string): Promise<ContainerUsage | undefined> {
    const u = this.#usage.get(id);
    if (u === undefined || this.#containers.get(id)?.state !== "running") return undefined;
    const now = this.#now();
    return { cpuNanos: u.cpuNanos + (now - u.since) * u.cpuMillis * 1000, memoryBytes: u.memoryBytes, at: now };
  }

  /** Reports the configured capacity; engine "fake <name>", platform "linux/amd64". */
  async connect(): Promise<NodeInfo> {
    await this.#enter("connect");
    return { cpuMillis: this.#cpuMillis, memoryBytes: this.#memoryBytes, engine: `fake ${this.name}`, platform: "linux/amd64" };
  }

  /** The owner's containers (frozen views, the same objects while a container does not change), sorted by runtimeName, then id. */
  async list(): Promise<ObservedContainer[]> {
    await this.#enter("list");
    if (this.#listing === undefined) {
      const out: ObservedContainer[] = [];
      for (const c of this.#containers.values()) if (c.labels[LABELS.owner] === this.#owner) out.push(this.#view(c));
      this.#listing = out.sort((a, b) => (a.runtimeName < b.runtimeName ? -1 : a.runtimeName > b.runtimeName ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    }
    return [...this.#listing];
  }

  /**
   * Creates a running container (a created one with launch.startLater) at once (after latency) and answers
   * with its frozen view; the image is then present. Throws RuntimeCallFailed when the name is taken.
   */
  async run(launch: ContainerLaunch): Promise<ObservedContainer> {
    await this.#enter("run");
    const existing = this.#byName.get(launch.runtimeName);
    if (existing !== undefined) {
      throw new CoxError("RuntimeCallFailed", `fake node ${this.name}: a container named ${launch.runtimeName} already exists (id ${existing})`, { details: { runtimeName: launch.runtimeName, id: existing } });
    }
    this.#counter += 1;
    const id = `${this.name}-c${this.#counter}`;
    const now = this.#now();
    const c: ObservedContainer = {
      id,
      runtimeName: launch.runtimeName,
      image: launch.image,
      labels: Object.freeze({ ...launch.labels }) as Record<string, string>,
      state: launch.startLater ? "created" : "running",
      createdAt: now,
      ...(launch.startLater ? {} : { startedAt: now }),
      restartCount: 0,
    };
    this.#containers.set(id, c);
    this.#byName.set(launch.runtimeName, id);
    this.#images.add(launch.image);
    this.#changed(id);
    this.#notify(id);
    return this.#view(c);
  }

  /**
   * Starts a stopped container again (new startedAt, exit cleared, restartCount + 1 when it had run
   * before); no-op when running. Throws RuntimeCallFailed for an unknown id.
   */
  async start(id: string): Promise<void> {
    await this.#enter("start");
    const c = this.#known(id, "start");
    if (c.state === "running") return;
    if (c.startedAt !== undefined) c.restartCount += 1;
    c.state = "running";
    c.startedAt = this.#now();
    delete c.exitCode;
    delete c.finishedAt;
    this.#ready.delete(id);
    this.#changed(id);
    this.#notify(id);
  }

  /**
   * Stops a running container at once (the grace period is not waited): with a grace period the program
   * gets SIGTERM and exits as setSigtermBehaviour says (default: FAKE_SIGTERM_EXIT; "ignore" ends in
   * FAKE_SIGKILL_EXIT), without one it is killed (FAKE_SIGKILL_EXIT). No-op when stopped;
   * RuntimeCallFailed for an unknown id.
   */
  async stop(id: string, graceSeconds: number): Promise<void> {
    await this.#enter("stop");
    const c = this.#known(id, "stop");
    if (c.state !== "running") return;
    const onTerm = this.#sigterm.get(id) ?? "die";
    const code = graceSeconds <= 0 || onTerm === "ignore" ? FAKE_SIGKILL_EXIT : onTerm === "exit0" ? 0 : FAKE_SIGTERM_EXIT;
    this.#exit(c, code);
  }

  /**
   * Sends a signal: SIGKILL kills (FAKE_SIGKILL_EXIT); SIGTERM acts as setSigtermBehaviour says ("ignore"
   * leaves it running); SIGHUP/SIGINT/SIGQUIT kill with 128+n. No-op when not running; RuntimeCallFailed
   * for an unknown id.
   */
  async kill(id: string, signal: KillSignal): Promise<void> {
    await this.#enter("kill");
    const c = this.#known(id, "kill");
    if (c.state !== "running") return;
    if (signal === "SIGTERM") {
      const onTerm = this.#sigterm.get(id) ?? "die";
      if (onTerm === "ignore") return;
      this.#exit(c, onTerm === "exit0" ? 0 : FAKE_SIGTERM_EXIT);
      return;
    }
    this.#exit(c, 128 + SIGNAL_NUMBERS[signal]);
  }

  /**
   * Runs the container's exec script (see setExecResult). RuntimeCallFailed for an unknown or stopped
   * container. Output is cut to MAX_EXEC_OUTPUT_BYTES.
   */
  async exec(id: string, command: readonly string[], timeoutMs: number): Promise<ExecResult> {
    await this.#enter("exec");
    const c = this.#known(id, "exec");
    if (c.state !== "running") {
      throw new CoxError("RuntimeCallFailed", `fake node ${this.name}: cannot exec in container ${id}: it is ${c.state}, not running`, {
        details: { node: this.name, id, state: c.state },
      });
    }
    this.execs.push({ id, command: [...command] });
    const script = this.#exec.get(id);
    if (script === undefined) return { exitCode: 0, output: "" };
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), Math.max(0, timeoutMs));
    });
    try {
      const outcome = await Promise.race([Promise.resolve().then(() => script(command, timeoutMs)), deadline]);
      if (outcome === "timeout") return { exitCode: -1, output: "", timedOut: true };
      return { exitCode: outcome.exitCode, output: cutOutput(outcome.output) };
    } catch (err) {
      return { exitCode: 126, output: cutOutput(err instanceof Error ? err.message : String(err)) };
    } finally {
      clearTimeout(timer);
    }
  }

  /** What crash() said the container printed, cut as asked. RuntimeCallFailed for an unknown container. */
  async logs(id: string, tail: LogTail): Promise<string> {
    if (!this.#containers.has(id)) throw new CoxError("RuntimeCallFailed", `fake node ${this.name}: cannot read the log of container ${id}: no such container`);
    return logTail(Buffer.from(this.#logs.get(id) ?? "", "utf8"), tail);
  }

  /** Removes a container, running or not; no-op for an unknown id. Its image stays on the node. */
  async remove(id: string): Promise<void> {
    await this.#enter("remove");
    const c = this.#containers.get(id);
    if (c === undefined) return;
    this.#containers.delete(id);
    this.#byName.delete(c.runtimeName);
    this.#ready.delete(id);
    this.#exec.delete(id);
    this.#logs.delete(id);
    this.#sigterm.delete(id);
    this.#changed(id);
    this.#notify(id);
  }

  /** Images on the node, sorted. */
  async images(): Promise<string[]> {
    await this.#enter("images");
    return [...this.#images].sort();
  }

  /** Calls `listener` (in a microtask) after every change: run, start, stop, crash, remove, setReady. */
  watch(listener: RuntimeChangeListener): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  /** Drops listeners; containers stay. */
  async close(): Promise<void> {
    this.#listeners.clear();
  }

  // ---- internals ----

  /** Counts the call, waits the latency, then throws for a down node or an injected failure. */
  async #enter(op: FakeOp): Promise<void> {
    this.calls[op] += 1;
    const ms = this.#latency(op);
    if (ms > 0) await sleep(ms);
    if (this.#down) {
      throw new CoxError("NodeUnreachable", `fake node ${this.name} is down (simulated); ${op} did not reach it`, {
        details: { node: this.name, op },
      });
    }
    const queue = this.#inject.get(op);
    const head = queue?.[0];
    if (queue !== undefined && head !== undefined) {
      head.remaining -= 1;
      if (head.remaining <= 0) queue.shift();
      throw new CoxError(head.code, `fake node ${this.name}: injected ${head.code} for ${op}`, {
        details: { node: this.name, op, injected: true },
      });
    }
  }

  #exit(c: ObservedContainer, code: number): void {
    c.state = "exited";
    c.exitCode = code;
    c.finishedAt = this.#now();
    this.#ready.delete(c.id);
    this.#changed(c.id);
    this.#notify(c.id);
  }

  /** The frozen view of a container, made on first use after each change. */
  #view(c: ObservedContainer): ObservedContainer {
    let v = this.#views.get(c.id);
    if (v === undefined) {
      v = Object.freeze({ ...c });
      this.#views.set(c.id, v);
    }
    return v;
  }

  /** A container was added, changed or removed: its view and the listing are made again when next asked for. */
  #changed(id: string): void {
    this.#views.delete(id);
    this.#listing = undefined;
  }

  #known(id: string, op: FakeOp): ObservedContainer {
    const c = this.#containers.get(id);
    if (c === undefined) {
      throw new CoxError("RuntimeCallFailed", `fake node ${this.name}: cannot ${op} container ${id}: no such container`, {
        details: { node: this.name, id },
      });
    }
    return c;
  }

  #mustGet(id: string, what: string): ObservedContainer {
    const c = this.#containers.get(id);
    if (c === undefined) throw new CoxError("InvalidArgument", `${what}: fake node ${this.name} has no container ${id}`);
    return c;
  }

  #notify(id: string): void {
    if (this.#listeners.size === 0) return;
    const listeners = [...this.#listeners];
    queueMicrotask(() => {
      for (const listener of listeners) {
        try {
          listener(id);
        } catch {
          // a listener's failure is its own business
        }
      }
    });
  }
}

/** Cuts text to MAX_EXEC_OUTPUT_BYTES of UTF-8 (a split character at the end is dropped). */
function cutOutput(text: string): string {
  const bytes = Buffer.from(text, "utf8");
  if (bytes.length <= MAX_EXEC_OUTPUT_BYTES) return text;
  return bytes
    .subarray(0, MAX_EXEC_OUTPUT_BYTES)
    .toString("utf8")
    .replace(/\uFFFD$/, "");
}
