/**
 * A Server-Sent Events client for tests: reads a text/event-stream over fetch and keeps every event and
 * comment it saw, so a test can wait for them (test/support/wait.ts) and tell a clean end of the stream
 * from a cut connection.
 */

/** One event as received: its id, event name and data (JSON-parsed). */
export interface SseEvent {
  id: string | undefined;
  event: string;
  data: unknown;
}

/** An open stream. */
export interface SseStream {
  readonly status: number;
  readonly headers: Headers;
  readonly events: SseEvent[];
  /** Comment lines (": heartbeat"), without the colon. */
  readonly comments: string[];
  /** Settles when the stream ends: "ended" (the server closed it cleanly) or the error that cut it. */
  readonly done: Promise<"ended" | Error>;
  close(): void;
}

/** Opens `url` as an event stream with the given headers (Last-Event-ID, Authorization). */
export async function openSse(url: string, headers: Record<string, string> = {}): Promise<SseStream> {
  const abort = new AbortController();
  const res = await fetch(url, { headers: { accept: "text/event-stream", ...headers }, signal: abort.signal });
  const events: SseEvent[] = [];
  const comments: string[] = [];
  const done = (async (): Promise<"ended" | Error> => {
    if (!res.body) return "ended";
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    try {
      for (;;) {
        const { value, done: end } = await reader.read();
        if (end) return "ended";
        buffer += decoder.decode(value, { stream: true });
        let cut: number;
        while ((cut = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          const e: { id?: string; event: string; data: string[] } = { event: "message", data: [] };
          for (const line of block.split("\n")) {
            if (line.startsWith(":")) comments.push(line.slice(1).trim());
            else if (line.startsWith("id: ")) e.id = line.slice(4);
            else if (line.startsWith("event: ")) e.event = line.slice(7);
            else if (line.startsWith("data: ")) e.data.push(line.slice(6));
          }
          if (e.data.length > 0) events.push({ id: e.id, event: e.event, data: JSON.parse(e.data.join("\n")) });
        }
      }
    } catch (err) {
      return err instanceof Error ? err : new Error(String(err));
    }
  })();
  return { status: res.status, headers: res.headers, events, comments, done, close: () => abort.abort() };
}
