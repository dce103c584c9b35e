/**
 * Images as Kubernetes and Docker read them: references, the default imagePullPolicy (SetDefaults_Container:
 * Always when the image's tag is "latest", or when it has neither a tag nor a digest; IfNotPresent otherwise),
 * and pull Secrets (kubernetes.io/dockerconfigjson, and the legacy kubernetes.io/dockercfg) read into registry
 * credentials. Secret values never appear in what this module returns as text: only key names and what was
 * expected. Pure.
 */
import type { Secret } from "../api/objects.js";
import { PULL_SECRET_KEYS, secretValue } from "./secret.js";

/** Kubernetes' imagePullPolicy. */
export type PullPolicy = "Always" | "IfNotPresent" | "Never";

/** An image reference split as Docker does: registry host (with port), path, tag and digest. */
export interface ImageReference {
  /** "docker.io" when the first component names no host (no ".", no ":", not "localhost"). */
  host: string;
  /** The repository path below the host, e.g. "library/nginx". */
  path: string;
  tag?: string;
  digest?: string;
}

/** Splits an image reference ("127.0.0.1:5000/team/app:v1", "nginx", "app@sha256:…"). */
export function parseImageReference(image: string): ImageReference {
  let name = image;
  let digest: string | undefined;
  const at = name.indexOf("@");
  if (at >= 0) {
    digest = name.slice(at + 1);
    name = name.slice(0, at);
  }
  let tag: string | undefined;
  const colon = name.lastIndexOf(":");
  if (colon > name.lastIndexOf("/")) {
    tag = name.slice(colon + 1);
    name = name.slice(0, colon);
  }
  const slash = name.indexOf("/");
  const first = slash < 0 ? "" : name.slice(0, slash);
  let host = "docker.io";
  let path = name;
  if (slash >= 0 && (first.includes(".") || first.includes(":") || first === "localhost")) {
    host = first;
    path = name.slice(slash + 1);
  }
  if (host === "docker.io" || host === "index.docker.io") {
    host = "docker.io";
    if (!path.includes("/")) path = `library/${path}`;
  }
  return { host, path, ...(tag !== undefined ? { tag } : {}), ...(digest !== undefined ? { digest } : {}) };
}

/** Kubernetes' default imagePullPolicy for an image: Always for ":latest" or no tag and no digest, else IfNotPresent. */
export function defaultPullPolicy(image: string): PullPolicy {
  const { tag, digest } = parseImageReference(image);
  return tag === "latest" || (tag === undefined && digest === undefined) ? "Always" : "IfNotPresent";
}

/**
 * Credentials for one registry, in the shape of Docker's AuthConfig (the X-Registry-Auth header of
 * POST /images/create). Holds secrets: never log, print, label or hash it.
 */
export interface RegistryAuth {
  username?: string;
  password?: string;
  /** An OAuth2 refresh token (`docker login` to registries that hand one out). */
  identitytoken?: string;
  /** A bearer token sent to the registry as it is. */
  registrytoken?: string;
  /** The "auths" key the credentials came from, e.g. "127.0.0.1:5000". */
  serveraddress: string;
}

/** One parsed pull Secret: its "auths" entries by key. */
export type DockerConfig = ReadonlyMap<string, RegistryAuth>;

/**
 * Reads a pull Secret: its type must be one of PULL_SECRET_KEYS and hold that key as JSON ({"auths": {…}} for
 * dockerconfigjson, the map itself for dockercfg) whose entries have username and password, or "auth"
 * (base64 of "user:password"), or a token. Returns the entries, or what is wrong (names keys, never values).
 */
export function readPullSecret(secret: Secret): { config: DockerConfig } | { problem: string } {
  const type = secret.type ?? "Opaque";
  const key = PULL_SECRET_KEYS[type];
  if (key === undefined) {
    return { problem: `has type ${type}: expected kubernetes.io/dockerconfigjson (holding .dockerconfigjson) or kubernetes.io/dockercfg (holding .dockercfg)` };
  }
  const bytes = secretValue(secret, key);
  if (bytes === undefined) return { problem: `of type ${type} has no key ${key}: expected the Docker config JSON there` };
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString("utf8"));
  } catch {
    return { problem: `holds a ${key} that is not JSON: expected a Docker config such as \`docker login\` writes; the value is secret and not shown` };
  }
  const auths = type === "kubernetes.io/dockerconfigjson" ? (isObject(json) ? json.auths : undefined) : json;
  if (!isObject(auths)) {
    return {
      problem: `holds a ${key} without ${type === "kubernetes.io/dockerconfigjson" ? 'an "auths" object' : "an object of registries"}: expected {${type === "kubernetes.io/dockerconfigjson" ? '"auths": {' : ""}"<registry>": {"username": …, "password": …}}`,
    };
  }
  const config = new Map<string, RegistryAuth>();
  for (const registry of Object.keys(auths).sort()) {
    const entry = auths[registry];
    const where = `holds a ${key} whose entry "${registry}"`;
    if (!isObject(entry)) return { problem: `${where} is not an object: expected {"username": …, "password": …} or {"auth": …}` };
    const auth: RegistryAuth = { serveraddress: registry };
    for (const field of ["username", "password", "identitytoken", "registrytoken"] as const) {
      const v = entry[field];
      if (v === undefined || v === null || v === "") continue;
      if (typeof v !== "string") return { problem: `${where} has a ${field} that is not a string` };
      auth[field] = v;
    }
    const encoded = entry.auth;
    if (encoded !== undefined && encoded !== null && encoded !== "") {
      const decoded = typeof encoded === "string" && /^[A-Za-z0-9+/]*={0,2}$/.test(encoded) ? Buffer.from(encoded, "base64").toString("utf8") : undefined;
      const sep = decoded?.indexOf(":") ?? -1;
      if (decoded === undefined || sep < 0) {
        return { problem: `${where} has an "auth" that is not base64 of "user:password": expected what \`docker login\` writes; the value is secret and not shown` };
      }
      // As Kubernetes' DockerConfigEntry: "auth" wins over username and password.
      auth.username = decoded.slice(0, sep);
      auth.password = decoded.slice(sep + 1);
    }
    if (auth.username === undefined && auth.password === undefined && auth.identitytoken === undefined && auth.registrytoken === undefined) {
      return { problem: `${where} holds no credentials: expected username and password, "auth", or a token` };
    }
    config.set(registry, auth);
  }
  return { config };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
