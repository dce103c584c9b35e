/**
 * The fake runtime: one in-memory node with a capacity, configurable latency and injectable failures,
 * for unit tests and scale benchmarks (tens of thousands of containers). It behaves like a Docker engine
 * where that matters to callers: names are unique, stop/start/remove follow the NodeRuntime contract,
 * images stay on the node after their containers are removed, and list() only shows the owner's
 * containers. Ids are deterministic: "<name>-c<counter>".
 */
import { setTimeout as sleep } from "node:timers/promises";
import { CoxError, type ErrorCode } from "../../api/errors.js";
import { DEFAULT_OWNER, LABELS } from "../labels.js";
import type {
  ContainerLaunch,
  NodeInfo,
  NodeRuntime,
  ObservedContainer,
  RuntimeChangeListener,
} from "../types.js";

/** The NodeRuntime calls the fake counts, delays and can fail. */
export type FakeOp = "connect" | "list" | "run" | "start" | "stop" | "remove" | "images";

/** Every FakeOp, in a fixed order. */
export const FAKE_OPS: readonly FakeOp[] = ["connect", "list", "run", "start", "stop", "remove", "images"];

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
  readonly calls: Record<FakeOp, number> = { connect: 0, list: 0, run: 0, start: 0, stop: 0, remove: 0, images: 0 };
  readonly #cpuMillis: number;
  readonly #memoryBytes: number;
  readonly #latency: (op: FakeOp) => number;
  readonly #owner: string;
  readonly #now: () => number;
  readonly #containers = new Map<string, ObservedContainer>();
  readonly #byName = new Map<string, string>();
  readonly #images = new Set<string>();
  readonly #ready = new Map<string, boolean>();
  readonly #inject = new Map<FakeOp, Injected[]>();
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

  /** While down, every call throws NodeUnreachable; containers keep their state (the engine is unreachable, not gone). */
  setDown(down: boolean): void {
    this.#down = down;
  }

  /** Whether the node is simulated down. */
  get down(): boolean {
    return this.#down;
  }

  /** A running container exits with `exitCode` now (no-op when it is not running). Throws InvalidArgument for an unknown id. */
  crash(id: string, exitCode: number): void {
    const c = this.#mustGet(id, "crash");
    if (c.state !== "running") return;
    c.state = "exited";
    c.exitCode = exitCode;
    c.finishedAt = this.#now();
    this.#ready.delete(id);
    this.#notify(id);
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

  /** Puts an image on the node, as a pull or a previous revision would have. */
  addImage(ref: string): void {
    this.#images.add(ref);
  }

  /** Adds a container as found on the node (e.g. left by an earlier operator, or of another owner). Throws InvalidArgument when its id or name is taken. */
  seed(container: ObservedContainer): void {
    if (this.#containers.has(container.id) || this.#byName.has(container.runtimeName)) {
      throw new CoxError("InvalidArgument", `fake node ${this.name} already has container ${container.id} / ${container.runtimeName}`);
    }
    this.#containers.set(container.id, { ...container, labels: Object.freeze({ ...container.labels }) });
    this.#byName.set(container.runtimeName, container.id);
    this.#images.add(container.image);
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

  /** Reports the configured capacity; engine "fake <name>", platform "linux/amd64". */
  async connect(): Promise<NodeInfo> {
    await this.#enter("connect");
    return { cpuMillis: this.#cpuMillis, memoryBytes: this.#memoryBytes, engine: `fake ${this.name}`, platform: "linux/amd64" };
  }

  /** Copies of the owner's containers, sorted by runtimeName, then id. */
  async list(): Promise<ObservedContainer[]> {
    await this.#enter("list");
    const out: ObservedContainer[] = [];
    for (const c of this.#containers.values()) if (c.labels[LABELS.owner] === this.#owner) out.push({ ...c });
    return out.sort((a, b) => (a.runtimeName < b.runtimeName ? -1 : a.runtimeName > b.runtimeName ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /** Creates a running container at once (after latency); the image is then present. Throws RuntimeCallFailed when the name is taken. */
  async run(launch: ContainerLaunch): Promise<ObservedContainer> {
    await this.#enter("run");
    const existing = this.#byName.get(launch.runtimeName);
    if (existing !== undefined) {
      throw new CoxError(
        "RuntimeCallFailed",
        `fake node ${this.name}: a container named ${launch.runtimeName} already exists (id ${existing})`,
        { details: { runtimeName: launch.runtimeName, id: existing } },
      );
    }
    this.#counter += 1;
    const id = `${this.name}-c${this.#counter}`;
    const now = this.#now();
    const c: ObservedContainer = {
      id,
      runtimeName: launch.runtimeName,
      image: launch.image,
      labels: Object.freeze({ ...launch.labels }) as Record<string, string>,
      state: "running",
      createdAt: now,
      startedAt: now,
    };
    this.#containers.set(id, c);
    this.#byName.set(launch.runtimeName, id);
    this.#images.add(launch.image);
    this.#notify(id);
    return { ...c };
  }

  /** Starts a stopped container again (new startedAt, exit cleared); no-op when running. Throws RuntimeCallFailed for an unknown id. */
  async start(id: string): Promise<void> {
    await this.#enter("start");
    const c = this.#known(id, "start");
    if (c.state === "running") return;
    c.state = "running";
    c.startedAt = this.#now();
    delete c.exitCode;
    delete c.finishedAt;
    this.#ready.delete(id);
    this.#notify(id);
  }

  /** Stops a running container: exit FAKE_SIGTERM_EXIT with a grace period, FAKE_SIGKILL_EXIT without. No-op when stopped; RuntimeCallFailed for an unknown id. */
  async stop(id: string, graceSeconds: number): Promise<void> {
    await this.#enter("stop");
    const c = this.#known(id, "stop");
    if (c.state !== "running") return;
    c.state = "exited";
    c.exitCode = graceSeconds > 0 ? FAKE_SIGTERM_EXIT : FAKE_SIGKILL_EXIT;
    c.finishedAt = this.#now();
    this.#ready.delete(id);
    this.#notify(id);
  }

  /** Removes a container, running or not; no-op for an unknown id. Its image stays on the node. */
  async remove(id: string): Promise<void> {
    await this.#enter("remove");
    const c = this.#containers.get(id);
    if (c === undefined) return;
    this.#containers.delete(id);
    this.#byName.delete(c.runtimeName);
    this.#ready.delete(id);
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
