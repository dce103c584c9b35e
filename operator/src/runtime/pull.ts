/**
 * Image pulls as the kubelet does them: which credentials of a pod's pull Secrets (read by manifest/image.ts
 * readPullSecret) go to the pull of which image, and keeping them out of what is shown. Pure.
 *
 * - Credentials (Kubernetes' BasicDockerKeyring): each key of a Secret's "auths" is a registry host with an
 *   optional port and path ("registry.example.com:5000/team", "https://index.docker.io/v1/", "*.example.com").
 *   A key matches an image when host parts are as many and each matches (a "*" or "?" glob matches within one
 *   part: "*.example.com" matches "a.example.com", not "a.b.example.com"), the ports are equal (none = none),
 *   and the key's path is a prefix of the image's path. "/v1/" and "/v2/" paths mean the host alone. The matches
 *   of one Secret are tried longest key first; Secrets in the pod's order. An image of Docker Hub ("nginx",
 *   "docker.io/library/nginx") with no match takes the Secret's "index.docker.io" entry (what `docker login`
 *   writes as "https://index.docker.io/v1/").
 */
import { parseImageReference, type DockerConfig, type PullPolicy, type RegistryAuth } from "../manifest/image.js";
/** How a container's image is pulled (ContainerLaunch.pull). */
export interface PullSpec {
  policy: PullPolicy;
  /** Credentials to try in turn until a pull is accepted; none: an anonymous pull. */
  auth?: RegistryAuth[];
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
  const re = glob
    .replace(/[.+^${}()|[\]\\]/g, "\\$&")
    .replace(/\*/g, ".*")
    .replace(/\?/g, ".");
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
