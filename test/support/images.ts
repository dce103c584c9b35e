/**
 * Test images, made locally (no registry is reachable in tests or CI): a busybox-static root file system
 * (/bin/busybox plus one symlink per applet) streamed as a tar into POST /images/create?fromSrc=- (the
 * API behind `docker import`), with CMD ["/bin/start"] set through the import's `changes`.
 *
 * - coxswain-test/app:v1, :v2 — busybox httpd on ${BIND:-127.0.0.1}:$PORT serving /index.html ("v1" /
 *   "v2") and /healthz ("ok"). /bin/start traps TERM/INT, stops httpd and exits 0: a graceful stop.
 *   BIND=0.0.0.0 is for bridge mode, where the published port reaches the container's own interface.
 * - coxswain-test/app:never-ready — the same server without /healthz (404: an httpGet readiness probe
 *   never passes); index.html says "never-ready".
 * - coxswain-test/app:exits — /bin/start exits 1 at once.
 * - coxswain-test/app:probes — the v1 server whose /www/healthz comes and goes, for startup and liveness
 *   probes (httpGet /healthz or exec `cat /www/healthz`): it appears $HEALTHZ_AFTER seconds after the
 *   start (default 0) and, when $HEALTHZ_FOR is set, disappears that many seconds later. Every start
 *   begins again without it, so a restart in place heals the container for another $HEALTHZ_FOR seconds.
 *
 * Each image carries a label with the hash of its content; buildTestImages skips images whose label
 * matches, so it is idempotent and fast (~1 ms per present image), and rebuilds an image whose recipe changed.
 */
import { createHash } from "node:crypto";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { createDockerClient, dial, parseEndpoint } from "../../operator/src/runtime/docker/client.js";

/** The names of the test images. */
export const TEST_IMAGES = {
  v1: "coxswain-test/app:v1",
  v2: "coxswain-test/app:v2",
  neverReady: "coxswain-test/app:never-ready",
  exits: "coxswain-test/app:exits",
  probes: "coxswain-test/app:probes",
} as const;

/** Label holding the content hash of a test image. */
const TEST_IMAGE_HASH_LABEL = "coxswain-test.content-hash";

const APP_START = `#!/bin/sh
# coxswain test app: busybox httpd on \${BIND:-127.0.0.1}:$PORT serving /www.
if [ -z "$PORT" ]; then echo "start: PORT is not set" >&2; exit 2; fi
httpd -f -p "\${BIND:-127.0.0.1}:$PORT" -h /www &
child=$!
trap 'kill -TERM "$child" 2>/dev/null; wait "$child"; exit 0' TERM INT
wait "$child"
exit $?
`;

const PROBES_START = `#!/bin/sh
# coxswain test app with a /healthz that appears after $HEALTHZ_AFTER s and, with $HEALTHZ_FOR, goes away again.
if [ -z "$PORT" ]; then echo "start: PORT is not set" >&2; exit 2; fi
rm -f /www/healthz
(
  sleep "\${HEALTHZ_AFTER:-0}"
  echo ok > /www/healthz
  if [ -n "$HEALTHZ_FOR" ]; then sleep "$HEALTHZ_FOR"; rm -f /www/healthz; fi
) &
helper=$!
httpd -f -p "\${BIND:-127.0.0.1}:$PORT" -h /www &
child=$!
trap 'kill -TERM "$child" "$helper" 2>/dev/null; wait "$child"; exit 0' TERM INT
wait "$child"
exit $?
`;

const EXITS_START = `#!/bin/sh
echo "start: exiting with code 1 on purpose" >&2
exit 1
`;

interface ImageRecipe {
  name: string;
  files: Record<string, string>;
}

const RECIPES: ImageRecipe[] = [
  { name: TEST_IMAGES.v1, files: { "bin/start": APP_START, "www/index.html": "v1\n", "www/healthz": "ok\n" } },
  { name: TEST_IMAGES.v2, files: { "bin/start": APP_START, "www/index.html": "v2\n", "www/healthz": "ok\n" } },
  { name: TEST_IMAGES.neverReady, files: { "bin/start": APP_START, "www/index.html": "never-ready\n" } },
  { name: TEST_IMAGES.exits, files: { "bin/start": EXITS_START } },
  { name: TEST_IMAGES.probes, files: { "bin/start": PROBES_START, "www/index.html": "probes\n" } },
];

