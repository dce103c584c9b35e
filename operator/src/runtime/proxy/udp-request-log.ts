/**
 * The request log of a local HAProxy (HaproxyProcess): HAProxy sends each line as one UDP datagram to a
 * socket the operator binds on 127.0.0.1 (an ephemeral port; Node has no unix datagram sockets). The port
 * is new after an operator restart: the first configuration the service controller applies then is a
 * reload anyway, and it names the new port, so an adopted proxy logs to the new operator from that reload
 * on. A line without this collector's random tag is dropped: any local program can send to the port.
 *
 * Datagrams the operator does not read in time are dropped by the kernel once the socket's receive buffer
 * is full (HAProxy is never slowed down by its log): at rates where that happens, counts are lower bounds.
 */
import { randomBytes } from "node:crypto";
import { createSocket, type Socket } from "node:dgram";
import { CoxError } from "../../api/errors.js";
import { parseRequestLine, type RequestLogTarget } from "../../traffic/haproxy.js";
import type { RequestRecord } from "../../traffic/types.js";
import type { RequestLog } from "./types.js";

/** Asked of the kernel for the receive buffer (it caps it at net.core.rmem_max). */
const RECEIVE_BUFFER_BYTES = 4 * 1024 * 1024;

/** A RequestLog over a UDP socket on 127.0.0.1; see the module comment. */
export class UdpRequestLog implements RequestLog {
  readonly #tag = randomBytes(12).toString("hex");
  readonly #listeners = new Set<(records: readonly RequestRecord[]) => void>();
  #socket: Socket | undefined;
  #started: Promise<RequestLogTarget> | undefined;
  #pending: RequestRecord[] = [];
  #flushing = false;
  #closed = false;

  start(): Promise<RequestLogTarget> {
    if (this.#closed) return Promise.reject(new CoxError("ProxyUnreachable", "the node proxy's request log was closed"));
    this.#started ??= this.#bind().catch((err: unknown) => {
      this.#started = undefined;
      throw err;
    });
    return this.#started;
  }

  subscribe(listener: (records: readonly RequestRecord[]) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Closes the socket; later datagrams go nowhere. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#listeners.clear();
    const socket = this.#socket;
    this.#socket = undefined;
    if (socket !== undefined) await new Promise<void>((resolve) => socket.close(() => resolve()));
  }

  async #bind(): Promise<RequestLogTarget> {
    const socket = createSocket({ type: "udp4", recvBufferSize: RECEIVE_BUFFER_BYTES });
    socket.on("message", (msg) => {
      const record = parseRequestLine(msg.toString("utf8"), this.#tag, Date.now());
      if (record !== undefined) this.#deliver(record);
    });
    await new Promise<void>((resolve, reject) => {
      socket.once("error", reject);
      socket.bind(0, "127.0.0.1", () => {
        socket.off("error", reject);
        resolve();
      });
    }).catch((err: unknown) => {
      socket.close();
      throw new CoxError("ProxyUnreachable", `cannot open the node proxy's request log socket: ${(err as Error).message}`, { cause: err });
    });
    // Datagrams are received or dropped; a socket error (none expected once bound) loses none of the proxy's traffic.
    socket.on("error", () => undefined);
    socket.unref();
    if (this.#closed) {
      socket.close();
      throw new CoxError("ProxyUnreachable", "the node proxy's request log was closed");
    }
    this.#socket = socket;
    return { address: `127.0.0.1:${socket.address().port}`, tag: this.#tag };
  }

  /** Batches the records of one turn of the event loop into one call per listener. */
  #deliver(record: RequestRecord): void {
    this.#pending.push(record);
    if (this.#flushing) return;
    this.#flushing = true;
    setImmediate(() => {
      const batch = this.#pending;
      this.#pending = [];
      this.#flushing = false;
      for (const listener of this.#listeners) listener(batch);
    });
  }
}
