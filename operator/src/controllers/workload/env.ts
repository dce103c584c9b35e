/**
 * A container's environment: from env and envFrom in the pod template to the variables a runtime gets. Pure.
 *
 * Two stages, as the values become known:
 * - planEnv (for the revision): ConfigMap and Secret values, the pod's namespace, labels and annotations,
 *   and the container resources are resolved from the commit. What it read goes into the revision's hash,
 *   so that a changed ConfigMap or Secret value rolls the workload (Docker fixes a container's environment
 *   at create). A Secret value goes in as a SHA-256 of it only: the revision is written out, the value never.
 * - launchEnv (for each pod): the pod's name, node and addresses, and a limit the container does not set
 *   (Kubernetes' downward API gives the node's allocatable amount then).
 *
 * Kubernetes' order and precedence: envFrom sources in order (a later source wins for a key), then env
 * (which wins over all of them), each entry over the ones before it. Only env[].value expands $(VAR); a
 * value read from a ConfigMap, a Secret or a field is taken as it is, as the kubelet does.
 */
import { createHash } from "node:crypto";
import { CoxError } from "../../api/errors.js";
import type { Container, ResourceFieldSelector } from "../../api/generated/index.js";
import { makeKey, type DesiredObject } from "../../api/objects.js";
import { parseCpu, parseMemory } from "../../api/quantity.js";
import { ENV_VAR_NAME, POD_FIELDS, subscriptedField, type PodField } from "../../manifest/env.js";
import { secretKeys, secretValue } from "../../manifest/secret.js";

/** Looks up the objects of the commit by key (the desired graph); env reads its ConfigMaps and Secrets. */
export type ReferenceLookup = (key: string) => DesiredObject | undefined;

/** One variable as planned, in the order it is applied (later entries win). */
export type PlannedEnvVar =
  /** A value taken as it is (from a ConfigMap, a Secret — then `secret` —, a field or a resource). */
  | { name: string; value: string; secret?: true }
  /** env[].value: $(VAR) is expanded at launch from the variables before it. */
  | { name: string; expand: string }
  /** A field of the pod that only exists once it is placed. */
  | { name: string; podField: PodField }
  /** A limit the container does not set: the node's allocatable amount, divided by divisor and rounded up. */
  | { name: string; allocatable: "cpu" | "memory"; divisor: number };

/** What the environment of every pod of a template shares. */
export interface PodEnvContext {
  namespace: string;
  labels: Readonly<Record<string, string>>;
  annotations: Readonly<Record<string, string>>;
  /** All containers of the pod (resourceFieldRef.containerName names one). */
  containers: readonly Container[];
}

/** The SHA-256 of a Secret value: what of it goes into a revision. */
function valueHash(value: string): string {
  return createHash("sha256").update(value, "utf8").digest("hex");
}

/**
 * The planned environment of one container, and what it read recorded in `inputs` (for the revision):
 * "<configMap>/<key>" → the value (null when missing), as before envFrom and Secrets existed, so that the
 * revisions of existing workloads stay the same; "Secret/<name>/<key>" → the value's hash; "envFrom/ConfigMap/<name>"
 * → the ConfigMap's data; "envFrom/Secret/<name>" → each key's hash (null when missing). Missing optional
 * references and keys that are not variable names are left out (buildGraph reports the others).
 */
export function planEnv(container: Container, pod: PodEnvContext, refs: ReferenceLookup, inputs: Record<string, unknown>): PlannedEnvVar[] {
  const env: PlannedEnvVar[] = [];
  for (const source of container.envFrom ?? []) {
    const prefix = source.prefix ?? "";
    const values: [string, string][] = [];
    const fromSecret = source.secretRef !== undefined;
    if (source.configMapRef) {
      const cm = refs(makeKey("ConfigMap", source.configMapRef.name, pod.namespace));
      const data = cm?.kind === "ConfigMap" ? cm.data : undefined;
      inputs[`envFrom/ConfigMap/${source.configMapRef.name}`] = data ?? null;
      values.push(...Object.entries(data ?? {}));
    } else if (source.secretRef) {
      const secret = refs(makeKey("Secret", source.secretRef.name, pod.namespace));
      const hashes: Record<string, string> = {};
      if (secret?.kind === "Secret") {
        for (const key of secretKeys(secret)) {
          const value = secretValue(secret, key)!.toString("utf8");
          hashes[key] = valueHash(value);
          values.push([key, value]);
        }
      }
      inputs[`envFrom/Secret/${source.secretRef.name}`] = secret?.kind === "Secret" ? hashes : null;
    }
    for (const [key, value] of values.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      if (ENV_VAR_NAME.test(prefix + key)) env.push({ name: prefix + key, value, ...(fromSecret ? { secret: true as const } : {}) });
    }
  }
  for (const e of container.env ?? []) {
    const from = e.valueFrom;
    if (!from) {
      env.push({ name: e.name, expand: e.value ?? "" });
    } else if (from.configMapKeyRef) {
      const ref = from.configMapKeyRef;
      const cm = refs(makeKey("ConfigMap", ref.name, pod.namespace));
      const data = cm?.kind === "ConfigMap" ? (cm.data ?? {}) : {};
      const value = Object.hasOwn(data, ref.key) ? data[ref.key] : undefined;
      inputs[`${ref.name}/${ref.key}`] = value ?? null;
      if (value !== undefined) env.push({ name: e.name, value });
    } else if (from.secretKeyRef) {
      const ref = from.secretKeyRef;
      const secret = refs(makeKey("Secret", ref.name, pod.namespace));
      const value = secret?.kind === "Secret" && secretKeys(secret).includes(ref.key) ? secretValue(secret, ref.key)!.toString("utf8") : undefined;
      inputs[`Secret/${ref.name}/${ref.key}`] = value === undefined ? null : valueHash(value);
      if (value !== undefined) env.push({ name: e.name, value, secret: true });
    } else if (from.fieldRef) {
      env.push({ name: e.name, ...fieldValue(from.fieldRef.fieldPath, pod) });
    } else if (from.resourceFieldRef) {
      env.push({ name: e.name, ...resourceValue(from.resourceFieldRef, container, pod) });
    }
  }
  return env;
}