/**
 * Stand-ins for the guestbook's images (test/fixtures/corpus/guestbook), for test/e2e/corpus-guestbook.test.ts;
 * built by buildGuestbookImages. Each listens on ${BIND:-127.0.0.1}:$PORT and writes nothing outside /data.
 * - redis: `redis-server [CONFIG_FILE] [--requirepass P] [--masterauth P] [--replicaof HOST PORT]`, a key
 *   store over HTTP (busybox httpd CGI): GET /cgi-bin/get?key=K, /cgi-bin/set?key=K&value=V (refused by a
 *   replica: READONLY), /cgi-bin/dump, /cgi-bin/config (the CONFIG_FILE's text); every request needs the
 *   header X-Auth: <requirepass> (else 401); keys live in /data/keys, so /data must be writable (an emptyDir
 *   under a read-only root). A replica copies its leader's keys every second. Its CMD is `redis-server`.
 * - follower: the same server, started as gb-redis-follower starts Redis: a replica of redis-leader:6379,
 *   with $REDIS_PASSWORD as its own password and its leader's.
 * - frontend: guestbook.php's API in sh (httpd runs *.php with /bin/sh): ?cmd=set&key=K&value=V writes
 *   through redis-leader:6379, ?cmd=get&key=K reads through redis-follower:6379 ({"data": "V"}); Service
 *   names with GET_HOSTS_FROM=dns (the default), else their <NAME>_SERVICE_HOST/_PORT variables. The password
 *   is the file $REDIS_PASSWORD_FILE holds, else $REDIS_PASSWORD.
 */
export const GUESTBOOK_IMAGES = {
  redis: "coxswain-test/guestbook-redis:v1",
  follower: "coxswain-test/guestbook-follower:v1",
  frontend: "coxswain-test/guestbook-frontend:v1",
} as const;

const REDIS_SERVER = `#!/bin/sh
# A stand-in for redis-server: keys over HTTP (see GUESTBOOK_IMAGES in test/support/images.ts).
conf=; pass=; masterauth=; leader=
while [ $# -gt 0 ]; do
  case "$1" in
    --requirepass) pass=$2; shift 2 ;;
    --masterauth) masterauth=$2; shift 2 ;;
    --replicaof) leader="$2:$3"; shift 3 ;;
    --*) echo "redis-server: unknown option $1" >&2; exit 2 ;;
    *) conf=$1; shift ;;
  esac
done
if [ -z "$PORT" ]; then echo "redis-server: PORT is not set" >&2; exit 2; fi
if [ -n "$conf" ] && [ ! -r "$conf" ]; then echo "redis-server: cannot read $conf" >&2; exit 2; fi
mkdir -p /data/keys || exit 2
export REDIS_CONF="$conf" REDIS_REQUIREPASS="$pass" REDIS_ROLE="\${leader:+replica}"
httpd -f -p "\${BIND:-127.0.0.1}:$PORT" -h /redis &
child=$!
helper=
if [ -n "$leader" ]; then
  (
    while :; do
      if wget -q -O /data/dump --header "X-Auth: $masterauth" "http://$leader/cgi-bin/dump"; then
        while read -r k v; do printf '%s' "$v" > "/data/keys/$k"; done < /data/dump
      fi
      sleep 1
    done
  ) &
  helper=$!
fi
trap 'kill -TERM "$child" $helper 2>/dev/null; wait "$child"; exit 0' TERM INT
wait "$child"
exit $?
`;

/** Sourced by every endpoint of the redis stand-in: reply(), 401 without the password, and the query's key. */
const REDIS_COMMON = `reply() { printf 'HTTP/1.0 %s\\r\\nContent-Type: text/plain\\r\\n\\r\\n%s' "$1" "$2"; exit 0; }
param() { echo "$QUERY_STRING" | sed -n "s/^\\(.*&\\)\\{0,1\\}$1=\\([^&]*\\).*$/\\2/p"; }
[ "$HTTP_X_AUTH" = "$REDIS_REQUIREPASS" ] || reply "401 Unauthorized" "NOAUTH Authentication required."
key=$(param key)
case "$key" in *[!A-Za-z0-9_-]*) reply "400 Bad Request" "ERR bad key" ;; esac
`;

