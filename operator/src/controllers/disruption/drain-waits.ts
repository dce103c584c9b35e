/**
 * Drains that wait for a PodDisruptionBudget, by node: each controller that moves pods off a draining node
 * says, per owner, what holds its move ("drain of node a waits: PodDisruptionBudget default/web allows 0
 * disruptions (2 healthy, 2 desired)"), and the summary's node lines show them. In memory: a restart
 * finds the same budgets blocking at its first reconcile.
 */

/** The waiting drains, by node and owner. */
export class DrainWaits {
  private readonly waits = new Map<string, Map<string, string>>();

  /** @param onChange called after a line was set, changed or cleared (the summary is written again). */
  constructor(private readonly onChange: () => void = () => undefined) {}

  /** Sets what holds `owner`'s drain per node (empty: nothing holds it); replaces what it said before. */
  set(owner: string, byNode: ReadonlyMap<string, string>): void {
    let changed = false;
    for (const [node, owners] of this.waits) {
      if (!byNode.has(node) && owners.delete(owner)) changed = true;
      if (owners.size === 0) this.waits.delete(node);
    }
    for (const [node, line] of byNode) {
      let owners = this.waits.get(node);
      if (!owners) this.waits.set(node, (owners = new Map()));
      if (owners.get(owner) !== line) {
        owners.set(owner, line);
        changed = true;
      }
    }
    if (changed) this.onChange();
  }

  /** The lines of a node, sorted by owner; empty when no drain of it waits. */
  forNode(node: string): string[] {
    const owners = this.waits.get(node);
    return owners ? [...owners.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, line]) => line) : [];
  }
}