function fieldValue(path: string, pod: PodEnvContext): { value: string } | { podField: PodField } {
  if ((POD_FIELDS as readonly string[]).includes(path)) return { podField: path as PodField };
  if (path === "metadata.namespace") return { value: pod.namespace };
  const sub = subscriptedField(path);
  // A label or annotation the pod does not have is "", as in Kubernetes.
  if (sub) return { value: pod[sub.map][sub.key] ?? "" };
  throw new Error(`fieldRef ${path} is not supported (the manifest stage refuses it)`);
}

function resourceValue(ref: ResourceFieldSelector, self: Container, pod: PodEnvContext): { value: string } | { allocatable: "cpu" | "memory"; divisor: number } {
  const target = ref.containerName === undefined ? self : pod.containers.find((c) => c.name === ref.containerName);
  if (!target) throw new Error(`resourceFieldRef names container ${ref.containerName}, which the pod does not have (the manifest stage refuses it)`);
  const [group, resource] = ref.resource.split(".") as ["limits" | "requests", "cpu" | "memory"];
  const parse = resource === "cpu" ? parseCpu : parseMemory;
  const divisor = parse(ref.divisor ?? "1");
  const amount = target.resources?.[group]?.[resource];
  // An unset request is 0 (requests default to the limits when those are set); an unset limit is the node's.
  if (amount === undefined) return group === "requests" ? { value: "0" } : { allocatable: resource, divisor };
  return { value: String(Math.ceil(parse(amount) / divisor)) };
}

/** What launchEnv needs to know of one placed pod. */
export interface PodFacts {
  pod: string;
  node: string;
  /** The node's address (status.hostIP). */
  hostIP: string;
  /** The pod's address: the node's on a host network; unknown before a bridge container starts. */
  podIP?: string;
  /** The node's allocatable CPU (millicores) and memory (bytes), for limits a container does not set. */
  allocatable?: { cpuMillis: number; memoryBytes: number };
}

/**
 * The final environment of one container: `vars` (coxswain's own and the Services'), then the planned
 * variables in order, env[].value expanded from everything before it. Throws InvalidField when a value
 * cannot be known for this pod (status.podIP on a bridge network), naming the variable.
 */
export function launchEnv(planned: readonly PlannedEnvVar[], vars: Readonly<Record<string, string>>, facts: PodFacts, container: string): Record<string, string> {
  const env: Record<string, string> = { ...vars };
  for (const e of planned) {
    if ("value" in e) env[e.name] = e.value;
    else if ("expand" in e) env[e.name] = expandVars(e.expand, env);
    else if ("podField" in e) env[e.name] = podFieldValue(e.podField, facts, e.name, container);
    else {
      if (!facts.allocatable) throw new Error(`pod ${facts.pod}: ${e.name} needs the node's allocatable ${e.allocatable}, which was not given`);
      const amount = e.allocatable === "cpu" ? facts.allocatable.cpuMillis : facts.allocatable.memoryBytes;
      env[e.name] = String(Math.ceil(amount / e.divisor));
    }
  }
  return env;
}

function podFieldValue(field: PodField, facts: PodFacts, name: string, container: string): string {
  switch (field) {
    case "metadata.name":
      return facts.pod;
    case "spec.nodeName":
      return facts.node;
    case "status.hostIP":
    case "status.hostIPs":
      return facts.hostIP;
    case "status.podIP":
    case "status.podIPs":
      if (facts.podIP === undefined) {
        throw new CoxError(
          "InvalidField",
          `pod ${facts.pod} container ${container}: env ${name} asks for status.podIP, which a container on node ${facts.node}'s bridge network only gets when it starts, ` +
            "after its environment is fixed: expected status.hostIP with the PORT variables, or a node with network: host",
        );
      }
      return facts.podIP;
  }
}

/** Expands $(VAR) from `vars` as Kubernetes does ($$ → $, unknown references kept verbatim). */
export function expandVars(input: string, vars: Readonly<Record<string, string>>): string {
  let out = "";
  for (let i = 0; i < input.length; i++) {
    const ch = input[i];
    if (ch !== "$" || i + 1 >= input.length) {
      out += ch;
      continue;
    }
    const nextCh = input[i + 1];
    if (nextCh === "$") {
      out += "$";
      i++;
      continue;
    }
    if (nextCh === "(") {
      const close = input.indexOf(")", i + 2);
      if (close > 0) {
        const name = input.slice(i + 2, close);
        if (Object.hasOwn(vars, name)) {
          out += vars[name];
          i = close;
          continue;
        }
      }
    }
    out += ch;
  }
  return out;
}
