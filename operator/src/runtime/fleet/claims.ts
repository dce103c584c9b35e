/**
 * Which node each PersistentVolumeClaim is bound to (runtime/fleet.ts): the node whose engine holds its
 * storage, else a binding recorded here; every claim storage the nodes hold; a claim's storage removed.
 */
import { CoxError } from "../../api/errors.js";
import type { NodeEntry } from "./types.js";

/** The claims' bindings of one fleet (see Fleet.claimNode and what follows it there). */
export class ClaimBindings {
  /**
   * Claims bound to a node that no listing shows them on (yet): bound by a placement whose pod is being
   * created, read back from the status branch after a restart (seedClaims), or on a node that left the fleet.
   */
  readonly claimBindings = new Map<string, string>();

  constructor(private readonly nodes: ReadonlyMap<string, NodeEntry>) {}

  /**
   * The node a claim ("namespace/name") is bound to: the node whose engine holds its storage (the first by
   * name, should two), else the binding recorded here (bindClaim, seedClaims); undefined while unbound.
   */
  claimNode(claim: string): string | undefined {
    for (const name of [...this.nodes.keys()].sort()) if (this.nodes.get(name)!.claims.some((c) => c.claim === claim)) return name;
    return this.claimBindings.get(claim);
  }

  /** Binds an unbound claim to `node` (the node of its first pod); a bound claim keeps its node. */
  bindClaim(claim: string, node: string): void {
    if (this.claimNode(claim) === undefined) this.claimBindings.set(claim, node);
  }

  /** Records bindings known from elsewhere (the status branch, after a restart), unless the claim is bound already. */
  seedClaims(bindings: Readonly<Record<string, string>>): void {
    for (const [claim, node] of Object.entries(bindings)) this.bindClaim(claim, node);
  }

  /** Every claim storage the nodes hold, by claim then node (a claim on two nodes is listed twice). */
  claimVolumes(): { claim: string; node: string; volume: string }[] {
    const out: { claim: string; node: string; volume: string }[] = [];
    for (const [node, e] of this.nodes) for (const c of e.claims) out.push({ claim: c.claim, node, volume: c.volume });
    return out.sort((a, b) => (a.claim !== b.claim ? (a.claim < b.claim ? -1 : 1) : a.node < b.node ? -1 : a.node > b.node ? 1 : 0));
  }

  /**
   * Removes a claim's storage on `node` and forgets its binding there. RuntimeCallFailed while a container
   * uses it (the caller retries); NodeUnreachable when the node is not in the fleet or cannot remove storage.
   */
  async removeClaimData(claim: string, node: string): Promise<void> {
    const e = this.nodes.get(node);
    if (!e?.runtime.removeClaim) throw new CoxError("NodeUnreachable", `node ${node} is not in the fleet or keeps no claims: claim ${claim}'s data there is left alone`);
    await e.runtime.removeClaim(claim);
    e.claims = e.claims.filter((c) => c.claim !== claim);
    if (this.claimBindings.get(claim) === node) this.claimBindings.delete(claim);
  }
}
