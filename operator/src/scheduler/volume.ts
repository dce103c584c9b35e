/** VolumeBinding for coxswain's claims: a claim bound to a node, in the snapshot or by this pass, pins its pods there. */
import { EMPTY_LIST } from "./cycle.js";
import type { Engine } from "./framework.js";
import type { PodInfo } from "./podinfo.js";

/**
 * VolumeBinding.Filter for coxswain's claims (a local volume of one node, ReadWriteOnce): a claim bound to
 * a node fits that node only, also when that node is not in the snapshot (then the pod fits nowhere: its
 * data is never moved). An unbound claim fits every node; the placement binds it (assume).
 */
export function volumeStatus(engine: Engine, p: PodInfo, i: number): number {
  const name = engine.cl.names[i]!;
  for (const c of p.req.claims ?? EMPTY_LIST) {
    const bound = c.node ?? engine.claimNodes.get(c.name);
    if (bound !== undefined && bound !== name) return engine.rVolume;
  }
  return 0;
}