const REDIS_RECIPE_FILES: Record<string, string> = {
  "bin/redis-server": REDIS_SERVER,
  "redis/common.sh": REDIS_COMMON,
  "redis/cgi-bin/get": `#!/bin/sh\n. /redis/common.sh\n[ -n "$key" ] && [ -f "/data/keys/$key" ] || reply "404 Not Found" ""\nreply "200 OK" "$(cat "/data/keys/$key")"\n`,
  "redis/cgi-bin/set": `#!/bin/sh\n. /redis/common.sh\n[ -z "$REDIS_ROLE" ] || reply "403 Forbidden" "READONLY You can't write against a read only replica."\n[ -n "$key" ] || reply "400 Bad Request" "ERR no key"\nprintf '%s' "$(param value)" > "/data/keys/$key" || reply "500 Internal Server Error" "ERR cannot write"\nreply "200 OK" "OK"\n`,
  "redis/cgi-bin/dump": `#!/bin/sh\n. /redis/common.sh\nprintf 'HTTP/1.0 200 OK\\r\\nContent-Type: text/plain\\r\\n\\r\\n'\nfor f in /data/keys/*; do [ -f "$f" ] && printf '%s %s\\n' "\${f##*/}" "$(cat "$f")"; done\nexit 0\n`,
  "redis/cgi-bin/config": `#!/bin/sh\n. /redis/common.sh\n[ -n "$REDIS_CONF" ] || reply "404 Not Found" ""\nprintf 'HTTP/1.0 200 OK\\r\\nContent-Type: text/plain\\r\\n\\r\\n'\nexec cat "$REDIS_CONF"\n`,
};

const FOLLOWER_START = `#!/bin/sh
# As gb-redis-follower starts Redis: a replica of redis-leader, found by its Service name.
exec redis-server --replicaof redis-leader 6379 --requirepass "$REDIS_PASSWORD" --masterauth "$REDIS_PASSWORD"
`;

const FRONTEND_START = `#!/bin/sh
# The guestbook frontend: busybox httpd on \${BIND:-127.0.0.1}:$PORT serving /www, guestbook.php run by /bin/sh.
if [ -z "$PORT" ]; then echo "start: PORT is not set" >&2; exit 2; fi
httpd -f -c /etc/httpd.conf -p "\${BIND:-127.0.0.1}:$PORT" -h /www &
child=$!
trap 'kill -TERM "$child" 2>/dev/null; wait "$child"; exit 0' TERM INT
wait "$child"
exit $?
`;

const GUESTBOOK_PHP = `# guestbook.php of gb-frontend, in sh: set writes through the leader, get reads through a follower.
reply() { printf 'HTTP/1.0 %s\\r\\nContent-Type: application/json\\r\\n\\r\\n%s\\n' "$1" "$2"; exit 0; }
param() { echo "$QUERY_STRING" | sed -n "s/^\\(.*&\\)\\{0,1\\}$1=\\([^&]*\\).*$/\\2/p"; }
pass=$REDIS_PASSWORD
if [ -n "$REDIS_PASSWORD_FILE" ]; then pass=$(cat "$REDIS_PASSWORD_FILE") || reply "500 Internal Server Error" '{"error": "REDIS_PASSWORD_FILE unreadable"}'; fi
if [ "$GET_HOSTS_FROM" = env ]; then
  leader="$REDIS_LEADER_SERVICE_HOST:$REDIS_LEADER_SERVICE_PORT"; follower="$REDIS_FOLLOWER_SERVICE_HOST:$REDIS_FOLLOWER_SERVICE_PORT"
else
  leader=redis-leader:6379; follower=redis-follower:6379
fi
key=$(param key)
case $(param cmd) in
  set) wget -q -O /dev/null --header "X-Auth: $pass" "http://$leader/cgi-bin/set?key=$key&value=$(param value)" || reply "502 Bad Gateway" '{"error": "redis-leader refused or did not answer"}'
       reply "200 OK" '{"message": "Updated"}' ;;
  get) value=$(wget -q -O - --header "X-Auth: $pass" "http://$follower/cgi-bin/get?key=$key") || reply "502 Bad Gateway" '{"error": "redis-follower refused or did not answer"}'
       reply "200 OK" "{\\"data\\": \\"$value\\"}" ;;
  *) reply "400 Bad Request" '{"error": "cmd is set or get"}' ;;
esac
`;

