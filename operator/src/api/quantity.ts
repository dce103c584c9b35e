/**
 * Kubernetes resource quantities: "250m" CPU → 250 millicores, "128Mi" memory → bytes.
 * Only the forms the schemas in crds/ admit reach these functions; anything else throws.
 */

const BINARY: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60 };
const DECIMAL: Record<string, number> = { k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18 };

/**
 * Quantities must stay below 2^63 (millicores, bytes): Kubernetes and Docker hold them as int64, and
 * beyond that a number such as "1e400" is Infinity.
 */
const QUANTITY_LIMIT = 2 ** 63;

/** The parsed value, or a throw when it is not below QUANTITY_LIMIT. */
function bounded(v: number, q: number | string): number {
  if (!(v < QUANTITY_LIMIT)) throw new Error(`quantity too large: ${JSON.stringify(q)}`);
  return v;
}

/** CPU quantity → millicores, rounded up as Kubernetes does ("0.1" → 100, "1" → 1000, "250m" → 250); throws at 2^63 and above. */
export function parseCpu(q: number | string): number {
  const s = String(q).trim();
  const m = /^([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(m?)$/.exec(s);
  if (!m) throw new Error(`not a CPU quantity: ${JSON.stringify(q)}`);
  const n = Number(m[1]);
  return bounded(Math.ceil(m[2] === "m" ? n : n * 1000), q);
}

/** Memory quantity → bytes, rounded up ("128Mi" → 134217728, "1G" → 1e9, "1e6" → 1000000); throws at 2^63 and above ("1e400"). */
export function parseMemory(q: number | string): number {
  const s = String(q).trim();
  const m = /^([0-9]+(?:\.[0-9]*)?|\.[0-9]+)([KMGTPE]i|[kMGTPE]|[eE][0-9]+)?$/.exec(s);
  if (!m) throw new Error(`not a memory quantity: ${JSON.stringify(q)}`);
  const n = Number(m[1]);
  const suffix = m[2] ?? "";
  let factor = 1;
  if (suffix in BINARY) factor = BINARY[suffix]!;
  else if (suffix in DECIMAL) factor = DECIMAL[suffix]!;
  else if (suffix) factor = 10 ** Number(suffix.slice(1));
  return bounded(Math.ceil(n * factor), q);
}

/** Formats millicores the way Kubernetes prints them ("250m", "2"). */
export function formatCpu(millis: number): string {
  return millis % 1000 === 0 ? String(millis / 1000) : `${millis}m`;
}

/** Formats bytes with the largest binary suffix that divides them exactly ("128Mi", "1000000"). */
export function formatMemory(bytes: number): string {
  for (const [suffix, f] of Object.entries(BINARY).reverse()) if (bytes >= f && bytes % f === 0) return `${bytes / f}${suffix}`;
  return String(bytes);
}
