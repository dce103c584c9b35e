import { describe, expect, it } from "vitest";
import { formatCpu, formatMemory, parseCpu, parseMemory } from "../../../operator/src/api/quantity.js";

describe("quantities", () => {
  it.each([
    ["250m", 250],
    ["0.5", 500],
    ["1", 1000],
    [2, 2000],
    [".1", 100],
    ["0.0001", 1],
  ])("reads CPU %s as %i millicores (rounded up as Kubernetes does)", (q, m) => {
    expect(parseCpu(q)).toBe(m);
  });

  it.each([
    ["128Mi", 128 * 2 ** 20],
    ["1Gi", 2 ** 30],
    ["1G", 1e9],
    ["500k", 500_000],
    ["1e6", 1_000_000],
    [1024, 1024],
    ["1.5Ki", 1536],
  ])("reads memory %s as %i bytes", (q, b) => {
    expect(parseMemory(q)).toBe(b);
  });

  it.each(["abc", "1x", "-1", "1mi"])("rejects %s", (q) => {
    expect(() => parseCpu(q)).toThrow();
    expect(() => parseMemory(q)).toThrow();
  });

  it("prints quantities the way Kubernetes writes them", () => {
    expect(formatCpu(250)).toBe("250m");
    expect(formatCpu(2000)).toBe("2");
    expect(formatMemory(128 * 2 ** 20)).toBe("128Mi");
    expect(formatMemory(1_000_000)).toBe("1000000");
  });
});