const GUESTBOOK_RECIPES: ImageRecipe[] = [
  { name: GUESTBOOK_IMAGES.redis, files: REDIS_RECIPE_FILES },
  { name: GUESTBOOK_IMAGES.follower, files: { ...REDIS_RECIPE_FILES, "bin/start": FOLLOWER_START } },
  {
    name: GUESTBOOK_IMAGES.frontend,
    files: { "bin/start": FRONTEND_START, "etc/httpd.conf": "*.php:/bin/sh\n", "www/index.html": "guestbook\n", "www/guestbook.php": GUESTBOOK_PHP },
  },
];

/** The busybox binary to put in images; it must be statically linked (the image has no libc). */
function findStaticBusybox(): string {
  for (const candidate of ["/bin/busybox", "/usr/bin/busybox"]) {
    let bytes: Buffer;
    try {
      bytes = fs.readFileSync(candidate);
    } catch {
      continue;
    }
    if (!isStaticElf(bytes)) {
      throw new Error(`${candidate} is dynamically linked; test images need busybox-static (apt-get install -y busybox-static)`);
    }
    return candidate;
  }
  throw new Error("busybox not found in /bin or /usr/bin; install busybox-static");
}

/** True for a 64-bit little-endian ELF without a PT_INTERP program header (no dynamic loader needed). */
function isStaticElf(bytes: Buffer): boolean {
  if (bytes.length < 64 || bytes.readUInt32BE(0) !== 0x7f454c46 || bytes[4] !== 2 || bytes[5] !== 1) return false;
  const phoff = Number(bytes.readBigUInt64LE(0x20));
  const phentsize = bytes.readUInt16LE(0x36);
  const phnum = bytes.readUInt16LE(0x38);
  for (let i = 0; i < phnum; i++) {
    if (bytes.readUInt32LE(phoff + i * phentsize) === 3) return false; // PT_INTERP
  }
  return true;
}

// ---------------------------------------------------------------- a minimal ustar writer

interface TarEntry {
  path: string;
  type: "file" | "dir" | "symlink";
  mode: number;
  content?: Buffer;
  target?: string;
}

function octal(value: number, width: number): string {
  return value.toString(8).padStart(width - 1, "0") + "\0";
}

function tarHeader(entry: TarEntry): Buffer {
  const h = Buffer.alloc(512, 0);
  const name = entry.type === "dir" ? `${entry.path}/` : entry.path;
  if (Buffer.byteLength(name) > 100) throw new Error(`tar path too long: ${name}`);
  h.write(name, 0, "utf8");
  h.write(octal(entry.mode, 8), 100);
  h.write(octal(0, 8), 108); // uid
  h.write(octal(0, 8), 116); // gid
  h.write(octal(entry.type === "file" ? entry.content!.length : 0, 12), 124);
  h.write(octal(0, 12), 136); // mtime: fixed, so the content hash is stable
  h.write("        ", 148); // checksum placeholder
  h.write(entry.type === "file" ? "0" : entry.type === "symlink" ? "2" : "5", 156);
  if (entry.target) h.write(entry.target, 157);
  h.write("ustar\0", 257);
  h.write("00", 263);
  h.write("root", 265);
  h.write("root", 297);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(octal(sum, 7) + " ", 148);
  return h;
}

function tar(entries: TarEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    parts.push(tarHeader(e));
    if (e.type === "file") {
      parts.push(e.content!);
      const pad = (512 - (e.content!.length % 512)) % 512;
      if (pad) parts.push(Buffer.alloc(pad, 0));
    }
  }
  parts.push(Buffer.alloc(1024, 0));
  return Buffer.concat(parts);
}

let rootfsCache: { busybox: Buffer; applets: string[] } | undefined;

