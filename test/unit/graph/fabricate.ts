/**
 * Fabricates ManifestObjects for graph tests without the manifest loader. Positions mimic a YAML block
 * layout: the document starts at `line`, and every field sits on its own line in pre-order (key order as
 * written), indented two columns per level. locate(path) returns the position of the path, or of its
 * nearest existing parent, so tests can check that a diagnostic points at the offending field.
 */
import { keyOf, type ConfigMap, type CronJob, type Deployment, type DesiredObject, type Namespace, type Node, type PriorityClass, type Rollout, type Secret, type Service } from "../../../operator/src/api/objects.js";
import type { ContainerPort, ServicePort } from "../../../operator/src/api/generated/index.js";
import type { ManifestObject, SourcePosition } from "../../../operator/src/manifest/types.js";

type Path = readonly (string | number)[];

/** Wraps an object as the loader would, declared in `file` starting at `line`. */
export function manifest(object: DesiredObject, file = `${keyOf(object).replaceAll("/", "_")}.yaml`, line = 1): ManifestObject {
  let lines: Map<string, SourcePosition> | undefined; // built on first locate: most objects are never located
  const layout = (): Map<string, SourcePosition> => {
    const out = new Map<string, SourcePosition>();
    let next = line;
    const walk = (value: unknown, path: Path): void => {
      out.set(JSON.stringify(path), { file, line: next++, col: 1 + 2 * Math.max(0, path.length - 1) });
      if (Array.isArray(value)) {
        for (const [i, v] of value.entries()) walk(v, [...path, i]);
      } else if (value && typeof value === "object") {
        for (const [k, v] of Object.entries(value)) walk(v, [...path, k]);
      }
    };
    walk(object, []);
    return out;
  };
  const key = keyOf(object);
  return {
    key,
    object,
    source: { file, line, col: 1 },
    locate(path) {
      for (let n = path.length; n >= 0; n--) {
        const at = (lines ??= layout()).get(JSON.stringify(path.slice(0, n)));
        if (at) return { ...at, object: key };
      }
      return { file, line, col: 1, object: key };
    },
  };
}

/** A Namespace. */
export function namespace(name: string, annotations?: Record<string, string>): Namespace {
  return { apiVersion: "v1", kind: "Namespace", metadata: { name, ...(annotations ? { annotations } : {}) } };
}

/** A Node on a local socket. */
export function node(name: string, annotations?: Record<string, string>): Node {
  return {
    apiVersion: "coxswain.io/v1alpha1",
    kind: "Node",
    metadata: { name, ...(annotations ? { annotations } : {}) },
    spec: { endpoint: `unix:///run/${name}.sock` },
  };
}

/** A Node on tcp:// whose TLS material is the Secret `secretName` in `secretNamespace`. */
export function tcpNode(name: string, secretName: string, secretNamespace = "default"): Node {
  return {
    apiVersion: "coxswain.io/v1alpha1",
    kind: "Node",
    metadata: { name },
    spec: { endpoint: `tcp://${name}.example.com:2376`, tls: { secretRef: { name: secretName, namespace: secretNamespace } } },
  };
}

/** A defaulted Secret whose data holds `values` base64-encoded. */
export function secret(name: string, ns: string, values: Record<string, string | Uint8Array>, type: Secret["type"] = "Opaque"): Secret {
  const data: Record<string, string> = {};
  for (const [k, v] of Object.entries(values)) data[k] = Buffer.from(v).toString("base64");
  return { apiVersion: "v1", kind: "Secret", metadata: { name, namespace: ns }, type, data };
}

/** A defaulted PriorityClass. */
export function priorityClass(name: string, value: number, opts: { globalDefault?: boolean; preemptionPolicy?: PriorityClass["preemptionPolicy"]; annotations?: Record<string, string> } = {}): PriorityClass {
  return {
    apiVersion: "scheduling.k8s.io/v1",
    kind: "PriorityClass",
    metadata: { name, ...(opts.annotations ? { annotations: opts.annotations } : {}) },
    value,
    globalDefault: opts.globalDefault ?? false,
    preemptionPolicy: opts.preemptionPolicy ?? "PreemptLowerPriority",
  };
}

