/**
 * YAML parsing and per-file checks (check.ts checkFile) on worker threads, for readings of many files.
 * Parsing is most of a cold load's time (the `yaml` package, ~0.2 ms per small file), it is per file and
 * pure, so it spreads over cores; it also keeps the event loop free while a huge file is parsed.
 *
 * Files go in batches (their bytes copied into one transferred buffer); each batch is one message to the
 * least busy worker and one reply, and check() resolves with the batch's files in the order given, so what
 * a caller builds does not depend on which worker answers first. A reply is plain data (the structured
 * clone of a CheckedFile without its FilePositions); check() rebuilds the positions from the bytes the
 * caller keeps, and deep-freezes the objects as checkFile does. Workers start on demand, up to the pool's
 * size; a worker with no batch in flight does not keep the process alive, and close() ends them all.
 *
 * A failure of a worker (checkFile throwing, the worker dying) rejects the batches it held with a CoxError
 * (ParseWorkerFailed, retried: it says nothing of the commit); the pool stays usable for other batches.
 */
import { availableParallelism } from "node:os";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import { CoxError } from "../api/errors.js";
import { deepFreeze, type CheckedDocument, type CheckedFile } from "./cache.js";
import { FilePositions } from "./parse.js";

/** One batch as a worker receives it: the files' bytes back to back, where each ends, the document limit. */
export interface ParseBatch {
  id: number;
  buffer: ArrayBuffer;
  ends: number[];
  maxDocuments: number;
}

/** A checked file as it crosses threads: a CheckedFile whose documents have no positions. */
export type WireFile = Omit<CheckedFile, "documents"> & { documents: Omit<CheckedDocument, "positions">[] };

/** A worker's reply to one batch. */
export type ParseReply = { id: number; files: WireFile[] } | { id: number; error: string };

/**
 * How long idle workers are kept: a cold load sends many batches close together; the next large one
 * (another cold load, a big change) may come much later, and idle workers hold memory (a heap each).
 */
const DEFAULT_IDLE_MS = 30_000;

/** Workers of a pool by default: one per core the process may use. */
function defaultPoolSize(): number {
  return Math.max(1, availableParallelism());
}

/**
 * How a worker starts: the compiled parse-worker.js next to this file, or — when this file runs from its
 * TypeScript source (tsx, vitest) — parse-worker.ts through tsx's loader, registered in the worker itself
 * (Node 20 applies neither the parent's module hooks nor an `--import` of execArgv to a worker's entry).
 */
function startWorker(): Worker {
  if (!import.meta.url.endsWith(".ts")) return new Worker(new URL("./parse-worker.js", import.meta.url));
  const tsxPackage = createRequire(import.meta.url).resolve("tsx/package.json");
  const api = pathToFileURL(tsxPackage.replace(/package\.json$/, "dist/esm/api/index.mjs")).href;
  const entry = new URL("./parse-worker.ts", import.meta.url).href;
  return new Worker(`import(${JSON.stringify(api)}).then((tsx) => tsx.register()).then(() => import(${JSON.stringify(entry)}))`, { eval: true });
}

interface PoolWorker {
  worker: Worker;
  /** Batches sent and not answered, by id. */
  pending: Map<number, { resolve: (files: WireFile[]) => void; reject: (err: Error) => void }>;
}

/** A pool of parse workers; see the file comment. */
export class ParsePool {
  readonly #size: number;
  readonly #idleMs: number;
  readonly #start: () => Worker;
  readonly #workers: PoolWorker[] = [];
  #nextId = 0;
  #closed = false;
  #idleTimer: NodeJS.Timeout | undefined;

  /**
   * `size` workers at most (one per core unless given), started as batches need them; once no batch has
   * been in flight for `idleMs`, the workers are ended (and started again by the next batch). `start`
   * replaces how a worker starts (tests: a worker that fails).
   */
  constructor(opts: { size?: number; idleMs?: number; start?: () => Worker } = {}) {
    this.#size = Math.max(1, Math.floor(opts.size ?? defaultPoolSize()));
    this.#idleMs = opts.idleMs ?? DEFAULT_IDLE_MS;
    this.#start = opts.start ?? startWorker;
  }

  /** Workers started so far (at most the size given). */
  get started(): number {
    return this.#workers.length;
  }