function baseRootfs(): { busybox: Buffer; applets: string[] } {
  if (!rootfsCache) {
    const bin = findStaticBusybox();
    const applets = execFileSync(bin, ["--list"], { encoding: "utf8" })
      .split("\n")
      .map((a) => a.trim())
      .filter((a) => /^[a-zA-Z0-9_.[-]+$/.test(a) && a !== "busybox")
      .sort();
    rootfsCache = { busybox: fs.readFileSync(bin), applets };
  }
  return rootfsCache;
}

/** The root file system tar of one recipe (deterministic bytes). */
function imageTar(recipe: ImageRecipe): Buffer {
  const { busybox, applets } = baseRootfs();
  const entries: TarEntry[] = [
    { path: "bin", type: "dir", mode: 0o755 },
    { path: "etc", type: "dir", mode: 0o755 },
    { path: "tmp", type: "dir", mode: 0o1777 },
    { path: "www", type: "dir", mode: 0o755 },
    { path: "bin/busybox", type: "file", mode: 0o755, content: busybox },
  ];
  for (const applet of applets) {
    if (recipe.files[`bin/${applet}`] === undefined) entries.push({ path: `bin/${applet}`, type: "symlink", mode: 0o777, target: "busybox" });
  }
  entries.push({ path: "etc/passwd", type: "file", mode: 0o644, content: Buffer.from("root:x:0:0:root:/:/bin/sh\n") });
  entries.push({ path: "etc/group", type: "file", mode: 0o644, content: Buffer.from("root:x:0:\n") });
  const dirs = new Set(entries.filter((e) => e.type === "dir").map((e) => e.path));
  for (const file of Object.keys(recipe.files).sort()) {
    for (let d = file.slice(0, file.lastIndexOf("/")); d && !dirs.has(d); d = d.includes("/") ? d.slice(0, d.lastIndexOf("/")) : "") {
      dirs.add(d);
      entries.push({ path: d, type: "dir", mode: 0o755 });
    }
  }
  for (const file of Object.keys(recipe.files).sort()) {
    entries.push({
      path: file,
      type: "file",
      mode: file.startsWith("bin/") || file.includes("/cgi-bin/") ? 0o755 : 0o644,
      content: Buffer.from(recipe.files[file]!),
    });
  }
  return tar(entries);
}

/** The test image of the node proxy: this machine's haproxy with its shared libraries (see buildProxyImage). */
export const TEST_PROXY_IMAGE = "coxswain-test/haproxy:2.6";

/**
 * The root file system of TEST_PROXY_IMAGE: the busybox base plus /usr/sbin/haproxy and every library
 * `ldd` names (with the dynamic loader), at the paths they have here, and the directories the official
 * image has (/usr/local/etc/haproxy, /var/lib/haproxy, /run).
 */
function proxyTar(): Buffer {
  const haproxy = "/usr/sbin/haproxy";
  if (!fs.existsSync(haproxy)) throw new Error(`${haproxy} not found; install Debian's haproxy (apt-get install -y haproxy)`);
  const libs = execFileSync("ldd", [haproxy], { encoding: "utf8" })
    .split("\n")
    .map((l) => /(?:=>\s*)?(\/\S+)\s+\(0x/.exec(l)?.[1])
    .filter((p): p is string => p !== undefined);
  const { busybox, applets } = baseRootfs();
  const files = [haproxy, ...libs].sort();
  const dirs = new Set<string>(["bin", "etc", "tmp", "run", "usr/local/etc/haproxy", "var/lib/haproxy"]);
  for (const f of files) for (let d = f.slice(1, f.lastIndexOf("/")); d; d = d.includes("/") ? d.slice(0, d.lastIndexOf("/")) : "") dirs.add(d);
  for (const d of [...dirs]) for (let p = d; p.includes("/"); ) dirs.add((p = p.slice(0, p.lastIndexOf("/"))));
  const entries: TarEntry[] = [...dirs].sort().map((d) => ({ path: d, type: "dir" as const, mode: d === "tmp" ? 0o1777 : 0o755 }));
  entries.push({ path: "bin/busybox", type: "file", mode: 0o755, content: busybox });
  for (const applet of applets) entries.push({ path: `bin/${applet}`, type: "symlink", mode: 0o777, target: "busybox" });
  entries.push({ path: "etc/passwd", type: "file", mode: 0o644, content: Buffer.from("root:x:0:0:root:/:/bin/sh\nhaproxy:x:99:99:haproxy:/var/lib/haproxy:/bin/false\n") });
  entries.push({ path: "etc/group", type: "file", mode: 0o644, content: Buffer.from("root:x:0:\nhaproxy:x:99:\n") });
  for (const f of files) entries.push({ path: f.slice(1), type: "file", mode: 0o755, content: fs.readFileSync(f) });
  return tar(entries);
}

/**
 * Imports TEST_PROXY_IMAGE into the engine at socketPath (skipped when present with the same content): the
 * stand-in for the official haproxy image, which no test can pull. Its command runs haproxy in master-worker
 * mode on /usr/local/etc/haproxy/haproxy.cfg, as the official image does.
 */
export async function buildProxyImage(socketPath: string): Promise<void> {
  await importImage(socketPath, TEST_PROXY_IMAGE, proxyTar(), ['CMD ["/usr/sbin/haproxy", "-W", "-db", "-f", "/usr/local/etc/haproxy/haproxy.cfg"]', "ENV PATH=/usr/sbin:/bin"]);
}

/**
 * Imports the test images into the engine at socketPath, skipping those already present with the same
 * content. Uses the Engine API directly (no docker CLI), so CI needs only the docker.io package.
 */
export async function buildTestImages(socketPath: string): Promise<void> {
  await Promise.all(RECIPES.map((recipe) => importImage(socketPath, recipe.name, imageTar(recipe), ['CMD ["/bin/start"]', "ENV PATH=/bin"])));
}

/** Imports the guestbook's stand-in images (GUESTBOOK_IMAGES) into the engine at socketPath, as buildTestImages does. */
export async function buildGuestbookImages(socketPath: string): Promise<void> {
  await Promise.all(GUESTBOOK_RECIPES.map((recipe) => importImage(socketPath, recipe.name, imageTar(recipe), [recipe.name === GUESTBOOK_IMAGES.redis ? 'CMD ["redis-server"]' : 'CMD ["/bin/start"]', "ENV PATH=/bin"])));
}

/** Imports one root file system tar as image `name` with the given changes, unless it is present with the same content. */
async function importImage(socketPath: string, name: string, content: Buffer, changes: string[]): Promise<void> {
  const docker = createDockerClient(parseEndpoint(`unix://${socketPath}`), undefined);
  const hash = createHash("sha256").update(content).update(JSON.stringify(changes)).digest("hex").slice(0, 16);
  try {
    const info = await dial<{ Config?: { Labels?: Record<string, string> | null } }>(docker, { method: "GET", path: `/images/${name}/json` });
    if (info.Config?.Labels?.[TEST_IMAGE_HASH_LABEL] === hash) return;
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode !== 404) throw err;
  }
  const colon = name.lastIndexOf(":");
  const stream = await docker.importImage(Readable.from([content]), {
    repo: name.slice(0, colon),
    tag: name.slice(colon + 1),
    changes: [...changes, `LABEL ${TEST_IMAGE_HASH_LABEL}=${hash}`],
  });
  const text = await new Promise<string>((resolve, reject) => {
    let out = "";
    stream.on("data", (c: Buffer) => (out += c.toString("utf8")));
    stream.on("end", () => resolve(out));
    stream.on("error", reject);
  });
  const failure = /"error(?:Detail)?"\s*:\s*(?:\{\s*"message"\s*:\s*)?"([^"]*)"/.exec(text);
  if (failure) throw new Error(`importing ${name} failed: ${failure[1]}`);
}

