/**
 * Polling helpers for tests that watch a real system converge.
 */

/** Polls `check` until it returns a value that is not undefined/false, or throws after timeoutMs with `what`. */
export async function waitFor<T>(what: string, check: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 30_000, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v as T;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ""}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/**
 * Sleeps. For the pace of a sampler loop that watches something run; a test that waits for something to
 * happen uses waitFor, and one that asserts nothing happened first waits for evidence that the system had
 * its chance to act (test/support/reconciles.ts, a later event, a counter).
 */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
