/**
 * Rules beyond the schema (InvalidField) and the defaults a JSON schema cannot express. Both run only on
 * objects that passed schema validation, so the data has the shapes the generated types describe.
 */
import { DEFAULT_NAMESPACE, KINDS, type ConfigMap, type DesiredObject, type Deployment, type Namespace, type Node } from "../api/objects.js";
import { parseCpu, parseMemory } from "../api/quantity.js";
import type { Container, ContainerPort, Probe } from "../api/generated/deployment.js";
import { fieldError, showValue, type Issue } from "./issue.js";
import type { PathSegment } from "./paths.js";

/** Kubernetes' default for Deployment maxSurge and maxUnavailable. */
export const DEFAULT_ROLLING_PERCENT = "25%";

/** Kubernetes refuses ConfigMaps whose data exceed 1 MiB. */
export const MAX_CONFIGMAP_BYTES = 1024 * 1024;

/**
 * Applies the defaults the schema cannot express, in place, as Kubernetes' defaulting does:
 * - namespaced objects without metadata.namespace land in "default";
 * - Deployment strategy: type RollingUpdate, rollingUpdate {maxSurge "25%", maxUnavailable "25%"}, also when
 *   strategy is omitted (the schema's defaults only apply inside an existing strategy);
 * - container resources: a limit without a request makes the request equal to the limit (Kubernetes does
 *   this when it creates the pods; coxswain has no pod objects, so it happens in the template, where the
 *   scheduler reads requests).
 */
export function applyDefaults(obj: DesiredObject): void {
  if (KINDS[obj.kind].namespaced && obj.metadata.namespace === undefined) obj.metadata.namespace = DEFAULT_NAMESPACE;
  if (obj.kind === "Deployment") {
    const spec = obj.spec;
    const strategy = (spec.strategy ??= {});
    strategy.type ??= "RollingUpdate";
    if (strategy.type === "RollingUpdate") {
      const ru = (strategy.rollingUpdate ??= {});
      ru.maxSurge ??= DEFAULT_ROLLING_PERCENT;
      ru.maxUnavailable ??= DEFAULT_ROLLING_PERCENT;
    }
    for (const c of spec.template.spec.containers) {
      const limits = c.resources?.limits;
      if (!limits || !c.resources) continue;
      const requests = (c.resources.requests ??= {});
      if (limits.cpu !== undefined) requests.cpu ??= limits.cpu;
      if (limits.memory !== undefined) requests.memory ??= limits.memory;
    }
  }
}

/** Rules beyond the schema for one object; InvalidField errors and warnings. Run before applyDefaults. */
export function semanticIssues(obj: DesiredObject): Issue[] {
  switch (obj.kind) {
    case "Deployment":
      return deploymentIssues(obj);
    case "Node":
      return nodeIssues(obj);
    case "Namespace":
      return namespaceIssues(obj);
    case "ConfigMap":
      return configMapIssues(obj);
  }
}

function namespaceIssues(ns: Namespace): Issue[] {
  const name = ns.metadata.name;
  if (name.length <= 63 && !name.includes(".")) return [];
  return [
    fieldError(
      "InvalidField",
      ["metadata", "name"],
      `a Namespace name must be a DNS-1123 label: at most 63 characters, no '.' (got ${showValue(name)})`,
    ),
  ];
}

function configMapIssues(cm: ConfigMap): Issue[] {
  let size = 0;
  for (const [k, v] of Object.entries(cm.data ?? {})) size += Buffer.byteLength(k) + Buffer.byteLength(v);
  if (size <= MAX_CONFIGMAP_BYTES) return [];
  return [fieldError("InvalidField", ["data"], `must hold at most ${MAX_CONFIGMAP_BYTES} bytes, as in Kubernetes (got ${size})`)];
}

function nodeIssues(node: Node): Issue[] {
  const issues: Issue[] = [];
  const range = node.spec.portRange;
  if (range !== undefined) {
    const m = /^([0-9]+)-([0-9]+)$/.exec(range);
    const from = Number(m?.[1]);
    const to = Number(m?.[2]);
    if (!m || !(from >= 1 && from <= to && to <= 65535)) {
      issues.push(
        fieldError("InvalidField", ["spec", "portRange"], `must be "from-to" with 1 <= from <= to <= 65535 (got ${showValue(range)})`),
      );
    }
  }
  const endpoint = node.spec.endpoint;
  const socket = endpoint.startsWith("unix://") ? endpoint.slice("unix://".length) : "";
  if (!isCleanAbsolutePath(socket)) {
    issues.push(
      fieldError(
        "InvalidField",
        ["spec", "endpoint"],
        `must be unix:// followed by a clean absolute socket path (no '.', '..' or empty segments, no trailing '/') (got ${showValue(endpoint)})`,
      ),
    );
  }
  return issues;
}

