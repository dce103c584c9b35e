/** ImageLocality: nodes that already hold the pod's images score higher, weighted by how widely each is spread. */
import type { Cycle } from "./cycle.js";
import type { Engine } from "./framework.js";
import { MAX_NODE_SCORE } from "./normalize.js";

const MIB = 1024 * 1024;
/** ImageLocality's minThreshold (23 MiB) and per-container maxThreshold (1000 MiB). */
const MIN_IMAGE_THRESHOLD = 23 * MIB;
const MAX_CONTAINER_THRESHOLD = 1000 * MIB;
/** Size assumed for an image whose size no node reported (coxswain's choice; sizes are then all equal). */
const DEFAULT_IMAGE_SIZE_BYTES = 256 * MIB;

/**
 * ImageLocality: Σ over the pod's container images held by the node of size·(nodes holding it / all nodes),
 * clamped to [23 MiB, 1000 MiB·containers] and scaled to 0..100.
 */
export function imageScore(engine: Engine, cy: Cycle, f: Int32Array, m: number, out: Float64Array): number | undefined {
  const imgs = cy.p.images;
  if (imgs.length === 0) return 0;
  const cl = engine.cl;
  let any = false;
  for (const img of imgs) if ((cl.imageNodes.get(img) ?? 0) > 0) any = true;
  if (!any) return 0;
  const total = cl.n;
  const maxThreshold = MAX_CONTAINER_THRESHOLD * imgs.length;
  for (let k = 0; k < m; k++) {
    const i = f[k]!;
    const held = cl.images[i];
    let sum = 0;
    if (held !== undefined) {
      for (const img of imgs) {
        if (!held.has(img)) continue;
        const size = cl.imageSizes.get(img) ?? DEFAULT_IMAGE_SIZE_BYTES;
        sum += Math.trunc(size * ((cl.imageNodes.get(img) ?? 0) / total));
      }
    }
    if (sum < MIN_IMAGE_THRESHOLD) sum = MIN_IMAGE_THRESHOLD;
    else if (sum > maxThreshold) sum = maxThreshold;
    out[k] = Math.trunc((MAX_NODE_SCORE * (sum - MIN_IMAGE_THRESHOLD)) / (maxThreshold - MIN_IMAGE_THRESHOLD));
  }
  return undefined;
}
