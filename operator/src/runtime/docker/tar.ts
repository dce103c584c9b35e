/**
 * ustar archives for PUT /containers/{id}/archive (files put into a container before it starts: the node
 * proxy's configuration, the files of configMap and secret volumes). Entries are root's (uid/gid 0), paths
 * relative to the extraction directory; a path longer than 100 bytes is split into ustar's prefix and name.
 */
import { CoxError } from "../../api/errors.js";

/** An entry of an archive: a regular file, a directory or a symbolic link, with its permission bits. */
export type TarEntry = { type: "file"; path: string; data: Buffer; mode: number } | { type: "dir"; path: string; mode: number } | { type: "symlink"; path: string; target: string };

/** A ustar archive of `entries`, in their order (a directory before what it holds). */
export function tarOf(entries: readonly TarEntry[]): Buffer {
  const parts: Buffer[] = [];
  const mtime = Math.floor(Date.now() / 1000);
  for (const entry of entries) {
    const body = entry.type === "file" ? entry.data : Buffer.alloc(0);
    const h = Buffer.alloc(512, 0);
    const path = entry.path.replace(/^\/+/, "") + (entry.type === "dir" ? "/" : "");
    const [prefix, name] = splitPath(path);
    h.write(name, 0, "utf8");
    const mode = entry.type === "symlink" ? 0o777 : entry.mode;
    h.write(`${mode.toString(8).padStart(7, "0")}\0`, 100);
    h.write("0000000\0", 108); // uid
    h.write("0000000\0", 116); // gid
    h.write(`${body.length.toString(8).padStart(11, "0")}\0`, 124);
    h.write(`${mtime.toString(8).padStart(11, "0")}\0`, 136);
    h.write("        ", 148); // checksum placeholder
    h.write(entry.type === "dir" ? "5" : entry.type === "symlink" ? "2" : "0", 156);
    if (entry.type === "symlink") {
      if (Buffer.byteLength(entry.target) > 100) throw new CoxError("InvalidArgument", `tar link target too long (over 100 bytes): ${entry.target}`);
      h.write(entry.target, 157, "utf8");
    }
    h.write("ustar\0", 257);
    h.write("00", 263);
    h.write(prefix, 345, "utf8");
    let sum = 0;
    for (const b of h) sum += b;
    h.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148);
    parts.push(h, body, Buffer.alloc((512 - (body.length % 512)) % 512, 0));
  }
  parts.push(Buffer.alloc(1024, 0));
  return Buffer.concat(parts);
}

/** ustar's prefix (≤ 155 bytes) and name (≤ 100 bytes) of `path`, split at a "/". */
function splitPath(path: string): [string, string] {
  if (Buffer.byteLength(path) <= 100) return ["", path];
  for (let i = path.indexOf("/"); i > 0; i = path.indexOf("/", i + 1)) {
    const prefix = path.slice(0, i);
    const name = path.slice(i + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(name) <= 100 && name !== "") return [prefix, name];
  }
  throw new CoxError("InvalidArgument", `tar path too long (over 255 bytes, or a name over 100): ${path}`);
}
