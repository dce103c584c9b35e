/**
 * A small read-only container registry for tests: the part of the Docker Registry HTTP API V2 (the OCI
 * distribution spec's "pull" category) that dockerd uses to pull an image, over plain HTTP on 127.0.0.1
 * (Docker treats 127.0.0.0/8 as an insecure registry: it tries HTTPS, gets an HTTP answer and falls back).
 *
 * - GET /v2/: the API check, 200 with Docker-Distribution-API-Version: registry/2.0.
 * - GET and HEAD /v2/<name>/manifests/<reference>, reference a tag or the manifest's digest: an image
 *   manifest of Docker's schema 2 (application/vnd.docker.distribution.manifest.v2+json) with
 *   Docker-Content-Digest; 404 MANIFEST_UNKNOWN otherwise.
 * - GET and HEAD /v2/<name>/blobs/<digest>: the config and the layers (gzip-compressed tars); 404 BLOB_UNKNOWN.
 * - With `credentials`, every request must carry them as HTTP Basic; otherwise 401 with
 *   WWW-Authenticate: Basic realm="…" (the challenge dockerd answers with the X-Registry-Auth it was given)
 *   and an UNAUTHORIZED error body.
 *
 * Every request is recorded (method, path, whether it was authorized; never the Authorization header),
 * so that tests can count what a pull asked for. Images come from saveImage (test/support/images.ts).
 */
import { createHash } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { gzipSync } from "node:zlib";
import type { SavedImage } from "./images.js";

/** One request the registry answered. */
export interface RegistryRequest {
  method: string;
  path: string;
  /** True when it carried the right credentials (or the registry needs none). */
  authorized: boolean;
  status: number;
}

/** A running test registry. */
export interface TestRegistry {
  /** "127.0.0.1:<port>": the registry part of image names, and the key of a Docker config's "auths". */
  host: string;
  /** Every request so far, in order. */
  readonly requests: RegistryRequest[];
  close(): Promise<void>;
}

/** Options of startRegistry. */
export interface RegistryOptions {
  /** The images served, by "<repository>:<tag>" (repository without the host, e.g. "team/app"). */
  images: Record<string, SavedImage>;
  /** HTTP Basic credentials every request must carry; none: an open registry. */
  credentials?: { username: string; password: string };
  /** Port on 127.0.0.1 (default: one the system chooses). */
  port?: number;
}

const MANIFEST_TYPE = "application/vnd.docker.distribution.manifest.v2+json";
const CONFIG_TYPE = "application/vnd.docker.container.image.v1+json";
const LAYER_TYPE = "application/vnd.docker.image.rootfs.diff.tar.gzip";

function digestOf(bytes: Buffer): string {
  return `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
}

/** Starts a registry serving `images` on 127.0.0.1. */
export async function startRegistry(options: RegistryOptions): Promise<TestRegistry> {
  const blobs = new Map<string, Buffer>();
  /** "<repository>" → reference (tag or digest) → manifest bytes. */
  const manifests = new Map<string, Map<string, Buffer>>();
  for (const [ref, image] of Object.entries(options.images)) {
    const colon = ref.lastIndexOf(":");
    const repository = ref.slice(0, colon);
    const tag = ref.slice(colon + 1);
    const layers = image.layers.map((l) => gzipSync(l));
    for (const b of [image.config, ...layers]) blobs.set(digestOf(b), b);
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MANIFEST_TYPE,
        config: { mediaType: CONFIG_TYPE, size: image.config.length, digest: digestOf(image.config) },
        layers: layers.map((l) => ({ mediaType: LAYER_TYPE, size: l.length, digest: digestOf(l) })),
      }),
    );
    const refs = manifests.get(repository) ?? new Map<string, Buffer>();
    refs.set(tag, manifest);
    refs.set(digestOf(manifest), manifest);
    manifests.set(repository, refs);
  }
  const expected = options.credentials ? `Basic ${Buffer.from(`${options.credentials.username}:${options.credentials.password}`).toString("base64")}` : undefined;
  const requests: RegistryRequest[] = [];

  const server = http.createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0]!;
    const authorized = expected === undefined || req.headers.authorization === expected;
    const answer = (status: number, headers: Record<string, string | number>, body: Buffer = Buffer.alloc(0)) => {
      requests.push({ method: req.method ?? "", path, authorized, status });
      res.writeHead(status, { "Docker-Distribution-API-Version": "registry/2.0", "Content-Length": body.length, ...headers });
      res.end(req.method === "HEAD" ? undefined : body);
    };
    const error = (status: number, code: string, message: string, headers: Record<string, string> = {}) =>
      answer(status, { "Content-Type": "application/json", ...headers }, Buffer.from(JSON.stringify({ errors: [{ code, message, detail: null }] })));
    if (req.method !== "GET" && req.method !== "HEAD") return error(405, "UNSUPPORTED", "this test registry is read-only");
    if (!authorized) return error(401, "UNAUTHORIZED", "authentication required", { "WWW-Authenticate": 'Basic realm="coxswain-test-registry"' });
    if (path === "/v2/" || path === "/v2") return answer(200, { "Content-Type": "application/json" }, Buffer.from("{}"));
    const m = /^\/v2\/(.+)\/(manifests|blobs)\/([^/]+)$/.exec(path);
    if (!m) return error(404, "NAME_UNKNOWN", "not found");
    const [, repository, what, reference] = m as unknown as [string, string, string, string];
    if (what === "manifests") {
      const manifest = manifests.get(repository)?.get(reference);
      if (!manifest) return error(404, "MANIFEST_UNKNOWN", `manifest unknown: ${repository}:${reference}`);
      return answer(200, { "Content-Type": MANIFEST_TYPE, "Docker-Content-Digest": digestOf(manifest) }, manifest);
    }
    const blob = manifests.has(repository) ? blobs.get(reference) : undefined;
    if (!blob) return error(404, "BLOB_UNKNOWN", `blob unknown: ${reference}`);
    return answer(200, { "Content-Type": "application/octet-stream", "Docker-Content-Digest": reference }, blob);
  });
  // dockerd tries HTTPS first: its TLS hello is no HTTP request; Node answers 400 and the client falls back.
  server.on("clientError", (_err, socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", resolve);
  });
  const port = (server.address() as AddressInfo).port;
  return {
    host: `127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
