/**
 * Kubernetes' rules for a container's env[].valueFrom and envFrom beyond the schema (InvalidField): one source
 * each, fieldRef paths coxswain can give, resourceFieldRef containers and divisors, envFrom prefixes. Whether
 * the ConfigMaps and Secrets they name exist is for buildGraph (graph/pod-references.ts): it needs the commit.
 */
import type { Container } from "../api/generated/index.js";
import { fieldError, showValue, type Issue } from "./issue.js";
import type { PathSegment } from "./paths.js";
import { QUALIFIED_NAME } from "./schema.js";

type Path = readonly PathSegment[];

const QUALIFIED = new RegExp(QUALIFIED_NAME);

/** The pod fields that exist only once a pod is placed (fieldRef.fieldPath); resolved for each pod. */
export type PodField = "metadata.name" | "spec.nodeName" | "status.hostIP" | "status.hostIPs" | "status.podIP" | "status.podIPs";

/** The fieldRef paths resolved for each pod (PodField), in a fixed order. */
export const POD_FIELDS: readonly PodField[] = ["metadata.name", "spec.nodeName", "status.hostIP", "status.hostIPs", "status.podIP", "status.podIPs"];

/** The fieldRef paths coxswain resolves (Kubernetes' env downward API without metadata.uid and spec.serviceAccountName). */
const ENV_FIELD_PATHS: readonly string[] = [...POD_FIELDS, "metadata.namespace", "metadata.labels['<key>']", "metadata.annotations['<key>']"].sort();

/** Kubernetes' IsEnvVarName: what a variable name made by envFrom (prefix + key) must be; others are skipped. */
export const ENV_VAR_NAME = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;

/** The divisors Kubernetes allows for a resourceFieldRef, by resource. */
const RESOURCE_DIVISORS: Readonly<Record<"cpu" | "memory", readonly string[]>> = Object.freeze({
  cpu: ["1m", "1"],
  memory: ["1", "1k", "1M", "1G", "1T", "1P", "1E", "1Ki", "1Mi", "1Gi", "1Ti", "1Pi", "1Ei"],
});

/** A fieldRef path to a label or annotation ("metadata.labels['app']"): which map and key; undefined otherwise. */
export function subscriptedField(path: string): { map: "labels" | "annotations"; key: string } | undefined {
  const m = /^metadata\.(labels|annotations)\['(.*)'\]$/.exec(path);
  return m ? { map: m[1] as "labels" | "annotations", key: m[2]! } : undefined;
}

const VALUE_SOURCES = ["configMapKeyRef", "secretKeyRef", "fieldRef", "resourceFieldRef"] as const;

/** Kubernetes' env fieldRef paths that mean nothing here, and why. */
const UNSUPPORTED_FIELDS: Readonly<Record<string, string>> = Object.freeze({
  "metadata.uid": "coxswain's pods have no uid; metadata.name is unique among the pods of the fleet",
  "spec.serviceAccountName": "coxswain serves no Kubernetes API, so a pod has no service account",
});

/** Rules for the env and envFrom of container `c` of a pod whose containers are `containers`, at `path` (the container's). */
export function envIssues(c: Container, containers: readonly Container[], path: Path): Issue[] {
  const issues: Issue[] = [];
  (c.env ?? []).forEach((e, ei) => {
    const from = e.valueFrom;
    if (!from) return;
    const at = [...path, "env", ei, "valueFrom"];
    const sources = VALUE_SOURCES.filter((s) => from[s] !== undefined);
    if (sources.length !== 1) {
      const got = sources.length === 0 ? "none" : sources.join(" and ");
      issues.push(fieldError("InvalidField", at, `must have exactly one of ${VALUE_SOURCES.join(", ")}, as in Kubernetes (got ${got})`));
    }
    if (e.value !== undefined && e.value !== "") {
      issues.push(fieldError("InvalidField", at, "may not be specified when `value` is not empty (as in Kubernetes): give value or valueFrom"));
    }
    if (from.fieldRef) {
      const fieldPath = from.fieldRef.fieldPath;
      const sub = subscriptedField(fieldPath);
      const where = [...at, "fieldRef", "fieldPath"];
      if (sub && !QUALIFIED.test(sub.key)) {
        issues.push(fieldError("InvalidField", where, `must name a ${sub.map === "labels" ? "label" : "annotation"} key that is a qualified name like "app" or "example.com/tier" (got ${showValue(sub.key)})`));
      } else if (!sub && !ENV_FIELD_PATHS.includes(fieldPath)) {
        const why = UNSUPPORTED_FIELDS[fieldPath];
        issues.push(fieldError("InvalidField", where, why !== undefined ? `${fieldPath} is not supported by coxswain: ${why}` : `must be one of ${ENV_FIELD_PATHS.join(", ")} (got ${showValue(fieldPath)})`));
      }
    }
    const res = from.resourceFieldRef;
    if (res) {
      if (res.containerName !== undefined && !containers.some((x) => x.name === res.containerName)) {
        const names = containers
          .map((x) => x.name)
          .sort()
          .join(", ");
        issues.push(fieldError("InvalidField", [...at, "resourceFieldRef", "containerName"], `must name a container of this pod (containers: ${names}) (got ${showValue(res.containerName)})`));
      }
      const resource = res.resource.endsWith("cpu") ? "cpu" : "memory";
      if (res.divisor !== undefined && !RESOURCE_DIVISORS[resource].includes(String(res.divisor))) {
        issues.push(fieldError("InvalidField", [...at, "resourceFieldRef", "divisor"], `must be one of ${RESOURCE_DIVISORS[resource].join(", ")} for ${resource}, as in Kubernetes (got ${showValue(res.divisor)})`));
      }
    }
  });
  (c.envFrom ?? []).forEach((s, si) => {
    const at = [...path, "envFrom", si];
    const sources = (["configMapRef", "secretRef"] as const).filter((k) => s[k] !== undefined);
    if (sources.length !== 1) {
      const got = sources.length === 0 ? "none" : sources.join(" and ");
      issues.push(fieldError("InvalidField", at, `must have exactly one of configMapRef, secretRef, as in Kubernetes (got ${got})`));
    }
    if (s.prefix !== undefined && s.prefix !== "" && !ENV_VAR_NAME.test(s.prefix)) {
      issues.push(fieldError("InvalidField", [...at, "prefix"], `must be a valid environment variable name: letters, digits, '_', '-' and '.', not starting with a digit (got ${showValue(s.prefix)})`));
    }
  });
  return issues;
}
