import { defineConfig } from "vitest/config";

/**
 * Three projects, one command (`npm test` runs them all):
 * - unit: pure modules and the fake runtime; fast, parallel.
 * - integration: real git repositories, the smart-HTTP Git server, a real Docker engine per suite.
 * - e2e: the CLI against a multi-node Docker fleet; one file at a time (they share the machine's CPUs).
 */
export default defineConfig({
  test: {
    projects: [
      { test: { name: "unit", include: ["test/unit/**/*.test.ts"], testTimeout: 20_000 } },
      {
        test: {
          name: "integration",
          include: ["test/integration/**/*.test.ts"],
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
      {
        test: {
          name: "e2e",
          include: ["test/e2e/**/*.test.ts"],
          testTimeout: 600_000,
          hookTimeout: 300_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
