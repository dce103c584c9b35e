/**
 * The set-up most operator integration tests share: the whole operator in the test process on a real Git
 * repository, polling fast and writing status soon, its log lines kept so that a failure can show them,
 * and what is left removed after; a fleet of fake engines for the tests that run on one, and the Node
 * manifests of a Docker test fleet with a node drained, cordoned or removed.
 */
import { rm } from "node:fs/promises";
import { parseAllDocuments, stringify } from "yaml";
import { FakeRuntime } from "../../operator/src/runtime/fake/index.js";
import { startOperator, type OperatorOptions, type RunningOperator } from "../../operator/src/sync/operator.js";
import type { TestFleet } from "./docker-fleet.js";
import type { TestRepo } from "./git-repo.js";
import { lineLogger } from "./log.js";

/**
 * Starts the operator on `repo` with `stateDir`: polling Git and the fleet every 200 ms, writing status
 * 50 ms after a change, every log line's message pushed to `lines`. `extra` adds or overrides options
 * (runtimeFactory, proxyFactory, instance, seed, …).
 */
export function startTestOperator(repo: TestRepo, stateDir: string, lines: string[], extra: Partial<OperatorOptions> = {}): Promise<RunningOperator> {
  return startOperator({
    repo: repo.dir,
    stateDir,
    pollMs: 200,
    fleetPollMs: 200,
    statusDebounceMs: 50,
    log: lineLogger((l) => lines.push(l)),
    ...extra,
  });
}

/**
 * A `withLog(promise)` for a test's waits: the promise as it is, except that a rejection's message ends
 * with the last 40 of `lines` (read when it fails), so that a timeout says what the operator was doing.
 */
export function withLogOf(lines: readonly string[]): <T>(p: Promise<T>) => Promise<T> {
  return (p) => p.catch((err: Error) => Promise.reject(new Error(`${err.message}\noperator log (last 40 lines):\n${lines.slice(-40).join("\n")}`)));
}

/**
 * A runtimeFactory of fake engines: the first call for a node makes its FakeRuntime (`cpuMillis`, 4 GiB of
 * memory) and puts it in `runtimes`; later calls, an operator restarted on the same map included, get it.
 */
export function fakeRuntimeFactory(runtimes: Map<string, FakeRuntime>, cpuMillis = 2000): NonNullable<OperatorOptions["runtimeFactory"]> {
  return (node) => {
    let rt = runtimes.get(node.name);
    if (!rt) runtimes.set(node.name, (rt = new FakeRuntime({ name: node.name, cpuMillis, memoryBytes: 4 * 2 ** 30 })));
    return rt;
  };
}

/**
 * Stops `op` (when it started), then removes `repo` and `stateDir` (each when it was made): safe in an
 * afterEach or afterAll whose set-up failed part way.
 */
export async function stopTestOperator(op: RunningOperator | undefined, repo: TestRepo | undefined, stateDir: string | undefined): Promise<void> {
  await op?.stop();
  await repo?.cleanup();
  if (stateDir) await rm(stateDir, { recursive: true, force: true });
}

/**
 * The Node manifests of `fleet` (TestFleet.nodeManifests), in its order: without the node named `without`,
 * with `drain: true` on the node named `drain` and `unschedulable: true` on the node named `cordon`.
 */
export function fleetNodes(fleet: TestFleet, edits: { drain?: string | undefined; cordon?: string | undefined; without?: string | undefined }): string {
  return parseAllDocuments(fleet.nodeManifests())
    .map((d) => d.toJSON() as { metadata: { name: string }; spec: Record<string, unknown> })
    .filter((n) => n.metadata.name !== edits.without)
    .map((n) => {
      if (n.metadata.name === edits.drain) n.spec.drain = true;
      if (n.metadata.name === edits.cordon) n.spec.unschedulable = true;
      return stringify(n);
    })
    .join("---\n");
}
