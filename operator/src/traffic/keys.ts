/**
 * How traffic names and orders things: one text order (UTF-16 code units, the same on every machine and
 * locale) and one small non-cryptographic hash, so that every sorted list and every hashed placement in
 * traffic/ comes out the same wherever it is computed.
 */

/** Orders strings by UTF-16 code units (never by locale), for sorts that must agree across machines. */
export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * A 32-bit hash of a string's UTF-8 bytes (FNV-1a, then murmur3's finalizer so that every output bit
 * depends on every input bit). Stable across releases: Service addresses and node ports are placed by it.
 */
export function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(text)) {
    h ^= byte;
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