/** An image as `docker save` writes it: its config JSON and its layers (uncompressed tars), base layer first. */
export interface SavedImage {
  config: Buffer;
  layers: Buffer[];
}

/**
 * Saves image `name` from the engine at socketPath (GET /images/{name}/get, the API behind `docker save`)
 * and reads its config and layers out of the archive through its manifest.json (the legacy layout of Docker
 * 20.10 and the OCI one of later engines both have it), e.g. to serve it from a test registry.
 */
export async function saveImage(socketPath: string, name: string): Promise<SavedImage> {
  const docker = createDockerClient(parseEndpoint(`unix://${socketPath}`), undefined);
  const stream = await dial<NodeJS.ReadableStream>(docker, { method: "GET", path: `/images/${name}/get`, stream: true });
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
  const files = untar(Buffer.concat(chunks));
  const manifest = JSON.parse(files.get("manifest.json")?.toString("utf8") ?? "null") as { Config: string; Layers: string[] }[] | null;
  const entry = manifest?.[0];
  if (!entry) throw new Error(`docker save of ${name}: no manifest.json in the archive`);
  const read = (p: string): Buffer => {
    const b = files.get(p);
    if (!b) throw new Error(`docker save of ${name}: ${p} is not in the archive`);
    return b;
  };
  return { config: read(entry.Config), layers: entry.Layers.map(read) };
}

