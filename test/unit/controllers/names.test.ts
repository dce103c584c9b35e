/**
 * Pod names: Kubernetes' suffix alphabet and length, and a name that is never one the caller already knows,
 * whatever the random source does.
 */
import { describe, expect, it } from "vitest";
import { POD_NAME_ALPHABET, POD_NAME_MAX_DRAWS, POD_NAME_SUFFIX_LENGTH, podNameSuffix, uniquePodName, type RandomInt } from "../../../operator/src/controllers/workload/names.js";
import { seededRandom } from "../../../operator/src/scheduler/random.js";

/** A random source that returns the given indexes in order, then repeats the last one. */
function scripted(indexes: number[]): RandomInt & { calls: number } {
  const f = Object.assign(
    (n: number) => {
      const i = indexes[Math.min(f.calls, indexes.length - 1)]!;
      f.calls++;
      if (i >= n) throw new Error(`index ${i} out of range ${n}`);
      return i;
    },
    { calls: 0 },
  );
  return f;
}

/** Five draws of the same index: one suffix. */
const suffixOf = (i: number) => Array<number>(POD_NAME_SUFFIX_LENGTH).fill(i);

describe("pod name suffixes", () => {
  it("are five characters of Kubernetes' alphabet, which has no vowels and no 0, 1 or 3", () => {
    expect(POD_NAME_ALPHABET).toBe("bcdfghjklmnpqrstvwxz2456789");
    expect(POD_NAME_ALPHABET).not.toMatch(/[aeiou013]/);
    const random = seededRandom(7);
    for (let i = 0; i < 1_000; i++) {
      expect(podNameSuffix((n) => Math.floor(random() * n))).toMatch(/^[bcdfghjklmnpqrstvwxz2456789]{5}$/);
    }
  });

  it("use every character of the alphabet", () => {
    expect(podNameSuffix(scripted([0, 1, 2, 25, 26]))).toBe("bcd89");
  });
});

describe("unique pod names", () => {
  it("takes the first draw when nobody has it", () => {
    expect(uniquePodName("web-5d8f", () => false, scripted(suffixOf(0)))).toEqual({ name: "web-5d8f-bbbbb", retries: 0 });
  });

  it("draws again when the name is taken, as Kubernetes' clients retry on AlreadyExists", () => {
    const random = scripted([...suffixOf(0), ...suffixOf(0), ...suffixOf(1)]);
    const taken = new Set(["web-5d8f-bbbbb"]);
    expect(uniquePodName("web-5d8f", (n) => taken.has(n), random)).toEqual({ name: "web-5d8f-ccccc", retries: 2 });
    expect(random.calls).toBe(3 * POD_NAME_SUFFIX_LENGTH);
  });

  it("still finds a free name when the random source repeats itself forever, by counting", () => {
    const taken = new Set(["web-5d8f-bbbbb", "web-5d8f-bbbbb2", "web-5d8f-bbbbb3"]);
    const random = scripted([0]);
    expect(uniquePodName("web-5d8f", (n) => taken.has(n), random)).toEqual({ name: "web-5d8f-bbbbb4", retries: POD_NAME_MAX_DRAWS + 2 });
    expect(random.calls).toBe(POD_NAME_MAX_DRAWS * POD_NAME_SUFFIX_LENGTH);
  });

  it("gives 10,000 distinct names in a row when each is added to the taken set, even from a source with few values", () => {
    // 27 values per character would give 14.3 million suffixes; two values give 32, so nearly every draw collides.
    const random = seededRandom(3);
    const taken = new Set<string>();
    for (let i = 0; i < 10_000; i++) {
      const { name } = uniquePodName(
        "web-5d8f",
        (n) => taken.has(n),
        (n) => Math.floor(random() * Math.min(n, 2)),
      );
      expect(taken.has(name)).toBe(false);
      taken.add(name);
    }
    expect(taken.size).toBe(10_000);
  });
});
