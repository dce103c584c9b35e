/**
 * The service controller on in-memory fakes, shared by its unit tests: a desired graph built from manifest
 * text, a stand-in fleet of nodes and ready pods, a FakeProxy per node (and whatever else the test hands
 * the controller), status files in a map, the log in an array. Real traffic through a real HAProxy is in
 * the integration suites; this is for the controller's decisions.
 */
import type { ServiceControllerOptions } from "../../operator/src/controllers/service/controller.js";
import { ServiceController } from "../../operator/src/controllers/service/controller.js";
import type { DesiredView } from "../../operator/src/controllers/types.js";
import { buildGraph } from "../../operator/src/graph/index.js";
import type { DesiredGraph } from "../../operator/src/graph/graph.js";
import { ManifestCache, loadManifests } from "../../operator/src/manifest/index.js";
import { FakeProxy } from "../../operator/src/runtime/fake/index.js";
import type { Fleet, NodeConfig, ObservedPod } from "../../operator/src/runtime/fleet.js";
import { LABELS } from "../../operator/src/runtime/labels.js";
import { lineLogger } from "./log.js";

/** A host-network (or bridge) node at `address` with a small port range. */
export function fakeNode(name: string, address: string, network: "host" | "bridge" = "host", portRange = { from: 30000, to: 30001 }): NodeConfig {
  return { name, endpoint: `unix:///fake/${name}.sock`, network, address, portRange, unschedulable: false, labels: {} };
}

/** A ready, running pod labelled `labels`, answering on container port 8080 ("http") at `hostPort` of its node. */
export function readyPod(p: { name: string; node: string; labels: Record<string, string>; hostPort: number; owner?: string; revision?: string }): ObservedPod {
  return {
    name: p.name,
    node: p.node,
    namespace: "default",
    ...(p.owner !== undefined ? { owner: p.owner } : {}),
    ...(p.revision !== undefined ? { revision: p.revision } : {}),
    phase: "Running",
    ready: true,
    containers: [{ labels: { [LABELS.podLabels]: JSON.stringify(p.labels) } }],
    ports: [{ name: "http", containerPort: 8080, hostPort: p.hostPort, protocol: "TCP" }],
  } as unknown as ObservedPod;
}

/** The desired graph of manifest text (documents separated by "---" lines); throws with every error when it is not valid. */
function graphOf(text: string): DesiredGraph {
  // One file per document, as a repository would hold them (a file may hold at most 1,000 documents).
  const files = text.split(/^---\n/m).map((content, i) => ({ path: `doc-${String(i).padStart(5, "0")}.yaml`, content }));
  const set = loadManifests(files, { cache: new ManifestCache() });
  const g = buildGraph(set.objects);
  const errors = [...set.diagnostics, ...g.diagnostics].filter((d) => d.severity === "error");
  if (errors.length > 0) throw new Error(errors.map((d) => `${d.line} ${d.field}: ${d.message}`).join("\n"));
  return g.graph;
}

/** The lines of the section that starts with `header` in the last configuration `proxy` was given, unindented. */
export function proxySection(proxy: FakeProxy, header: string): string[] {
  const block = (proxy.reloads.at(-1) ?? "").split("\n\n").find((b) => b.startsWith(`${header}\n`));
  return block === undefined
    ? []
    : block
        .split("\n")
        .slice(1)
        .map((l) => l.trim());
}

/** What a test gives the harness. */
export interface ServiceHarnessOptions {
  manifests: string;
  /** Default: n1 at 10.0.0.1 and n2 at 10.0.0.2, host network. */
  nodes?: NodeConfig[];
  pods: ObservedPod[];
  /** The proxy of a node (a FakeProxy by default); every one made is kept in `proxies`. */
  proxy?: (n: NodeConfig) => FakeProxy;
  /** More controller options (forwardersFor, ingress, traffic, …); `enqueue` queues a key for `run`. */
  options?: (enqueue: (key: string) => void) => Partial<ServiceControllerOptions>;
}

/** The controller and what it did. */
export interface ServiceHarness {
  controller: ServiceController;
  /** The latest proxy made for each node. */
  proxies: Map<string, FakeProxy>;
  /** Status files by path. */
  status: Map<string, string>;
  logs: string[];
  /** The host ports the controller last kept from pods. */
  reserved: number[];
  /** What the last reconcile of each key returned or threw. */
  results: Map<string, unknown>;
  /** Reconciles the Services, then drains the queue (the proxies of `only` nodes, when given). */
  run(only?: string[]): Promise<void>;
  /** Reconciles every queued key, one copy each, in key order, round after round until none is left. */
  drain(only?: string[]): Promise<void>;
  setManifests(text: string): void;
}

/** A service controller over the fakes of `opts`. */
export function serviceHarness(opts: ServiceHarnessOptions): ServiceHarness {
  const nodes = opts.nodes ?? [fakeNode("n1", "10.0.0.1"), fakeNode("n2", "10.0.0.2")];
  let graph = graphOf(opts.manifests);
  const desired: DesiredView = { graph: () => graph, commit: () => "c1", ready: () => true, entry: () => undefined };
  const keys: string[] = [];
  const enqueue = (key: string): void => void keys.push(key);
  const h: Omit<ServiceHarness, "controller"> = {
    proxies: new Map(),
    status: new Map(),
    logs: [],
    reserved: [],
    results: new Map(),
    run: async (only) => {
      await controller.reconcile("Service/*");
      await h.drain(only);
    },
    drain: async (only) => {
      // As the work queue does: one pending copy of each key; what a reconcile queues runs in the next round.
      while (keys.length > 0) {
        for (const key of [...new Set(keys.splice(0))].sort()) {
          if (only !== undefined && key.startsWith("Proxy/") && key !== "Proxy/*" && !only.includes(key.slice("Proxy/".length))) continue;
          h.results.set(key, await controller.reconcile(key).catch((err: unknown) => err));
        }
      }
    },
    setManifests: (text) => void (graph = graphOf(text)),
  };
  const fleet = {
    listNodes: () => nodes.map((config) => ({ config, ready: true, condition: "Ready", evicted: false })),
    pods: () => opts.pods,
    nodeConfig: (name: string) => nodes.find((n) => n.name === name),
    setReservedHostPorts: (ports: Iterable<number>) => void h.reserved.splice(0, h.reserved.length, ...ports),
  } as unknown as Fleet;
  const controller = new ServiceController({
    desired,
    fleet,
    proxyFor: (n) => {
      const p = opts.proxy?.(n) ?? new FakeProxy();
      h.proxies.set(n.name, p);
      return p;
    },
    setStatusFile: (path, content) => void (content === undefined ? h.status.delete(path) : h.status.set(path, content)),
    statusFiles: (prefix) => [...h.status.keys()].filter((p) => p.startsWith(prefix)),
    enqueue,
    log: lineLogger((line) => h.logs.push(line)),
    ...opts.options?.(enqueue),
  });
  return Object.assign(h, { controller });
}