/** The regular files of a tar archive by path (ustar, with PAX and GNU long-name headers). */
function untar(archive: Buffer): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  let longName: string | undefined;
  for (let off = 0; off + 512 <= archive.length; ) {
    const h = archive.subarray(off, off + 512);
    if (h.every((b) => b === 0)) break;
    const field = (start: number, len: number) => h.toString("utf8", start, start + len).replace(/\0.*$/s, "");
    const size = parseInt(field(124, 12).trim() || "0", 8);
    const type = String.fromCharCode(h[156]!);
    const prefix = field(257, 6) === "ustar" ? field(345, 155) : "";
    const body = archive.subarray(off + 512, off + 512 + size);
    let name = longName ?? (prefix ? `${prefix}/${field(0, 100)}` : field(0, 100));
    longName = undefined;
    if (type === "L") longName = body.toString("utf8").replace(/\0.*$/s, "");
    else if (type === "x") {
      const path = /\d+ path=([^\n]*)\n/.exec(body.toString("utf8"))?.[1];
      if (path) longName = path;
    } else if (type === "0" || type === "\0") {
      name = name.replace(/^\.\//, "");
      files.set(name, Buffer.from(body));
    }
    off += 512 + Math.ceil(size / 512) * 512;
  }
  return files;
}

/**
 * The test stand-in for the official Node.js image, for building the project's Dockerfile with no registry:
 * this machine's node (with every library `ldd` names and the dynamic loader) at /usr/local/bin/node and its
 * npm at /usr/local/lib/node_modules/npm, as the official image lays them out, over the busybox base (the
 * shell and tools the Dockerfile's RUN steps use). Unlike the official image it carries this machine's npm
 * cache at /root/.npm and sets npm_config_offline=true, so `npm ci` installs package-lock.json's packages from
 * that cache and never reaches for the registry (CI's own `npm ci` filled the cache).
 */
export const TEST_NODE_IMAGE = "coxswain-test/node:20-offline";

/** Imports TEST_NODE_IMAGE into the engine at socketPath (skipped when present with the same content). */
export async function buildNodeImage(socketPath: string): Promise<void> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "coxswain-node-image-"));
  try {
    const put = (from: string, to: string) => {
      fs.mkdirSync(path.dirname(path.join(root, to)), { recursive: true });
      fs.cpSync(from, path.join(root, to), { recursive: true, dereference: true });
    };
    const link = (target: string, at: string) => {
      fs.mkdirSync(path.dirname(path.join(root, at)), { recursive: true });
      fs.symlinkSync(target, path.join(root, at));
    };
    const { applets } = baseRootfs();
    put(findStaticBusybox(), "bin/busybox");
    for (const applet of applets) link("busybox", `bin/${applet}`);
    link("/bin/busybox", "usr/bin/env"); // npm's scripts start with #!/usr/bin/env node
    put(process.execPath, "usr/local/bin/node");
    const libs = execFileSync("ldd", [process.execPath], { encoding: "utf8" })
      .split("\n")
      .map((l) => /(?:=>\s*)?(\/\S+)\s+\(0x/.exec(l)?.[1])
      .filter((p): p is string => p !== undefined);
    for (const lib of libs) put(lib, lib.slice(1));
    const npmDir = path.resolve(path.dirname(fs.realpathSync(execFileSync("sh", ["-c", "command -v npm"], { encoding: "utf8" }).trim())), "..");
    put(npmDir, "usr/local/lib/node_modules/npm");
    link("../lib/node_modules/npm/bin/npm-cli.js", "usr/local/bin/npm");
    link("../lib/node_modules/npm/bin/npx-cli.js", "usr/local/bin/npx");
    put(path.join(execFileSync("npm", ["config", "get", "cache"], { encoding: "utf8" }).trim(), "_cacache"), "root/.npm/_cacache");
    fs.mkdirSync(path.join(root, "tmp"), { mode: 0o1777 });
    fs.chmodSync(path.join(root, "tmp"), 0o1777);
    fs.mkdirSync(path.join(root, "etc"));
    fs.writeFileSync(path.join(root, "etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n");
    fs.writeFileSync(path.join(root, "etc/group"), "root:x:0:\n");
    const content = execFileSync("tar", ["-C", root, "--sort=name", "--mtime=@0", "--owner=0", "--group=0", "--numeric-owner", "-c", "."], { maxBuffer: 1 << 30 });
    await importImage(socketPath, TEST_NODE_IMAGE, content, [
      "ENV PATH=/usr/local/bin:/usr/bin:/bin",
      "ENV npm_config_cache=/root/.npm",
      "ENV npm_config_offline=true",
      "ENV npm_config_update_notifier=false",
      'CMD ["node"]',
    ]);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}
