/**
 * What DockerRuntime lists: every container of our owner as an ObservedContainer. The start and finish times
 * are only in inspect answers; those are cached per container while an event stream is open (a watcher
 * exists): every event for a container, every own call on it (invalidate) and every reconnect invalidates;
 * without a stream nothing is cached and every list inspects. The same stream tells watchers of changes.
 */
import type { ObservedContainer, RuntimeChangeListener } from "../types.js";
import { LABELS } from "../labels.js";
import type { DockerEngine } from "./engine.js";
import { EventStream } from "./events.js";
import { compareObserved, observedFromInspect, type DockerContainerSummary, type EngineEvent } from "./mapping.js";

/** Container event actions that change what list() reports; exec_*, attach, resize… are ignored. */
const LIFECYCLE_ACTIONS: ReadonlySet<string> = new Set(["create", "start", "restart", "die", "kill", "oom", "stop", "pause", "unpause", "destroy", "rename", "update"]);

interface CacheEntry {
  state: string;
  observed: ObservedContainer;
}

/** The containers of one engine as observed, with the inspect cache and the event stream that keeps it valid. */
export class ContainerListing {
  private readonly listeners = new Set<RuntimeChangeListener>();
  private events: EventStream | undefined;
  private readonly cache = new Map<string, CacheEntry>();
  /** Bumped by every event and own call on a container: an inspect that overlapped one is not cached. */
  private readonly generations = new Map<string, number>();
  /** Bumped on every stream (dis)connection: invalidates everything in flight. */
  private epoch = 0;
  private closed = false;

  constructor(private readonly engine: DockerEngine) {}

  /** Every container (any state) labelled with our owner, sorted by runtime name then id. */
  async list(): Promise<ObservedContainer[]> {
    const summaries = await this.engine.call<DockerContainerSummary[]>("list containers", {
      method: "GET",
      path: "/containers/json",
      query: { all: true, filters: { label: [`${LABELS.owner}=${this.engine.owner}`] } },
    });
    const listed = new Set(summaries.map((s) => s.Id));
    for (const id of this.cache.keys()) if (!listed.has(id)) this.cache.delete(id);
    const observed = await Promise.all(summaries.map((s) => this.observe(s)));
    return observed.filter((o): o is ObservedContainer => o !== undefined).sort(compareObserved);
  }

  /**
   * Subscribes to container events of our owner: listener(id) for every create/start/die/destroy/… (each
   * engine event once), listener(undefined) after the stream reconnected (events may have been missed:
   * re-list everything). One stream per runtime, shared by all listeners, opened on first subscription.
   */
  watch(listener: RuntimeChangeListener): () => void {
    if (this.closed) return () => undefined;
    this.listeners.add(listener);
    this.ensureEventStream();
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) this.stopEventStream();
    };
  }

  /** A list entry → ObservedContainer, from the cache when it is valid, else from inspect. */
  private async observe(s: DockerContainerSummary): Promise<ObservedContainer | undefined> {
    const usable = this.events?.connected === true;
    const cached = usable ? this.cache.get(s.Id) : undefined;
    if (cached && cached.state === s.State) return cached.observed;
    const epoch = this.epoch;
    const generation = this.generations.get(s.Id) ?? 0;
    const info = await this.engine.inspect(s.Id, `inspect container ${s.Id.slice(0, 12)}`);
    if (!info) return undefined; // removed between list and inspect
    const observed = observedFromInspect(info);
    if (this.events?.connected === true && epoch === this.epoch && generation === (this.generations.get(s.Id) ?? 0) && info.State?.Status !== undefined) {
      this.cache.set(s.Id, { state: info.State.Status, observed });
    }
    return observed;
  }

  /** Forgets what is cached of a container: an own call or an event changed it (an inspect under way is not cached either). */
  invalidate(id: string): void {
    this.cache.delete(id);
    this.generations.set(id, (this.generations.get(id) ?? 0) + 1);
  }

  private ensureEventStream(): void {
    if (this.events) return;
    const stream = new EventStream({
      open: (since, signal) => this.engine.openEvents(since, signal),
      onEvent: (event) => this.onEngineEvent(event),
      onConnected: (reconnect) => {
        this.epoch++;
        this.cache.clear();
        if (reconnect) this.notify(undefined);
      },
      onDisconnected: () => {
        this.epoch++;
        this.cache.clear();
      },
    });
    this.events = stream;
    stream.start();
  }

  private stopEventStream(): void {
    this.events?.stop();
    this.events = undefined;
    this.epoch++;
    this.cache.clear();
  }

  private onEngineEvent(event: EngineEvent): void {
    if (event.type !== "" && event.type !== "container") return;
    if (!LIFECYCLE_ACTIONS.has(event.action)) return;
    this.invalidate(event.id);
    if (event.action === "destroy") this.generations.delete(event.id);
    this.notify(event.id);
  }

  private notify(id: string | undefined): void {
    for (const listener of [...this.listeners]) {
      try {
        listener(id);
      } catch {
        // One listener's failure must not starve the others.
      }
    }
  }

  /** Closes the event stream and cancels reconnects; no watcher is told anything more. */
  close(): void {
    this.closed = true;
    this.listeners.clear();
    this.stopEventStream();
  }
}