function isCleanAbsolutePath(p: string): boolean {
  if (!p.startsWith("/") || p.length < 2 || p.endsWith("/") || /[\s\u0000]/.test(p)) return false;
  return p
    .slice(1)
    .split("/")
    .every((s) => s !== "" && s !== "." && s !== "..");
}

function deploymentIssues(d: Deployment): Issue[] {
  const issues: Issue[] = [];
  const spec = d.spec;

  // Kubernetes: "selector does not match template labels".
  const labels = spec.template.metadata.labels ?? {};
  const mismatched = Object.entries(spec.selector.matchLabels)
    .filter(([k, v]) => labels[k] !== v)
    .map(([k, v]) => `${k}=${v} (template has ${k in labels ? `${k}=${labels[k]}` : `no ${k}`})`);
  if (mismatched.length > 0) {
    issues.push(
      fieldError(
        "InvalidField",
        ["spec", "template", "metadata", "labels"],
        `selector does not match template labels: spec.selector.matchLabels must all appear in spec.template.metadata.labels; missing ${mismatched.join(", ")}`,
      ),
    );
  }

  const ru = spec.strategy?.rollingUpdate;
  if (ru) {
    const base: PathSegment[] = ["spec", "strategy", "rollingUpdate"];
    const surge = checkIntOrPercent(ru.maxSurge, [...base, "maxSurge"], false, issues);
    const unavailable = checkIntOrPercent(ru.maxUnavailable, [...base, "maxUnavailable"], true, issues);
    if (surge === 0 && unavailable === 0) {
      issues.push(
        fieldError("InvalidField", [...base, "maxUnavailable"], "may not be 0 when maxSurge is 0: a rollout could never replace a pod (as in Kubernetes)"),
      );
    }
  }

  const podPath: PathSegment[] = ["spec", "template", "spec", "containers"];
  const containers = spec.template.spec.containers;
  const containerNames = new Map<string, number>();
  const portNames = new Map<string, string>();
  const portNumbers = new Map<string, string>();
  containers.forEach((c, ci) => {
    const cPath: PathSegment[] = [...podPath, ci];
    const firstC = containerNames.get(c.name);
    if (firstC !== undefined) {
      issues.push(fieldError("InvalidField", [...cPath, "name"], `duplicate container name ${showValue(c.name)} (first used by containers[${firstC}]); names must be unique in a pod`));
    } else containerNames.set(c.name, ci);

    (c.ports ?? []).forEach((p, pi) => {
      const pPath: PathSegment[] = [...cPath, "ports", pi];
      const where = `containers[${ci}].ports[${pi}]`;
      if (p.name !== undefined) {
        const first = portNames.get(p.name);
        if (first !== undefined) {
          issues.push(fieldError("InvalidField", [...pPath, "name"], `duplicate port name ${showValue(p.name)} (first used by ${first}); port names must be unique in a pod`));
        } else portNames.set(p.name, where);
      }
      const protocol = p.protocol ?? "TCP";
      const id = `${protocol}/${p.containerPort}`;
      const first = portNumbers.get(id);
      if (first !== undefined) {
        issues.push(
          fieldError("InvalidField", [...pPath, "containerPort"], `duplicate containerPort ${p.containerPort}/${protocol} (first declared by ${first}); each port and protocol may appear once in a pod`),
        );
      } else portNumbers.set(id, where);
    });

    const envNames = new Map<string, number>();
    (c.env ?? []).forEach((e, ei) => {
      const first = envNames.get(e.name);
      if (first !== undefined) {
        issues.push({
          code: "InvalidField",
          severity: "warning",
          path: [...cPath, "env", ei, "name"],
          at: "value",
          message: `duplicate env name ${showValue(e.name)} (first at env[${first}]); as in Kubernetes the last value wins`,
        });
      }
      envNames.set(e.name, ei);
    });

    if (c.readinessProbe) issues.push(...probeIssues(c, c.readinessProbe, [...cPath, "readinessProbe"]));
    issues.push(...resourceIssues(c, [...cPath, "resources"]));
  });
  return issues;
}