/** A defaulted canary Rollout made from the Deployment the same options would make. */
export function rollout(name: string, ns: string, opts: Parameters<typeof deployment>[2] & { apiVersion?: Rollout["apiVersion"] } = {}): Rollout {
  const d = deployment(name, ns, opts);
  const { strategy: _strategy, ...spec } = d.spec;
  return {
    apiVersion: opts.apiVersion ?? "argoproj.io/v1alpha1",
    kind: "Rollout",
    metadata: d.metadata,
    spec: { ...spec, revisionHistoryLimit: 10, paused: false, strategy: { canary: { steps: [{ setWeight: 50 }, { pause: {} }], maxSurge: "25%", maxUnavailable: "25%" } } },
  };
}

/** The sync-wave annotation. */
export function wave(n: number | string): Record<string, string> {
  return { "argocd.argoproj.io/sync-wave": String(n) };
}

/** A ConfigMap. */
export function configMap(name: string, ns: string, data: Record<string, string> = {}, annotations?: Record<string, string>): ConfigMap {
  return { apiVersion: "v1", kind: "ConfigMap", metadata: { name, namespace: ns, ...(annotations ? { annotations } : {}) }, data };
}

/** An env var reading a ConfigMap key. */
export interface EnvRef {
  configMap: string;
  key: string;
  optional?: boolean;
}

/** A CronJob every 5 minutes whose jobTemplate's pod template is deployment()'s, with restartPolicy Never. */
export function cronJob(name: string, ns: string, opts: Parameters<typeof deployment>[2] = {}): CronJob {
  const t = deployment(name, ns, opts).spec.template;
  return {
    apiVersion: "batch/v1",
    kind: "CronJob",
    metadata: { name, namespace: ns },
    spec: { schedule: "*/5 * * * *", jobTemplate: { spec: { template: { ...t, spec: { ...t.spec, restartPolicy: "Never" } } } } },
  };
}

/** A defaulted Deployment with one container; env refs go to that container in order. */
export function deployment(
  name: string,
  ns: string,
  opts: {
    replicas?: number;
    image?: string;
    env?: EnvRef[];
    annotations?: Record<string, string>;
    containers?: number;
    priorityClassName?: string;
    /** The first container's ports. */
    ports?: ContainerPort[];
    /** The template's (and selector's) labels; default { app: name }. */
    labels?: Record<string, string>;
  } = {},
): Deployment {
  const labels = opts.labels ?? { app: name };
  const env = (opts.env ?? []).map((r, i) => ({
    name: `VAR_${i}`,
    valueFrom: { configMapKeyRef: { name: r.configMap, key: r.key, ...(r.optional === undefined ? {} : { optional: r.optional }) } },
  }));
  const containers = Array.from({ length: opts.containers ?? 1 }, (_, i) => ({
    name: i === 0 ? "main" : `side${i}`,
    image: opts.image ?? "app:v1",
    ...(i === 0 && opts.ports ? { ports: opts.ports } : {}),
    ...(i === (opts.containers ?? 1) - 1 && env.length ? { env } : {}),
  }));
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name, namespace: ns, ...(opts.annotations ? { annotations: opts.annotations } : {}) },
    spec: {
      replicas: opts.replicas ?? 1,
      selector: { matchLabels: labels },
      minReadySeconds: 0,
      progressDeadlineSeconds: 600,
      strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: "25%", maxUnavailable: "25%" } },
      template: {
        metadata: { labels },
        spec: {
          terminationGracePeriodSeconds: 30,
          ...(opts.priorityClassName === undefined ? {} : { priorityClassName: opts.priorityClassName }),
          containers: containers as Deployment["spec"]["template"]["spec"]["containers"],
        },
      },
    },
  };
}

/** The depends-on annotation. */
export function dependsOn(value: string): Record<string, string> {
  return { "coxswain.io/depends-on": value };
}

/** A defaulted Service (type ClusterIP unless given; targetPort defaulted to port as the loader does). */
export function service(name: string, ns: string, opts: { selector?: Record<string, string>; ports?: ServicePort[]; type?: Service["spec"]["type"] } = {}): Service {
  const ports = (opts.ports ?? [{ port: 80 }]).map((p) => ({ protocol: "TCP" as const, ...p, targetPort: p.targetPort ?? p.port }));
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name, namespace: ns },
    spec: {
      ...(opts.selector ? { selector: opts.selector } : {}),
      ports,
      type: opts.type ?? "ClusterIP",
      sessionAffinity: "None",
      publishNotReadyAddresses: false,
    },
  };
}
