// Test support, preloaded into a child process (NODE_OPTIONS="--import <this file>"): prints the process's
// peak resident set size on stderr as it exits, as "peak-rss-kib <n>", so that a test can report what a CLI
// run cost at its worst (runCliMeasured in cli.ts). Linux's VmHWM (the peak of this program's own memory):
// getrusage's maxRSS would also count the parent's memory at the fork, which Linux keeps across exec.
import { readFileSync } from "node:fs";

process.on("exit", () => {
  let kib = process.resourceUsage().maxRSS;
  try {
    const m = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync("/proc/self/status", "utf8"));
    if (m) kib = Number(m[1]);
  } catch {
    // not Linux: maxRSS it is
  }
  process.stderr.write(`\npeak-rss-kib ${kib}\n`);
});
