/**
 * Ingresses as a node's proxy routes them: the Ingresses coxswain serves and the Services they name →
 * one routing table (routes in precedence order, the default backend, the certificates by server name),
 * the same on every node; then, per node, the ingress frontend's binds on that node's address.
 *
 * Precedence, as Kubernetes describes it and ingress-nginx does it: a request takes the routes of its host
 * — an exact host first, then the one wildcard host that matches it ("*.example.com" matches one label:
 * a.example.com, not example.com nor a.b.example.com), then the routes without a host — and within those
 * the Exact path, else the longest Prefix; Prefix matches whole path elements (/foo matches /foo, /foo/
 * and /foo/bar, not /foobar), and ImplementationSpecific is Prefix. A request whose host has routes but
 * whose path matches none of them goes to the default backend (or 404), not to the routes of a less
 * specific host.
 *
 * Conflicts (Kubernetes leaves them to the controller): of the paths that route the same requests (same
 * host, match and path, in one Ingress or several), the one manifest/ingress.ts's compareClaims puts
 * first is used — a Prefix path before an ImplementationSpecific one, then the first Ingress by
 * namespace/name, then the first declared; of several default backends, the first Ingress's by
 * namespace/name; of several certificates for one server name, the first Ingress's (then the first entry).
 * graph/ingresses.ts warns about each of them when the commit is read.
 *
 * Guarantees: pure; the output depends on the set of Ingresses and Services, not their order.
 */
import { CoxError } from "../api/errors.js";
import { compareClaims, pathClaim, type IngressPathClaim } from "../manifest/ingress.js";
import { compareText } from "./keys.js";
import type { IngressBackendSpec, IngressCertificate, IngressRoute, IngressSpec, ProxyBind, ProxyIngress, ServiceSpec } from "./types.js";

/** A kubernetes.io/tls Secret's certificate (chain) and private key, PEM. */
export interface TlsKeyPair {
  cert: string;
  key: string;
}

/** How one backend of an Ingress resolved: the listener that takes its requests, or why none does. */
export interface BackendOutcome {
  service: string;
  port: number | string;
  /** The Service listener's key ("<namespace>/<service>:<port>"), when the backend resolved and is used. */
  backend?: string;
  /** Why it is not used: no such Service or port, a headless Service, or another path or default backend wins. */
  problem?: string;
}

/** How one Ingress was routed, for its status file. */
export interface IngressOutcome {
  namespace: string;
  name: string;
  defaultBackend?: BackendOutcome;
  /** Every path of every rule, in manifest order. */
  paths: (BackendOutcome & { rule: number; index: number; host?: string; path: string; pathType: IngressPathClaim["pathType"] })[];
  /** Every TLS entry, in manifest order; `problem` when its Secret is not usable or a host's certificate comes from another entry. */
  tls: { hosts: string[]; secretName: string; problem?: string }[];
}

/** The routing table of every node's ingress; see the module comment. */
export interface IngressRouting {
  /** In precedence order (see ProxyIngress.routes). */
  routes: IngressRoute[];
  defaultBackend?: string;
  /** In presentation order: certificates for their own names first, then by the first Ingress that names a host. */
  certificates: IngressCertificate[];
  /** Sorted by namespace/name. */
  outcomes: IngressOutcome[];
}

/**
 * The routing table of `ingresses` (the ones coxswain serves) over `services` (a backend resolves to the
 * listener of the Service port it names by number or by name; a headless Service has none). `tls` gives
 * the key pair of a Secret ("namespace", "name"), undefined when the Secret is not a usable
 * kubernetes.io/tls Secret (graph/ingresses.ts refuses such a commit; a missing pair leaves the entry out).
 */
export function ingressRouting(ingresses: readonly IngressSpec[], services: readonly ServiceSpec[], tls: (namespace: string, name: string) => TlsKeyPair | undefined): IngressRouting {
  // By "namespace/name" as one text, the order graph/ingresses.ts and compareClaims use.
  const sorted = [...ingresses].sort((a, b) => compareText(`${a.namespace}/${a.name}`, `${b.namespace}/${b.name}`));
  const serviceOf = new Map(services.map((s) => [`${s.namespace}/${s.name}`, s]));
  const resolve = (namespace: string, b: IngressBackendSpec): BackendOutcome => {
    const svc = serviceOf.get(`${namespace}/${b.service}`);
    const base = { service: b.service, port: b.port };
    if (svc === undefined) return { ...base, problem: `no Service ${b.service} in namespace ${namespace}` };
    if (svc.headless) return { ...base, problem: `Service ${b.service} is headless: no proxy listens for it` };
    const port = svc.ports.find((p) => (typeof b.port === "number" ? p.port === b.port : p.name === b.port.toLowerCase()));
    if (port === undefined) return { ...base, problem: `Service ${b.service} has no port ${typeof b.port === "number" ? b.port : `named ${b.port}`}` };
    return { ...base, backend: `${namespace}/${b.service}:${port.port}` };
  };

  const outcomes: IngressOutcome[] = [];
  const claims: { claim: IngressPathClaim; outcome: IngressOutcome["paths"][number] }[] = [];
  let defaultBackend: string | undefined;
  let defaultFrom: string | undefined;
  for (const ing of sorted) {
    const id = `${ing.namespace}/${ing.name}`;
    const outcome: IngressOutcome = { namespace: ing.namespace, name: ing.name, paths: [], tls: [] };
    if (ing.defaultBackend !== undefined) {
      const d = resolve(ing.namespace, ing.defaultBackend);
      if (d.backend !== undefined && defaultFrom !== undefined) {
        outcome.defaultBackend = { service: d.service, port: d.port, problem: `not used: Ingress ${defaultFrom} has a default backend too and comes first by namespace/name` };
      } else {
        outcome.defaultBackend = d;
        if (d.backend !== undefined) [defaultBackend, defaultFrom] = [d.backend, id];
      }
    }
    for (const [i, rule] of ing.rules.entries()) {
      for (const [j, p] of rule.paths.entries()) {
        const o = { rule: i, index: j, ...(rule.host !== undefined ? { host: rule.host } : {}), path: p.path ?? "", pathType: p.pathType, ...resolve(ing.namespace, p.backend) };
        outcome.paths.push(o);
        if (o.backend === undefined) continue;
        const claim = pathClaim(id, i, j, rule.host, p.path, p.pathType);
        claims.push({ claim, outcome: o });
      }
    }
    outcomes.push(outcome);
  }

  const byKey = new Map<string, typeof claims>();
  for (const c of claims) byKey.set(c.claim.key, [...(byKey.get(c.claim.key) ?? []), c]);
  const routes: IngressRoute[] = [];
  for (const list of byKey.values()) {
    const [used, ...others] = [...list].sort((a, b) => compareClaims(a.claim, b.claim));
    const u = used!.claim;
    routes.push({ ...(u.host !== undefined ? { host: u.host } : {}), match: u.match, path: u.path, backend: used!.outcome.backend! });
    for (const o of others) {
      delete o.outcome.backend;
      o.outcome.problem = `not used: rules[${u.rule}].http.paths[${u.index}] of Ingress ${u.ingress} routes the same requests and comes first`;
    }
  }
  routes.sort(compareRoutes);

  return { routes, ...(defaultBackend !== undefined ? { defaultBackend } : {}), certificates: certificates(sorted, outcomes, tls), outcomes };
}

