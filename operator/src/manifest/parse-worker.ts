/**
 * The entry of a parse worker (parse-pool.ts): checks the files of each batch it is sent with checkFile,
 * in order, and posts back what they yield as plain data. A file's positions are not sent: the caller keeps
 * the bytes and rebuilds them when asked (FilePositions). A throw of checkFile is posted as the batch's
 * error, so the pool rejects that batch and the worker stays usable.
 */
import { parentPort } from "node:worker_threads";
import { checkFile } from "./check.js";
import type { ParseBatch, ParseReply, WireFile } from "./parse-pool.js";

function check(batch: ParseBatch): WireFile[] {
  const out: WireFile[] = [];
  const all = new Uint8Array(batch.buffer);
  for (let i = 0, start = 0; i < batch.ends.length; start = batch.ends[i]!, i++) {
    const { documents, ...file } = checkFile(all.subarray(start, batch.ends[i]), { maxDocuments: batch.maxDocuments });
    out.push({ ...file, documents: documents.map(({ positions: _, ...doc }) => doc) });
  }
  return out;
}

parentPort?.on("message", (batch: ParseBatch) => {
  let reply: ParseReply;
  try {
    reply = { id: batch.id, files: check(batch) };
  } catch (err) {
    reply = { id: batch.id, error: err instanceof Error ? (err.stack ?? err.message) : String(err) };
  }
  parentPort!.postMessage(reply);
});
