/**
 * The rules of Services that need the whole commit (buildGraph runs them; the per-object rules are in
 * manifest/service.ts):
 * - nodePorts: a nodePort is reserved on every node out of that node's portRange (so that no pod is given
 *   it as a host port), hence it must lie inside the portRange of every Node in the commit — or inside
 *   30000-32767, the default node's range, when the commit has no Node — and belong to one Service only.
 *   Both are errors (InvalidField) at every nodePort concerned.
 * - selectors: a Service whose selector matches the pod template labels of nothing that makes pods in its
 *   namespace would have no endpoints; a port whose targetPort (a name, or a number) no container of the
 *   selected workloads declares would have none for that port (coxswain gives host ports to declared
 *   container ports only). Both are warnings (MissingReference): the workload may be on its way in a
 *   later commit, and Kubernetes accepts both.
 * Services add no edges to the graph: no controller acts on them yet, and an edge would order (and could
 * contradict the sync waves of) workloads for nothing.
 */
import { DEFAULT_NAMESPACE, keyOf, makeKey, templateOwnerOf, type Service, type TemplateOwner } from "../api/objects.js";
import { DEFAULT_PORT_RANGE, parsePortRange, type PortRange } from "../manifest/cluster.js";
import { formatFieldPath, type PathSegment } from "../manifest/paths.js";
import type { Diagnostic, ManifestObject } from "../manifest/types.js";

/** How many workload keys a message lists before "…". */
const LISTED = 3;

/**
 * The diagnostics of the Services among `objects` (each object once, in key order), sorted as the objects
 * are, then by port. Pure.
 */
export function serviceDiagnostics(objects: readonly ManifestObject[]): Diagnostic[] {
  const out: Diagnostic[] = [];
  const report = (m: ManifestObject, severity: Diagnostic["severity"], code: Diagnostic["code"], path: readonly PathSegment[], message: string): void => {
    out.push({ ...m.locate(path), code, severity, field: formatFieldPath(path), message });
  };

  const services: { m: ManifestObject; svc: Service }[] = [];
  const workloads: TemplateOwner[] = [];
  const ranges: { node?: string; range: PortRange }[] = [];
  for (const m of objects) {
    const o = m.object;
    if (o.kind === "Service") services.push({ m, svc: o });
    else if (templateOwnerOf(o)) workloads.push(templateOwnerOf(o)!);
    else if (o.kind === "Node") {
      const range = parsePortRange(o.spec.portRange ?? "") ?? DEFAULT_PORT_RANGE;
      ranges.push({ node: o.metadata.name, range });
    }
  }
  if (services.length === 0) return out;
  if (ranges.length === 0) ranges.push({ range: DEFAULT_PORT_RANGE });

  // nodePort → every Service port that asks for it.
  const uses = new Map<number, { m: ManifestObject; key: string; port: number }[]>();
  for (const { m, svc } of services) {
    (svc.spec.ports ?? []).forEach((p, i) => {
      if (p.nodePort === undefined) return;
      let list = uses.get(p.nodePort);
      if (!list) uses.set(p.nodePort, (list = []));
      list.push({ m, key: keyOf(svc), port: i });
    });
  }
  const reserved = "a nodePort is reserved out of each node's portRange, so that no pod is given it as a host port";
  for (const [nodePort, list] of uses) {
    const outside = ranges.filter((r) => nodePort < r.range.from || nodePort > r.range.to);
    const where =
      outside[0]?.node === undefined
        ? `${DEFAULT_PORT_RANGE.from}-${DEFAULT_PORT_RANGE.to}, the portRange of the default node (the commit declares no Node)`
        : `the portRange of ${outside.map((r) => `Node "${r.node}" (${r.range.from}-${r.range.to})`).join(", ")}`;
    for (const use of list) {
      const path = ["spec", "ports", use.port, "nodePort"];
      if (outside.length > 0) {
        report(use.m, "error", "InvalidField", path, `nodePort ${nodePort} is outside ${where}: ${reserved}; expected a port inside every node's range`);
      }
      const others = [...new Set(list.filter((u) => u.key !== use.key).map((u) => u.key))];
      if (others.length > 0) {
        report(use.m, "error", "InvalidField", path, `nodePort ${nodePort} is also used by ${others.join(", ")}: a nodePort serves one Service on every node; expected each nodePort in one Service only`);
      }
    }
  }

  // Workloads by namespace and pod-template label: a Service looks only at those with its selector's rarest
  // label, not at every workload (Services × workloads was the one quadratic step of reading a commit).
  const byLabel = new Map<string, TemplateOwner[]>();
  const labelKey = (namespace: string, k: string, v: string) => `${namespace}\0${k}\0${v}`;
  for (const w of workloads) {
    const namespace = w.metadata.namespace ?? DEFAULT_NAMESPACE;
    for (const [k, v] of Object.entries(w.spec.template.metadata.labels ?? {})) {
      const key = labelKey(namespace, k, v);
      const list = byLabel.get(key);
      if (list) list.push(w);
      else byLabel.set(key, [w]);
    }
  }
  for (const { m, svc } of services) {
    const selector = svc.spec.selector ?? {};
    const entries = Object.entries(selector);
    if (entries.length === 0) continue; // manifest/service.ts warns about a Service without selector
    const namespace = svc.metadata.namespace ?? DEFAULT_NAMESPACE;
    const candidates = entries.map(([k, v]) => byLabel.get(labelKey(namespace, k, v)) ?? []).reduce((a, b) => (b.length < a.length ? b : a));
    const selected = candidates.filter((w) => entries.every(([k, v]) => w.spec.template.metadata.labels?.[k] === v));
    if (selected.length === 0) {
      const wanted = entries.map(([k, v]) => `${k}=${v}`).join(", ");
      report(m, "warning", "MissingReference", ["spec", "selector"], `selects no pods: no workload or Pod in namespace "${namespace}" has a pod template with the labels ${wanted}, so the Service has no endpoints`);
      continue;
    }
    const names = selected.map((w) => makeKey(w.kind, w.metadata.name, w.metadata.namespace));
    const listed = names.length > LISTED ? `${names.slice(0, LISTED).join(", ")}, …` : names.join(", ");
    (svc.spec.ports ?? []).forEach((p, i) => {
      const target = p.targetPort ?? p.port;
      const protocol = p.protocol ?? "TCP";
      const declared = selected.some((w) =>
        w.spec.template.spec.containers.some((c) => (c.ports ?? []).some((cp) => (cp.protocol ?? "TCP") === protocol && (typeof target === "string" ? cp.name === target : cp.containerPort === target))),
      );
      if (declared) return;
      const what = typeof target === "string" ? `a port named "${target}"` : `containerPort ${target}`;
      report(
        m,
        "warning",
        "MissingReference",
        ["spec", "ports", i, "targetPort"],
        `no container of the selected workloads (${listed}) declares ${what} (${protocol}): coxswain gives host ports to declared container ports only, so this port of the Service has no endpoints`,
      );
    });
  }
  return out;
}