  /**
   * checkFile of each file's bytes with this document limit, on a worker; resolves with one CheckedFile per
   * file, in the order given. Rejects with a CoxError when the worker fails or the pool is closed.
   */
  check(files: readonly Uint8Array[], maxDocuments: number): Promise<CheckedFile[]> {
    if (this.#closed) return Promise.reject(new CoxError("ParseWorkerFailed", "the YAML parse pool is closed"));
    const total = files.reduce((n, f) => n + f.byteLength, 0);
    const all = new Uint8Array(total);
    const ends: number[] = [];
    let at = 0;
    for (const f of files) {
      all.set(f, at);
      at += f.byteLength;
      ends.push(at);
    }
    const id = this.#nextId++;
    clearTimeout(this.#idleTimer);
    const w = this.#pick();
    const reply = new Promise<WireFile[]>((resolve, reject) => w.pending.set(id, { resolve, reject }));
    if (w.pending.size === 1) w.worker.ref();
    const batch: ParseBatch = { id, buffer: all.buffer, ends, maxDocuments };
    w.worker.postMessage(batch, [all.buffer]);
    return reply.then((wire) => wire.map((file, i) => fromWire(file, files[i]!)));
  }

  /** Ends every worker; batches in flight are rejected. Later check() calls are rejected. */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#idleTimer);
    const workers = this.#workers.splice(0);
    for (const w of workers) this.#fail(w, "the YAML parse pool was closed");
    await Promise.all(workers.map((w) => w.worker.terminate()));
  }

  /** Ends the workers once none has had a batch for idleMs (the timer does not keep the process alive). */
  #whenIdle(): void {
    if (this.#workers.some((w) => w.pending.size > 0)) return;
    clearTimeout(this.#idleTimer);
    this.#idleTimer = setTimeout(() => {
      if (this.#workers.some((w) => w.pending.size > 0)) return;
      const workers = this.#workers.splice(0);
      for (const w of workers) void w.worker.terminate();
    }, this.#idleMs);
    this.#idleTimer.unref();
  }

  /** The worker with the fewest batches in flight; a new one while the pool is below its size and all are busy. */
  #pick(): PoolWorker {
    let best: PoolWorker | undefined;
    for (const w of this.#workers) if (!best || w.pending.size < best.pending.size) best = w;
    if (best && (best.pending.size === 0 || this.#workers.length >= this.#size)) return best;
    return this.#spawn();
  }

  #spawn(): PoolWorker {
    const worker = this.#start();
    const w: PoolWorker = { worker, pending: new Map() };
    worker.unref();
    worker.on("message", (reply: ParseReply) => {
      const p = w.pending.get(reply.id);
      if (!p) return;
      w.pending.delete(reply.id);
      if (w.pending.size === 0) {
        worker.unref();
        this.#whenIdle();
      }
      if ("error" in reply) p.reject(new CoxError("ParseWorkerFailed", `a YAML parse worker failed: ${reply.error}`));
      else p.resolve(reply.files);
    });
    worker.on("error", (err) => this.#drop(w, `a YAML parse worker failed: ${err.stack ?? err.message}`));
    worker.on("exit", (code) => this.#drop(w, `a YAML parse worker exited (code ${code})`));
    this.#workers.push(w);
    return w;
  }

  /** Takes a failed worker out of the pool and rejects what it held. */
  #drop(w: PoolWorker, message: string): void {
    const i = this.#workers.indexOf(w);
    if (i !== -1) this.#workers.splice(i, 1);
    this.#fail(w, message);
    void w.worker.terminate();
  }

  #fail(w: PoolWorker, message: string): void {
    const pending = [...w.pending.values()];
    w.pending.clear();
    for (const p of pending) p.reject(new CoxError("ParseWorkerFailed", message));
  }
}

/** A CheckedFile from its wire form: positions rebuilt lazily from the bytes, objects frozen. */
function fromWire(file: WireFile, bytes: Uint8Array): CheckedFile {
  // A view into a larger buffer would keep that buffer alive as long as the cache keeps the positions.
  const positions = new FilePositions(bytes.byteLength === bytes.buffer.byteLength ? bytes : bytes.slice());
  return { ...file, documents: file.documents.map((d) => ({ ...d, positions, ...(d.object ? { object: deepFreeze(d.object) } : {}) })) };
}

let shared: ParsePool | undefined;

/** The process's pool (readManifestFiles uses it): workers started once are reused by later readings until idle. */
export function sharedParsePool(): ParsePool {
  shared ??= new ParsePool();
  return shared;
}
