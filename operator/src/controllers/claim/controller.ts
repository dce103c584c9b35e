/**
 * The claim controller: PersistentVolumeClaims, those in Git and those of StatefulSets' volumeClaimTemplates,
 * → claims/<ns>/<name>.yaml on the status branch, and the
 * removal of a released claim's data when it asked for it (plan.ts decides; this applies). One key,
 * CLAIMS_KEY, looks at every claim: claims are few and their records depend on the fleet as a whole.
 *
 * A claim's storage is made by its first pod's container (runtime/docker/volumes.ts, runtime/process/
 * volumes.ts) on the node the scheduler bound it to; the labels of that storage are the durable record of
 * the binding, read by the fleet on every listing. Nothing here makes storage.
 */
import type { PersistentVolumeClaim, StatefulSet } from "../../api/objects.js";
import { toCoxError } from "../../api/errors.js";
import type { Logger } from "../../api/log.js";
import { deleteDataOnRemovalOf } from "../../manifest/annotations.js";
import type { Fleet } from "../../runtime/fleet.js";
import { claimOfPath, claimPath, readClaimRecord, renderClaimRecord } from "../../status/claims.js";
import type { DesiredGraph } from "../../graph/index.js";
import type { DesiredView } from "../types.js";
import { planClaims, statefulSetClaims } from "./plan.js";

/** The key that makes the claim controller look at every claim. */
export const CLAIMS_KEY = "PersistentVolumeClaim/*";

/** How soon a released claim's data removal is tried again (its last pods may still be stopping). */
const REMOVE_RETRY_MS = 2_000;

/** Options of the claim controller. */
export interface ClaimControllerOptions {
  desired: DesiredView;
  fleet: Pick<Fleet, "claimNode" | "claimVolumes" | "removeClaimData" | "listNodes">;
  /** Writes (or, with undefined, removes) a status file. */
  setStatusFile(path: string, content: string | undefined): void;
  /** Paths of the status files under a prefix (read back after a restart too). */
  statusFiles(prefix: string): string[];
  /** A status file's text as last written or read back. */
  statusFile(path: string): string | undefined;
  /** Other graphs whose claims are desired too (the running previews'): their data is never released meanwhile. */
  otherGraphs?: () => DesiredGraph[];
  log?: Logger;
}

/** Reconciles CLAIMS_KEY. */
export class ClaimController {
  /** coxswain.io/delete-data-on-removal of every claim seen in Git, as last seen. */
  private readonly deleteData = new Map<string, boolean>();
  private readonly written = new Map<string, string>();
  /** Claims whose data removal failed and was logged (once, until it succeeds: its pods may take a while to stop). */
  private readonly failing = new Set<string>();

  constructor(private readonly opts: ClaimControllerOptions) {}

  /** Writes every claim's record; removes the data of released claims that asked for it (retried while in use). */
  async reconcile(_key: string): Promise<{ requeueAfterMs: number } | void> {
    const { desired, fleet } = this.opts;
    const graph = desired.graph();
    if (!graph || desired.ready?.() === false) return;
    const claims = [graph, ...(this.opts.otherGraphs?.() ?? [])].flatMap((g) => g.ofKind("PersistentVolumeClaim").map((m) => m.object as PersistentVolumeClaim));
    const wanted = claims.map((c) => {
      const claim = `${c.metadata.namespace ?? "default"}/${c.metadata.name}`;
      const deleteData = deleteDataOnRemovalOf(c);
      this.deleteData.set(claim, deleteData);
      return { claim, storage: String(c.spec.resources.requests.storage), deleteDataOnRemoval: deleteData };
    });
    // StatefulSets' claims, from their volumeClaimTemplates (a claim in Git of the same name wins).
    const sets = [graph, ...(this.opts.otherGraphs?.() ?? [])].flatMap((g) => g.ofKind("StatefulSet").map((m) => m.object as StatefulSet));
    const inGit = new Set(wanted.map((w) => w.claim));
    for (const c of statefulSetClaims(sets, new Set(fleet.claimVolumes().map((v) => v.claim)))) if (!inGit.has(c.claim)) wanted.push(c);
    const plan = planClaims({
      desired: wanted,
      volumes: fleet.claimVolumes(),
      boundNode: (claim) => fleet.claimNode(claim),
      nodes: fleet.listNodes().map((n) => ({
        name: n.config.name,
        ready: n.ready,
        ...(n.config.endpoint.startsWith("unix://") || n.config.endpoint.startsWith("tcp://") ? { dockerEndpoint: n.config.endpoint } : {}),
      })),
      // A claim removed while the operator was down: what its status file last said.
      deleteDataOf: (claim) => this.deleteData.get(claim) ?? readClaimRecord(this.opts.statusFile(claimPath(claim)) ?? "").deleteDataOnRemoval ?? false,
    });
    let retry = false;
    for (const r of plan.remove) {
      try {
        await fleet.removeClaimData(r.claim, r.node);
        this.failing.delete(`${r.claim}@${r.node}`);
        this.opts.log?.info(`claim ${r.claim}: removed its data on node ${r.node} (coxswain.io/delete-data-on-removal)`);
      } catch (err) {
        const e = toCoxError(err);
        if (!this.failing.has(`${r.claim}@${r.node}`)) this.opts.log?.warn(`claim ${r.claim}: removing its data on node ${r.node} failed (retried until it can be removed): ${e.code}: ${e.message}`);
        this.failing.add(`${r.claim}@${r.node}`);
        retry = true;
      }
    }
    const removedNow = new Set(plan.remove.map((r) => r.claim));
    const paths = new Set<string>();
    for (const record of plan.records) {
      // Data removed just now: the claim has no record any more (unless its removal failed and is retried).
      if (removedNow.has(record.claim) && !retry) continue;
      const path = claimPath(record.claim);
      paths.add(path);
      this.write(path, renderClaimRecord(record));
    }
    for (const path of this.opts.statusFiles("claims/")) {
      if (paths.has(path)) continue;
      const claim = claimOfPath(path);
      if (claim !== undefined && !wanted.some((w) => w.claim === claim)) this.deleteData.delete(claim);
      this.write(path, undefined);
    }
    return retry ? { requeueAfterMs: REMOVE_RETRY_MS } : undefined;
  }

  private write(path: string, content: string | undefined): void {
    if (content !== undefined && this.written.get(path) === content) return;
    if (content === undefined) this.written.delete(path);
    else this.written.set(path, content);
    this.opts.setStatusFile(path, content);
  }
}
