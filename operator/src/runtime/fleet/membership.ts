/**
 * Which nodes are in the fleet (Fleet.setNodes): new nodes join after their first listing, a changed endpoint
 * reconnects, a node removed from Git leaves — at once, or, while it is named leaving, after it stayed
 * cordoned and draining — and a node that left has its containers stopped in the background.
 */
import { toCoxError } from "../../api/errors.js";
import type { Logger } from "../../api/log.js";
import type { NodeRuntime } from "../types.js";
import { failingRuntime } from "./failing-runtime.js";
import type { NodeConfig, NodeEntry, RuntimeFactory } from "./types.js";

/** What applyNodeConfigs takes of the fleet. */
export interface MembershipFleet {
  readonly nodes: Map<string, NodeEntry>;
  /** Claims bound to a node that no listing shows them on (see Fleet.claimNode). */
  readonly claimBindings: Map<string, string>;
  readonly opts: { runtimeFactory: RuntimeFactory; now: () => number; log?: Logger | undefined };
  emit(owners: string[], nodes: string[]): void;
  ownersOn(entries: readonly NodeEntry[]): string[];
  refreshEntry(e: NodeEntry): Promise<void>;
  scheduleRelist(e: NodeEntry): void;
}

/** Fleet.setNodes (see there), on the fleet's parts `f`. */
export async function applyNodeConfigs(f: MembershipFleet, configs: readonly NodeConfig[], leaving: readonly string[] = []): Promise<string[]> {
  const wanted = new Map(configs.map((c) => [c.name, c]));
  const removed: string[] = [];
  const changed: NodeEntry[] = [];
  for (const [name, entry] of f.nodes) {
    const next = wanted.get(name);
    if (!next && leaving.includes(name)) {
      // Removed from Git: cordoned and drained by the controllers (they read config.drain) before it leaves.
      if (!entry.leaving) {
        entry.leaving = true;
        entry.config = { ...entry.config, drain: true };
        changed.push(entry);
      }
      continue;
    }
    if (next && entry.leaving && next.endpoint === entry.config.endpoint && JSON.stringify(next.tls ?? null) === JSON.stringify(entry.config.tls ?? null)) {
      // Back in Git before it left: it stops leaving, with the config Git gives it now.
      entry.leaving = false;
      changed.push(entry);
    }
    if (!next || next.endpoint !== entry.config.endpoint || JSON.stringify(next.tls ?? null) !== JSON.stringify(entry.config.tls ?? null)) {
      entry.removed = true;
      // Its claims stay bound to it: their pods wait for it rather than start elsewhere without the data.
      for (const c of entry.claims) if (!f.claimBindings.has(c.claim)) f.claimBindings.set(c.claim, name);
      entry.unwatch?.();
      clearTimeout(entry.debounce);
      f.nodes.delete(name);
      if (!next) {
        removed.push(name);
        // A node removed from Git is left clean: its pods are stopped in the background (their
        // workloads place replacements on the remaining nodes at once), then the runtime is closed.
        void drainRemoved(f, entry);
      } else {
        await entry.runtime.close().catch(() => undefined);
      }
    } else {
      entry.config = next;
    }
  }
  const added: NodeEntry[] = [];
  for (const config of configs) {
    if (f.nodes.has(config.name)) continue;
    let runtime: NodeRuntime;
    try {
      runtime = f.opts.runtimeFactory(config);
    } catch (err) {
      // E.g. unreadable TLS credentials (SecretInvalid): the node joins, NotReady with that error.
      runtime = failingRuntime(toCoxError(err, "NodeUnreachable"));
    }
    const entry: NodeEntry = {
      config,
      runtime,
      ready: false,
      removed: false,
      leaving: false,
      lastSeenAt: f.opts.now(),
      condition: "Ready",
      evicted: false,
      evictedPods: new Set(),
      listedOnce: false,
      images: [],
      claims: [],
      containers: [],
      pods: new Map(),
      podsFrom: [],
    };
    entry.unwatch = runtime.watch(() => f.scheduleRelist(entry));
    added.push(entry);
  }
  // New nodes join only after their first listing, all together: a decision taken meanwhile must not
  // see half a fleet (it would pile every replica onto the node that answered first).
  await Promise.all(added.map((e) => f.refreshEntry(e)));
  for (const e of added) f.nodes.set(e.config.name, e);
  f.emit(f.ownersOn([...added, ...changed]), [...added, ...changed].map((e) => e.config.name).concat(removed));
  return removed.sort();
}

/** Stops and removes the containers of a node removed from Git, then closes its runtime. */
async function drainRemoved(f: MembershipFleet, entry: NodeEntry): Promise<void> {
  const owners = f.ownersOn([entry]);
  try {
    await Promise.all(
      entry.containers.map(async (c) => {
        await entry.runtime.stop(c.id, 10);
        await entry.runtime.remove(c.id);
      }),
    );
  } catch (err) {
    f.opts.log?.warn(`node ${entry.config.name} left the fleet; removing its containers failed: ${toCoxError(err).message}`);
  } finally {
    await entry.runtime.close().catch(() => undefined);
  }
  f.emit(owners, []);
}
