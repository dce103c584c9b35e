/** NodePorts: the pod's count of dynamic ports against the node's free ones, and its host ports against those in use. */
import type { Engine } from "./framework.js";
import type { PodInfo } from "./podinfo.js";

export function portsStatus(engine: Engine, p: PodInfo, i: number): number {
  if (p.ports > 0 && p.ports > engine.cl.freePorts[i]!) return engine.rPorts;
  if (p.hostPorts.length > 0) {
    const used = engine.cl.hostPorts[i];
    if (used !== undefined) for (const hp of p.hostPorts) if (used.conflicts(hp)) return engine.rPorts;
  }
  return 0;
}
