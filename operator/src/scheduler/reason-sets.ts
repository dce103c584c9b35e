/** The reasons filters give nodes, interned per pass: a node's status is a small id into one list. */

/** A set of reasons one filter gave a node, interned: nodes store its id (0 = feasible). */
export interface ReasonSet {
  readonly reasons: readonly string[];
  /** Removing pods from the node might help (Kubernetes' Unschedulable); else UnschedulableAndUnresolvable. */
  readonly resolvable: boolean;
  readonly plugin: string;
}

/** Interned reason sets of one pass. */
export class ReasonSets {
  readonly list: ReasonSet[] = [{ reasons: [], resolvable: false, plugin: "" }];
  private readonly ids = new Map<string, number>();

  /** The id of a reason set (interned: equal sets share one id). */
  id(plugin: string, reasons: readonly string[], resolvable: boolean): number {
    const key = `${plugin}\u0000${resolvable ? 1 : 0}\u0000${reasons.join("\u0001")}`;
    let id = this.ids.get(key);
    if (id === undefined) {
      id = this.list.length;
      this.list.push({ reasons: [...reasons], resolvable, plugin });
      this.ids.set(key, id);
    }
    return id;
  }
}
