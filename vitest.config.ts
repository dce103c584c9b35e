import { defineConfig } from "vitest/config";

/**
 * Three projects, one command (`npm test` runs them all):
 * - unit: pure modules and the fake runtime; fast, parallel.
 * - integration: real git repositories, the smart-HTTP Git server, a real Docker engine per suite.
 * - e2e: the CLI against a multi-node Docker fleet; one file at a time (they share the machine's CPUs).
 *
 * Unit and integration files run WORKERS at a time whatever the machine: most integration files spend much of
 * their time waiting on engines, Git and probes, and vitest's default (one worker fewer than CPUs) ran the
 * whole suite one file after the other on CI's 2-CPU machines (53 minutes). Three at a time on a machine
 * loaded by other work pushed the heaviest files past their timeouts; two is the measured compromise. Each
 * file makes its own repositories, engines, ports and temporary directories, so files share no state. Unit
 * tests get 60 s: a few CPU-heavy ones (whole-corpus loads, simulations) took 17 s on a loaded machine.
 */
const WORKERS = 2;
export default defineConfig({
  test: {
    projects: [
      { test: { name: "unit", include: ["test/unit/**/*.test.ts"], testTimeout: 60_000, maxWorkers: WORKERS } },
      {
        test: {
          name: "integration",
          include: ["test/integration/**/*.test.ts"],
          maxWorkers: WORKERS,
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
