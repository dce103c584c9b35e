/**
 * Which Services carry a Rollout's traffic, and how, with Argo Rollouts' meaning of its Service fields and
 * coxswain's built-in proxy as the traffic router:
 *
 * - Canary: `canaryService` serves the canary (wanted) revision's pods only; `stableService` the stable
 *   revision's only — except with `trafficRouting: {}`, where it carries the weighted split (Argo's traffic
 *   router splits the stable Service's traffic); every other Service that selects the Rollout's pods carries
 *   the split: setWeight % of its new requests to the canary's pods, the rest to the stable's, whatever
 *   the pod counts (traffic/weights.ts).
 * - Blue/green: `activeService` serves the active revision's pods only, and switches at promotion;
 *   `previewService` the preview revision's (the active one's while there is no preview, as Argo points it
 *   at the active ReplicaSet then); every other Service that selects the Rollout's pods is an active one.
 * - No canary in progress (stable = wanted) or before the first blue/green switch, the one revision takes
 *   everything; after a promotion or an abort the stable one does.
 *
 * A Service is shaped by one Rollout: the one that names it (Rollouts in key order; the manifest stage
 * refuses a Service named by two), else the first in key order whose pods its selector selects. A headless
 * Service has no proxy listener and is shaped by none.
 *
 * Guarantees: pure; the result depends on the sets given, not on their order.
 */
import { makeKey } from "../api/objects.js";
import { compareText } from "./keys.js";
import type { RolloutServices, RolloutTrafficState, ServiceRole, ServiceRoute, ServiceSpec } from "./types.js";

/** What one Service is to the Rollout that shapes it. */
export interface ServiceRoleOf {
  /** The Rollout's key, "Rollout/<namespace>/<name>". */
  rollout: string;
  role: ServiceRole;
}

/** The Rollout's key, "Rollout/<namespace>/<name>". */
export function rolloutKeyOf(r: Pick<RolloutServices, "namespace" | "name">): string {
  return makeKey("Rollout", r.name, r.namespace);
}

/** The roles the Rollout's Service fields name, in field order. */
function namedRoles(r: RolloutServices): [string, ServiceRole][] {
  const out: [string | undefined, ServiceRole][] =
    r.strategy === "canary"
      ? [
          [r.canaryService, "canary"],
          [r.stableService, r.trafficRouting === true ? "split" : "stable"],
        ]
      : [
          [r.activeService, "active"],
          [r.previewService, "preview"],
        ];
  return out.filter((e): e is [string, ServiceRole] => e[0] !== undefined);
}

/** Whether the Service's selector (non-empty) is satisfied by the Rollout's pod labels, in its namespace. */
function selectsPods(service: ServiceSpec, r: RolloutServices): boolean {
  const pairs = Object.entries(service.selector ?? {});
  return service.namespace === r.namespace && pairs.length > 0 && pairs.every(([k, v]) => Object.hasOwn(r.labels, k) && r.labels[k] === v);
}

/**
 * "namespace/name" of each Service some Rollout shapes → that Rollout and the Service's role (see the
 * module comment). Services no Rollout shapes are not listed.
 */
export function rolloutServiceRoles(rollouts: readonly RolloutServices[], services: readonly ServiceSpec[]): Map<string, ServiceRoleOf> {
  const sorted = [...rollouts].sort((a, b) => compareText(rolloutKeyOf(a), rolloutKeyOf(b)));
  const served = new Map(services.filter((s) => !s.headless).map((s) => [`${s.namespace}/${s.name}`, s]));
  const roles = new Map<string, ServiceRoleOf>();
  for (const r of sorted) {
    for (const [name, role] of namedRoles(r)) {
      const key = `${r.namespace}/${name}`;
      if (served.has(key) && !roles.has(key)) roles.set(key, { rollout: rolloutKeyOf(r), role });
    }
  }
  for (const [key, s] of [...served].sort(([a], [b]) => compareText(a, b))) {
    if (roles.has(key)) continue;
    const r = sorted.find((x) => selectsPods(s, x));
    if (r !== undefined) roles.set(key, { rollout: rolloutKeyOf(r), role: r.strategy === "canary" ? "split" : "active" });
  }
  return new Map([...roles].sort(([a], [b]) => compareText(a, b)));
}

/**
 * The route of each Service in `roles` whose Rollout has a traffic state (`states`, by Rollout key): what
 * its role means with the revisions and weight decided now. A Rollout without a state (not decided yet: a
 * new Rollout has one revision anyway) shapes nothing; nor does a role of the other strategy (a Rollout
 * whose strategy changed, until its controller decided again).
 */
export function serviceRoutes(roles: ReadonlyMap<string, ServiceRoleOf>, states: ReadonlyMap<string, RolloutTrafficState>): Map<string, ServiceRoute> {
  const out = new Map<string, ServiceRoute>();
  for (const [service, { rollout, role }] of roles) {
    const st = states.get(rollout);
    if (st === undefined) continue;
    if (st.strategy === "canary") {
      if (role === "split") out.set(service, { rollout, role, stable: st.stable, canary: st.canary, weight: st.weight });
      else if (role === "canary") out.set(service, { rollout, role, revision: st.canary });
      else if (role === "stable") out.set(service, { rollout, role, revision: st.stable });
    } else if (role === "active") out.set(service, { rollout, role, revision: st.active });
    else if (role === "preview") out.set(service, { rollout, role, revision: st.preview ?? st.active });
  }
  return out;
}
