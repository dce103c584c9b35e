// Test support, preloaded into a child process (NODE_OPTIONS="--import <this file>"): prints the process's
// peak resident set size on stderr as it exits, as "peak-rss-kib <n>" (getrusage ru_maxrss), so that a
// test can report what a CLI run cost at its worst (see peakRssKib in cli.ts).
process.on("exit", () => {
  process.stderr.write(`\npeak-rss-kib ${process.resourceUsage().maxRSS}\n`);
});
