/**
 * The status file of a PersistentVolumeClaim: claims/<namespace>/<name>.yaml on the status branch. Where the
 * claim's data is (its node and storage), whether it is Bound, Pending (no pod placed yet) or Released (gone
 * from Git, its data kept or being removed), and how to remove kept data by hand.
 *
 * Rendering is pure and deterministic (no clock). The file is also read back after a restart
 * (readClaimRecord): its node seeds the claim's binding, its deleteDataOnRemoval decides for a claim that
 * was removed from Git while the operator was down.
 */
import { stringify } from "yaml";
import { statusRecordOrUndefined } from "./schemas.js";

/** claims/<namespace>/<name>.yaml. */
export function claimPath(claim: string): string {
  return `claims/${claim}.yaml`;
}

/** The claim ("namespace/name") of a status file path, or undefined for another path. */
export function claimOfPath(path: string): string | undefined {
  const m = /^claims\/([^/]+)\/([^/]+)\.yaml$/.exec(path);
  return m ? `${m[1]}/${m[2]}` : undefined;
}

/** What the status file of one claim says. */
export interface ClaimRecord {
  /** "namespace/name". */
  claim: string;
  /** Bound: it has a node; Pending: no pod placed yet; Released: removed from Git, its data still on the node. */
  phase: "Bound" | "Pending" | "Released";
  /** The node its data is on (it is bound to). */
  node?: string;
  /** That node's state: Ready, NotReady, or not in the fleet (its pods wait for it). */
  nodeState?: "Ready" | "NotReady" | "NotInFleet";
  /** Where the data is: the Docker volume, or the directory (process runtime); absent before the first pod made it. */
  volume?: string;
  /** spec.resources.requests.storage as written (not enforced). */
  storage?: string;
  /** coxswain.io/delete-data-on-removal: "true". */
  deleteDataOnRemoval: boolean;
  /** One line for people. */
  message: string;
  /** Released and kept: the command that removes the data by hand. */
  removeByHand?: string;
}

/** The YAML text of a claim's status file (lines not folded, so that removeByHand can be copied). */
export function renderClaimRecord(r: ClaimRecord): string {
  return stringify(
    {
      claim: r.claim,
      phase: r.phase,
      ...(r.node !== undefined ? { node: r.node } : {}),
      ...(r.nodeState !== undefined ? { nodeState: r.nodeState } : {}),
      ...(r.volume !== undefined ? { volume: r.volume } : {}),
      ...(r.storage !== undefined ? { storage: r.storage } : {}),
      deleteDataOnRemoval: r.deleteDataOnRemoval,
      message: r.message,
      ...(r.removeByHand !== undefined ? { removeByHand: r.removeByHand } : {}),
    },
    { lineWidth: 0 },
  ); // unfolded: the command is copied as it is
}

/** The node and deleteDataOnRemoval of a claim's status file as written; empty when it is absent or not one (status/schemas.ts). */
export function readClaimRecord(text: string): { node?: string; deleteDataOnRemoval?: boolean } {
  const d = statusRecordOrUndefined("claim", text) as unknown as ClaimRecord | undefined;
  if (!d) return {};
  return { ...(d.node !== undefined ? { node: d.node } : {}), deleteDataOnRemoval: d.deleteDataOnRemoval };
}