/** Returns the absolute value when it is a plain integer (or undefined for percentages), and checks the form. */
function checkIntOrPercent(v: number | string | undefined, path: PathSegment[], capAt100: boolean, issues: Issue[]): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v === "number") {
    if (!Number.isInteger(v) || v < 0) {
      issues.push(fieldError("InvalidField", path, `must be a non-negative integer or a percentage like "25%" (got ${showValue(v)})`));
      return undefined;
    }
    return v;
  }
  const pct = Number(v.slice(0, -1));
  if (v.endsWith("%")) {
    if (capAt100 && pct > 100) issues.push(fieldError("InvalidField", path, `must not be greater than 100% (got ${showValue(v)})`));
    return pct;
  }
  // A bare digit string ("1") is a percentage-less string: Kubernetes rejects it, it must be a number or "N%".
  issues.push(fieldError("InvalidField", path, `a string must be a percentage like "25%"; write a number without quotes (got ${showValue(v)})`));
  return undefined;
}

function probeIssues(c: Container, probe: Probe, path: PathSegment[]): Issue[] {
  const handlers = (["httpGet", "tcpSocket"] as const).filter((h) => probe[h] !== undefined);
  if (handlers.length !== 1) {
    const got = handlers.length === 0 ? "none" : handlers.join(" and ");
    return [fieldError("InvalidField", path, `must have exactly one handler, httpGet or tcpSocket (got ${got})`)];
  }
  const handler = handlers[0]!;
  const port = probe[handler]!.port;
  const portPath = [...path, handler, "port"];
  const ports: ContainerPort[] = c.ports ?? [];
  const why = "coxswain assigns host ports, so it can only probe a port the container declares";
  if (typeof port === "string") {
    if (ports.some((p) => p.name === port)) return [];
    const names = ports.flatMap((p) => (p.name === undefined ? [] : [p.name])).sort();
    return [
      fieldError(
        "InvalidField",
        portPath,
        `port ${showValue(port)} is not a port name of container ${showValue(c.name)} (declared: ${names.length > 0 ? names.join(", ") : "none"}); ${why}`,
      ),
    ];
  }
  if (ports.some((p) => p.containerPort === port && (p.protocol ?? "TCP") === "TCP")) return [];
  const numbers = ports.filter((p) => (p.protocol ?? "TCP") === "TCP").map((p) => p.containerPort).sort((a, b) => a - b);
  return [
    fieldError(
      "InvalidField",
      portPath,
      `port ${showValue(port)} is not a TCP containerPort of container ${showValue(c.name)} (declared: ${numbers.length > 0 ? numbers.join(", ") : "none"}); ${why}`,
    ),
  ];
}

function resourceIssues(c: Container, path: PathSegment[]): Issue[] {
  const issues: Issue[] = [];
  const parsed: Record<string, Record<string, number>> = { requests: {}, limits: {} };
  for (const group of ["requests", "limits"] as const) {
    const list = c.resources?.[group];
    if (!list) continue;
    for (const res of ["cpu", "memory"] as const) {
      const q = list[res];
      if (q === undefined) continue;
      try {
        parsed[group]![res] = res === "cpu" ? parseCpu(q) : parseMemory(q);
      } catch {
        issues.push(
          fieldError(
            "InvalidField",
            [...path, group, res],
            `must be a non-negative ${res === "cpu" ? "CPU quantity like 250m, 0.5 or 2" : "memory quantity like 128Mi, 1G or 1048576"} (got ${showValue(q)})`,
          ),
        );
      }
    }
  }
  for (const res of ["cpu", "memory"] as const) {
    const req = parsed.requests![res];
    const lim = parsed.limits![res];
    if (req !== undefined && lim !== undefined && req > lim) {
      issues.push(
        fieldError(
          "InvalidField",
          [...path, "requests", res],
          `must be less than or equal to the ${res} limit ${showValue(c.resources?.limits?.[res])} (got ${showValue(c.resources?.requests?.[res])})`,
        ),
      );
    }
  }
  return issues;
}
