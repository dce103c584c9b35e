/**
 * Two readings of Ingress routing for tests, written independently of each other:
 * - frontendRoute: what the rendered `frontend ingress` does with a request (the routes in order, each
 *   host's group closed by its fallback), as HAProxy runs it; the integration test checks it against a
 *   running HAProxy.
 * - kubernetesRoute: what Kubernetes' Ingress documentation says should happen, straight from the
 *   IngressSpecs (the host's rules, then Exact, then the longest Prefix by path elements), with
 *   compareClaims for paths that route the same (coxswain's documented choice).
 * A property test checks that ingressRouting's table, read by frontendRoute, agrees with kubernetesRoute.
 */
import { compareClaims, routedPath, type IngressPathClaim } from "../../../operator/src/manifest/ingress.js";
import type { IngressSpec, ProxyIngress, ServiceSpec } from "../../../operator/src/traffic/types.js";

/** The Host header's name without its port, lower-cased; and that name without its first label. */
function hostParts(host: string | undefined): { name: string; domain: string } {
  const name = (host ?? "").split(":")[0]!.toLowerCase();
  const dot = name.indexOf(".");
  return { name, domain: dot < 0 ? "" : name.slice(dot + 1) };
}

/** The listener key the frontend sends a request to, or "404". */
export function frontendRoute(ingress: Pick<ProxyIngress, "routes" | "defaultBackend">, host: string | undefined, path: string): string {
  const { name, domain } = hostParts(host);
  const fallback = ingress.defaultBackend ?? "404";
  const hostMatches = (h: string | undefined): boolean => h === undefined || (h.startsWith("*.") ? domain === h.slice(2) : name === h);
  const routes = ingress.routes;
  for (let i = 0; i < routes.length; i++) {
    const r = routes[i]!;
    if (hostMatches(r.host)) {
      const hit = r.match === "Exact" ? path === r.path : r.path === "" || path === r.path || path.startsWith(`${r.path}/`);
      if (hit) return r.backend;
    }
    const last = i === routes.length - 1 || routes[i + 1]!.host !== r.host;
    if (last && r.host !== undefined && hostMatches(r.host)) return fallback;
  }
  return fallback;
}

/** The path elements of a path ("/a/b/" → ["a", "b"]), as Kubernetes' Prefix matching splits it. */
function elements(path: string): string[] {
  return path.split("/").filter((e) => e !== "");
}

/**
 * Kubernetes' reading, from the objects: the rules of the request's host (exact, else the wildcard with
 * exactly one more label, else the rules without a host) among the paths whose backend `services` has; in
 * them an Exact path equal to the request's, else the Prefix path with the most elements that are the
 * request's first elements; else the default backend of the first Ingress by namespace/name; else "404".
 */
export function kubernetesRoute(ingresses: readonly IngressSpec[], services: readonly ServiceSpec[], host: string | undefined, path: string): string {
  const sorted = [...ingresses].sort((a, b) => (`${a.namespace}/${a.name}` < `${b.namespace}/${b.name}` ? -1 : 1));
  const backendOf = (ns: string, b: { service: string; port: number | string }): string | undefined => {
    const s = services.find((x) => x.namespace === ns && x.name === b.service && !x.headless);
    const p = s?.ports.find((x) => (typeof b.port === "number" ? x.port === b.port : x.name === b.port));
    return p === undefined ? undefined : `${ns}/${b.service}:${p.port}`;
  };
  const { name } = hostParts(host);
  const labels = name.split(".");
  const hostClass = (h: string | undefined): number => {
    if (h === undefined) return 2;
    if (h === name) return 0;
    if (h.startsWith("*.") && labels.length === h.split(".").length && labels.slice(1).join(".") === h.slice(2) && labels[0] !== "") return 1;
    return -1;
  };
  const paths: { claim: IngressPathClaim; backend: string; cls: number }[] = [];
  for (const ing of sorted) {
    for (const [i, rule] of ing.rules.entries()) {
      for (const [j, p] of rule.paths.entries()) {
        const backend = backendOf(ing.namespace, p.backend);
        const cls = hostClass(rule.host);
        if (backend === undefined || cls < 0) continue;
        const r = routedPath(p.path, p.pathType);
        const claim: IngressPathClaim = { ingress: `${ing.namespace}/${ing.name}`, rule: i, index: j, pathType: p.pathType, match: r.match, path: r.path, key: "" };
        paths.push({ claim, backend, cls });
      }
    }
  }
  const defaultBackend = sorted.map((i) => (i.defaultBackend ? backendOf(i.namespace, i.defaultBackend) : undefined)).find((b) => b !== undefined) ?? "404";
  if (paths.length === 0) return defaultBackend;
  const best = Math.min(...paths.map((p) => p.cls));
  const mine = paths.filter((p) => p.cls === best);
  const byClaims = (list: typeof mine) => [...list].sort((a, b) => compareClaims(a.claim, b.claim))[0]?.backend;
  const exact = byClaims(mine.filter((p) => p.claim.match === "Exact" && p.claim.path === path));
  if (exact !== undefined) return exact;
  const request = elements(path);
  const prefixes = mine.filter((p) => {
    if (p.claim.match !== "Prefix") return false;
    const want = elements(p.claim.path);
    return want.length <= request.length && want.every((e, k) => e === request[k]);
  });
  if (prefixes.length === 0) return defaultBackend;
  const longest = Math.max(...prefixes.map((p) => elements(p.claim.path).length));
  return byClaims(prefixes.filter((p) => elements(p.claim.path).length === longest)) ?? defaultBackend;
}
