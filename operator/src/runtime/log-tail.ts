/**
 * The end of a container's output as a runtime hands it back (NodeRuntime.logs): what a Job records of a failed
 * pod. Bounded twice — lines and bytes — so that one long line or a chatty program cannot grow a status file.
 */

/** How much of a log NodeRuntime.logs returns. */
export interface LogTail {
  /** At most this many lines (the last ones). */
  lines: number;
  /** At most this many bytes (the last ones; a character cut at the start is dropped). */
  bytes: number;
}

/** The last `tail.lines` lines of `data`, at most `tail.bytes` bytes of them, as UTF-8 without a final newline. */
export function logTail(data: Buffer, tail: LogTail): string {
  let end = data.length;
  while (end > 0 && data[end - 1] === 0x0a) end--;
  let start = end;
  let lines = 0;
  while (start > 0 && end - start < tail.bytes) {
    if (data[start - 1] === 0x0a && ++lines >= tail.lines) break;
    start--;
  }
  start = Math.max(start, end - tail.bytes);
  // Continuation bytes (10xxxxxx) at the start belong to a character that was cut: drop them.
  while (start < end && (data[start]! & 0xc0) === 0x80) start++;
  return data.subarray(start, end).toString("utf8");
}
