/**
 * Image pulls as the kubelet does them: imagePullPolicy and its default, and the registry credentials of a
 * pod's imagePullSecrets (kubernetes.io/dockerconfigjson, and the legacy kubernetes.io/dockercfg). Pure.
 *
 * - Default policy (Kubernetes' SetDefaults_Container): Always when the image's tag is "latest", or when it
 *   has neither a tag nor a digest; IfNotPresent otherwise.
 * - Credentials (Kubernetes' BasicDockerKeyring): each key of a Secret's "auths" is a registry host with an
 *   optional port and path ("registry.example.com:5000/team", "https://index.docker.io/v1/", "*.example.com").
 *   A key matches an image when host parts are as many and each matches (a "*" or "?" glob matches within one
 *   part: "*.example.com" matches "a.example.com", not "a.b.example.com"), the ports are equal (none = none),
 *   and the key's path is a prefix of the image's path. "/v1/" and "/v2/" paths mean the host alone. The matches
 *   of one Secret are tried longest key first; Secrets in the pod's order. An image of Docker Hub ("nginx",
 *   "docker.io/library/nginx") with no match takes the Secret's "index.docker.io" entry (what `docker login`
 *   writes as "https://index.docker.io/v1/").
 * - Secret values never appear in what this module returns as text: only key names and what was expected.
 */
import type { Secret } from "../api/objects.js";
import { secretValue } from "../manifest/secret.js";

/** Kubernetes' imagePullPolicy. */
export type PullPolicy = "Always" | "IfNotPresent" | "Never";

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

/** How a container's image is pulled (ContainerLaunch.pull). */
export interface PullSpec {
  policy: PullPolicy;
  /** Credentials to try in turn until a pull is accepted; none: an anonymous pull. */
  auth?: RegistryAuth[];
}

/** One parsed pull Secret: its "auths" entries by key. */
export type DockerConfig = ReadonlyMap<string, RegistryAuth>;

/** The Secret types a pull Secret may have, with the key holding its JSON. */
export const PULL_SECRET_KEYS: Readonly<Record<string, string>> = Object.freeze({
  "kubernetes.io/dockerconfigjson": ".dockerconfigjson",
  "kubernetes.io/dockercfg": ".dockercfg",
});

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
    return { problem: `holds a ${key} without ${type === "kubernetes.io/dockerconfigjson" ? 'an "auths" object' : "an object of registries"}: expected {${type === "kubernetes.io/dockerconfigjson" ? '"auths": {' : ""}"<registry>": {"username": …, "password": …}}` };
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

/** A key of "auths" as Kubernetes indexes it: no scheme, "/v1/" and "/v2/" paths dropped, no trailing "/" alone. */
function keyringKey(registry: string): { host: string; path: string } {
  const rest = registry.replace(/^https?:\/\//, "");
  const slash = rest.indexOf("/");
  let path = slash < 0 ? "" : rest.slice(slash);
  if (path.startsWith("/v1/") || path.startsWith("/v2/")) path = path.slice(3);
  if (path === "/") path = "";
  return { host: (slash < 0 ? rest : rest.slice(0, slash)).toLowerCase(), path };
}

/** Splits "host:port" into dot-separated host parts and the port ("" when none). */
function splitHost(host: string): { parts: string[]; port: string } {
  const colon = host.lastIndexOf(":");
  return colon < 0 ? { parts: host.split("."), port: "" } : { parts: host.slice(0, colon).split("."), port: host.slice(colon + 1) };
}

/** Go's filepath.Match for one host part, with "*" and "?" (no character classes). */
function globMatch(glob: string, part: string): boolean {
  const re = glob.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".");
  return new RegExp(`^${re}$`).test(part);
}

/** True when the "auths" key `registry` applies to `image` (Kubernetes' URLsMatch). */
export function registryKeyMatches(registry: string, image: string): boolean {
  const key = keyringKey(registry);
  const slash = image.indexOf("/");
  const imageHost = (slash < 0 ? image : image.slice(0, slash)).toLowerCase();
  const imagePath = slash < 0 ? "" : image.slice(slash);
  const g = splitHost(key.host);
  const t = splitHost(imageHost);
  if (g.port !== t.port || g.parts.length !== t.parts.length) return false;
  if (!imagePath.startsWith(key.path)) return false;
  return g.parts.every((p, i) => globMatch(p, t.parts[i]!));
}

/**
 * The credentials to try for `image`, from the pod's pull Secrets in their order: per Secret, every matching
 * key, longest first (Kubernetes' reverse-sorted index); when a Secret has none and the image is on Docker Hub,
 * its "index.docker.io" entry. Empty: pull anonymously.
 */
export function registryCredentials(image: string, configs: readonly DockerConfig[]): RegistryAuth[] {
  const hub = parseImageReference(image).host === "docker.io";
  const out: RegistryAuth[] = [];
  for (const config of configs) {
    const byKey = new Map<string, RegistryAuth>();
    for (const [registry, auth] of config) {
      const k = keyringKey(registry);
      byKey.set(k.host + k.path, auth);
    }
    const keys = [...byKey.keys()].sort().reverse();
    const matched = keys.filter((k) => registryKeyMatches(k, image)).map((k) => byKey.get(k)!);
    if (matched.length === 0 && hub && byKey.has("index.docker.io")) matched.push(byKey.get("index.docker.io")!);
    out.push(...matched);
  }
  return out;
}

/** `text` with every password, token and "user:password" of `auth` replaced by "***" (for a registry's answer). */
export function withoutCredentials(text: string, auth: readonly RegistryAuth[] | undefined): string {
  let out = text;
  for (const a of auth ?? []) {
    const secrets = [a.password, a.identitytoken, a.registrytoken];
    if (a.username !== undefined && a.password !== undefined) {
      const pair = `${a.username}:${a.password}`;
      secrets.push(Buffer.from(pair).toString("base64"), pair);
    }
    for (const s of secrets) if (s !== undefined && s.length > 0) out = out.split(s).join("***");
  }
  return out;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
