/**
 * What becomes of every PersistentVolumeClaim, decided from snapshots (pure): the record of each claim in
 * Git or with data on a node, and the data to remove.
 *
 * - A claim in Git is Bound when it has a node (its storage is there, or its first pod was placed there),
 *   else Pending: it is bound by its first pod's placement (the scheduler's VolumeBinding).
 * - A claim gone from Git whose data is still on a node is Released. Its data is removed only when the claim
 *   carried coxswain.io/delete-data-on-removal: "true" when it was last seen; otherwise it is kept, and the
 *   record says how to remove it by hand. Putting the claim back in Git binds it to its data again.
 * - A StatefulSet's claims (statefulSetClaims) are desired like claims in Git: those of its ordinals below
 *   replicas, and those of higher ordinals that still have data (kept after a scale-down, as Kubernetes
 *   retains them, and used again when the set scales back up). They are released when the set goes.
 */
import type { StatefulSet } from "../../api/objects.js";
import { statefulClaimName } from "../../manifest/statefulset.js";
import type { ClaimRecord } from "../../status/claims.js";

/** A claim of the desired state. */
export interface DesiredClaim {
  /** "namespace/name". */
  claim: string;
  storage: string;
  deleteDataOnRemoval: boolean;
}

/** A node as the claims see it. */
export interface ClaimNode {
  name: string;
  ready: boolean;
  /** A Docker engine's endpoint (unix://, tcp://), for the command that removes a volume by hand; absent on the process runtime. */
  dockerEndpoint?: string;
}

/** What planClaims reads. */
export interface ClaimsInput {
  /** The claims in Git, any order. */
  desired: readonly DesiredClaim[];
  /** The claims' storage found on nodes (Fleet.claimVolumes). */
  volumes: readonly { claim: string; node: string; volume: string }[];
  /** The node each claim is bound to (Fleet.claimNode). */
  boundNode: (claim: string) => string | undefined;
  /** The nodes of the fleet. */
  nodes: readonly ClaimNode[];
  /** Whether a claim no longer in Git asked for its data to go (what it last said; false when unknown). */
  deleteDataOf: (claim: string) => boolean;
}

/** The records to write (sorted by claim) and the storage to remove. */
export interface ClaimsPlan {
  records: ClaimRecord[];
  remove: { claim: string; node: string }[];
}

/** Decides the record of every claim and which released claims' data goes. */
export function planClaims(input: ClaimsInput): ClaimsPlan {
  const nodes = new Map(input.nodes.map((n) => [n.name, n]));
  const volumesOf = new Map<string, { node: string; volume: string }[]>();
  for (const v of input.volumes) volumesOf.set(v.claim, [...(volumesOf.get(v.claim) ?? []), { node: v.node, volume: v.volume }]);
  const stateOf = (node: string): ClaimRecord["nodeState"] => {
    const n = nodes.get(node);
    return n === undefined ? "NotInFleet" : n.ready ? "Ready" : "NotReady";
  };
  const records: ClaimRecord[] = [];
  const remove: ClaimsPlan["remove"] = [];
  const desired = new Set<string>();
  for (const d of input.desired) {
    desired.add(d.claim);
    const node = input.boundNode(d.claim);
    const volume = volumesOf.get(d.claim)?.find((v) => v.node === node)?.volume;
    if (node === undefined) {
      records.push({ claim: d.claim, phase: "Pending", storage: d.storage, deleteDataOnRemoval: d.deleteDataOnRemoval, message: "waiting for its first pod: the node that pod is placed on holds the claim's data" });
      continue;
    }
    const state = stateOf(node);
    const others = (volumesOf.get(d.claim) ?? []).filter((v) => v.node !== node).map((v) => v.node);
    records.push({
      claim: d.claim,
      phase: "Bound",
      node,
      nodeState: state,
      ...(volume !== undefined ? { volume } : {}),
      storage: d.storage,
      deleteDataOnRemoval: d.deleteDataOnRemoval,
      message:
        (state === "Ready" ? `bound to node ${node}: its pods run there` : `bound to node ${node}, which is ${state === "NotReady" ? "NotReady" : "not in the fleet"}: its pods wait for it (the data is not moved)`) +
        (others.length > 0 ? `; storage of the same claim is also on ${others.join(", ")} and is left alone` : ""),
    });
  }
  for (const [claim, vols] of [...volumesOf].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (desired.has(claim)) continue;
    const deleteData = input.deleteDataOf(claim);
    if (deleteData) for (const v of vols) remove.push({ claim, node: v.node });
    const v = vols[0]!;
    const endpoint = nodes.get(v.node)?.dockerEndpoint;
    const also =
      vols.length > 1
        ? ` (and on ${vols
            .slice(1)
            .map((o) => o.node)
            .join(", ")})`
        : "";
    records.push({
      claim,
      phase: "Released",
      node: v.node,
      nodeState: stateOf(v.node),
      volume: v.volume,
      deleteDataOnRemoval: deleteData,
      message: deleteData
        ? `removed from Git with coxswain.io/delete-data-on-removal: "true": its data on node ${v.node}${also} is being removed`
        : `removed from Git; its data on node ${v.node}${also} is retained (without coxswain.io/delete-data-on-removal: "true" coxswain never removes it); put the claim back to use it again, or remove it by hand`,
      ...(deleteData ? {} : { removeByHand: endpoint !== undefined ? `docker -H ${endpoint} volume rm ${v.volume}` : `rm -r ${v.volume}` }),
    });
  }
  records.sort((a, b) => (a.claim < b.claim ? -1 : a.claim > b.claim ? 1 : 0));
  return { records, remove };
}

/**
 * The claims of StatefulSets as desired claims: <template>-<set>-<ordinal> for each ordinal below replicas,
 * and for each higher ordinal whose claim still has data (`existing`: claims with storage on a node,
 * "namespace/name"). Never removed with their data: only a claim in Git can ask for that.
 */
export function statefulSetClaims(sets: readonly StatefulSet[], existing: ReadonlySet<string>): DesiredClaim[] {
  const out = new Map<string, DesiredClaim>();
  for (const set of sets) {
    const namespace = set.metadata.namespace ?? "default";
    for (const t of set.spec.volumeClaimTemplates ?? []) {
      const storage = String(t.spec.resources.requests.storage);
      const add = (ordinal: number) => {
        const claim = `${namespace}/${statefulClaimName(t.metadata.name, set.metadata.name, ordinal)}`;
        if (!out.has(claim)) out.set(claim, { claim, storage, deleteDataOnRemoval: false });
      };
      for (let o = 0; o < (set.spec.replicas ?? 1); o++) add(o);
      const prefix = `${namespace}/${t.metadata.name}-${set.metadata.name}-`;
      for (const claim of existing) {
        const rest = claim.startsWith(prefix) ? claim.slice(prefix.length) : "";
        if (/^(0|[1-9][0-9]*)$/.test(rest)) add(Number(rest));
      }
    }
  }
  return [...out.values()].sort((a, b) => (a.claim < b.claim ? -1 : a.claim > b.claim ? 1 : 0));
}
