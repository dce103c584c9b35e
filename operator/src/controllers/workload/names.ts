/**
 * Pod names: "<workload>-<revision>-<suffix>", unique among every pod name the caller knows.
 *
 * The suffix is Kubernetes' generateName suffix: five characters from "bcdfghjklmnpqrstvwxz2456789" (no
 * vowels, so no words; no 0, 1, 3, which read as o, l, e), 27^5 ≈ 14.3 million values. That alone is not
 * enough: drawing 10,000 names at random collides about 3.5 times on average (and with the 20 bits used
 * before, about 48 times), so a name already taken is drawn again, as Kubernetes' clients retry on
 * AlreadyExists. Pure: the random source and the set of taken names are the caller's.
 */
import { randomInt } from "node:crypto";

/** The characters of a generated suffix (Kubernetes' util/rand alphabet). */
export const POD_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789";

/** Length of a generated suffix, as in Kubernetes. */
export const POD_NAME_SUFFIX_LENGTH = 5;

/**
 * Random draws before the suffix is made unique by counting instead. With a working random source and a
 * workload far below 14 million pods this is never reached; it bounds the loop when the source is not
 * random (a test's, or a broken one).
 */
export const POD_NAME_MAX_DRAWS = 16;

/** A random source: a uniformly distributed integer in [0, n). */
export type RandomInt = (n: number) => number;

/** Cryptographically random integers (node:crypto randomInt): what the operator uses. */
const cryptoRandomInt: RandomInt = (n) => randomInt(n);

/** A random suffix of POD_NAME_SUFFIX_LENGTH characters from POD_NAME_ALPHABET. */
export function podNameSuffix(random: RandomInt = cryptoRandomInt): string {
  let s = "";
  for (let i = 0; i < POD_NAME_SUFFIX_LENGTH; i++) s += POD_NAME_ALPHABET[random(POD_NAME_ALPHABET.length)]!;
  return s;
}

/** How a name was found: the name, and the random draws that were taken already (retries). */
export interface PodName {
  name: string;
  retries: number;
}

/**
 * Returns `${prefix}-${suffix}` for which `taken` is false. Draws up to POD_NAME_MAX_DRAWS random suffixes;
 * if every one is taken, appends 2, 3, … to the last until the name is free, so a name is always found
 * (the caller's set of taken names is finite) whatever the random source does. The caller adds the name to
 * its taken set before asking for the next one.
 */
export function uniquePodName(prefix: string, taken: (name: string) => boolean, random: RandomInt = cryptoRandomInt): PodName {
  let name = "";
  for (let draw = 0; draw < POD_NAME_MAX_DRAWS; draw++) {
    name = `${prefix}-${podNameSuffix(random)}`;
    if (!taken(name)) return { name, retries: draw };
  }
  for (let n = 2; ; n++) {
    if (!taken(`${name}${n}`)) return { name: `${name}${n}`, retries: POD_NAME_MAX_DRAWS + n - 2 };
  }
}