/** Host groups (exact, wildcard, none), then Exact before Prefix, then the longest path, then by text. */
function compareRoutes(a: IngressRoute, b: IngressRoute): number {
  const group = (r: IngressRoute): number => (r.host === undefined ? 2 : r.host.startsWith("*.") ? 1 : 0);
  return group(a) - group(b) || compareText(a.host ?? "", b.host ?? "") || (a.match === b.match ? 0 : a.match === "Exact" ? -1 : 1) || b.path.length - a.path.length || compareText(a.path, b.path);
}

/**
 * The certificates in presentation order, each server name given to the first entry (by Ingress, then
 * entry) that names it; entries without hosts first (the first of them is the default). Records in the
 * outcomes the entries whose Secret has no key pair and the names another entry got first.
 */
function certificates(sorted: readonly IngressSpec[], outcomes: IngressOutcome[], tls: (namespace: string, name: string) => TlsKeyPair | undefined): IngressCertificate[] {
  const ownNames: IngressCertificate[] = [];
  const byHosts: IngressCertificate[] = [];
  const hostOwner = new Map<string, string>();
  const seenOwnNames = new Set<string>();
  sorted.forEach((ing, k) => {
    const outcome = outcomes[k]!;
    for (const t of ing.tls) {
      const secret = `${ing.namespace}/${t.secretName}`;
      const entry: IngressOutcome["tls"][number] = { hosts: [...t.hosts], secretName: t.secretName };
      outcome.tls.push(entry);
      const pair = tls(ing.namespace, t.secretName);
      if (pair === undefined) {
        entry.problem = `Secret ${t.secretName} is not a usable kubernetes.io/tls Secret`;
        continue;
      }
      const pem = `${pair.cert.trimEnd()}\n${pair.key.trimEnd()}\n`;
      if (t.hosts.length === 0) {
        if (!seenOwnNames.has(secret)) ownNames.push({ secret, hosts: [], pem });
        seenOwnNames.add(secret);
        continue;
      }
      const taken: string[] = [];
      const mine: string[] = [];
      for (const h of t.hosts) {
        const owner = hostOwner.get(h);
        if (owner === undefined) {
          hostOwner.set(h, secret);
          mine.push(h);
        } else if (owner !== secret) taken.push(`${h} (Secret ${owner})`);
      }
      if (taken.length > 0) entry.problem = `not presented for ${taken.join(", ")}: an Ingress first by namespace/name gives those hosts another certificate`;
      if (mine.length === 0) continue;
      const same = byHosts.find((c) => c.secret === secret);
      if (same) same.hosts.push(...mine);
      else byHosts.push({ secret, hosts: mine, pem });
    }
  });
  return [...ownNames, ...byHosts];
}

/**
 * The ingress of a node whose address is `address`: HTTP on `ports.http`, HTTPS on `ports.https` when
 * there is a certificate to present (and `withCertificates`: the node's proxy can take certificate files),
 * routing as `routing` says. Undefined when it would bind nothing.
 */
export function proxyIngress(routing: IngressRouting, address: string, ports: { http?: number; https?: number }, withCertificates: boolean): ProxyIngress | undefined {
  const certs = withCertificates ? routing.certificates : [];
  const http: ProxyBind[] = ports.http !== undefined ? [{ address, port: ports.http }] : [];
  const https: ProxyBind[] = ports.https !== undefined && certs.length > 0 ? [{ address, port: ports.https }] : [];
  if (http.length === 0 && https.length === 0) return undefined;
  if (ports.http !== undefined && ports.http === ports.https) {
    throw new CoxError("InvalidArgument", `the ingress HTTP and HTTPS ports are both ${ports.http}`, { details: { port: ports.http } });
  }
  return {
    http,
    https,
    routes: routing.routes.map((r) => ({ ...r })),
    ...(routing.defaultBackend !== undefined ? { defaultBackend: routing.defaultBackend } : {}),
    certificates: https.length > 0 ? certs.map((c) => ({ ...c, hosts: [...c.hosts] })) : [],
  };
}
