/**
 * Kubernetes' rules for a pod template beyond its schema (InvalidField errors and warnings): containers,
 * ports and host ports, probes, resources, security contexts, volumes and volumeMounts, affinity, tolerations and topology spread
 * constraints, and the fields that mean nothing on Docker hosts (IGNORED_POD_FIELDS). Shared by every
 * workload kind; paths start at the template (["spec", "template"]).
 */
import type { Container, ContainerPort, LifecycleHandler, NodeSelectorTerm, PodAffinityTerm, PodTemplateSpec, PodSpec, Probe, SeccompProfile, Toleration, TopologySpreadConstraint } from "../api/generated/index.js";
import { capabilityName } from "../api/capabilities.js";
import { parseCpu, parseMemory } from "../api/quantity.js";
import { defaultPullPolicy } from "./image.js";
import { envIssues } from "./env.js";
import { INIT_ANNOTATION } from "./annotations.js";
import { fieldError, showValue, type Issue } from "./issue.js";
import type { PathSegment } from "./paths.js";
import { LABEL_VALUE, QUALIFIED_NAME } from "./schema.js";
import { selectorIssues } from "./selector.js";

type Path = readonly PathSegment[];

const QUALIFIED = new RegExp(QUALIFIED_NAME);
const LABEL = new RegExp(LABEL_VALUE);

/**
 * Why an environment value with a NUL byte is refused; messages about one name the field, never the value
 * (env values carry tokens and passwords).
 */
export const NUL_IN_ENV = "no process environment can hold one (Docker's runtime refuses to start such a container)";

/** The probes a container may have, in the order they are checked. */
const PROBES = ["readinessProbe", "livenessProbe", "startupProbe"] as const;

/**
 * A field that means nothing on Docker hosts: the values that ask for what coxswain does anyway (Kubernetes'
 * default, which `kubectl get -o yaml` writes out; "any" when the schema admits no other), and why any other
 * value is ignored.
 */
interface IgnoredField {
  readonly quiet: readonly unknown[] | "any";
  readonly why: string;
}

const NO_API = "coxswain serves no Kubernetes API, so a pod needs no identity for it and no token is mounted";
const NO_TERMINATION_MESSAGE = "coxswain reads no termination message; it reports a container's exit code";

/**
 * The pod fields (spec.template.spec) coxswain accepts and ignores. A quiet value passes without a word,
 * any other is a warning; either way the field is dropped when the template is defaulted, so it makes no
 * revision (and no rollout) of its own. restartPolicy passes here whatever its value: a workload that keeps
 * pods running must say Always (workload.ts); a Job and a bare Pod keep OnFailure or Never (their defaults,
 * job.ts applyJobDefaults and workload.ts applyPodDefaults, put it back).
 */
const IGNORED_POD_FIELDS: Readonly<Record<string, IgnoredField>> = Object.freeze({
  automountServiceAccountToken: { quiet: [false], why: NO_API },
  dnsPolicy: {
    quiet: ["ClusterFirst", "ClusterFirstWithHostNet"],
    why: "a pod finds its Services by the names coxswain writes to its hosts file and every other name through the node's resolver, whatever the policy",
  },
  enableServiceLinks: { quiet: [true], why: "coxswain gives every pod the variables of its namespace's Services (<NAME>_SERVICE_HOST, …)" },
  restartPolicy: { quiet: "any", why: "" },
  schedulerName: { quiet: ["default-scheduler"], why: "coxswain's own scheduler (kube-scheduler's filters and scores) places every pod" },
  serviceAccount: { quiet: ["default"], why: NO_API },
  serviceAccountName: { quiet: ["default"], why: NO_API },
});

/** The container fields (containers[]) coxswain accepts and ignores, as IGNORED_POD_FIELDS. */
const IGNORED_CONTAINER_FIELDS: Readonly<Record<string, IgnoredField>> = Object.freeze({
  terminationMessagePath: { quiet: ["/dev/termination-log"], why: NO_TERMINATION_MESSAGE },
  terminationMessagePolicy: { quiet: ["File"], why: NO_TERMINATION_MESSAGE },
});

/** Warnings for the ignored fields of one object (a pod spec or a container) at `path`. */
function ignoredFieldIssues(obj: object, fields: Readonly<Record<string, IgnoredField>>, path: Path): Issue[] {
  const issues: Issue[] = [];
  for (const [field, value] of Object.entries(obj)) {
    const rule = fields[field];
    if (!rule || rule.quiet === "any" || rule.quiet.includes(value)) continue;
    issues.push({ code: "InvalidField", severity: "warning", path: [...path, field], at: "value", message: `${showValue(value)} is ignored: ${rule.why}` });
  }
  return issues;
}

/**
 * Drops the ignored fields of a template (see IGNORED_POD_FIELDS), in place, an imagePullPolicy equal to its
 * default (manifest/image.ts), and empty securityContexts ({}, as kubectl and Helm charts write them: they ask
 * for nothing, and were dropped before coxswain honoured security settings, so keeping them would give
 * unchanged templates a new revision); run when defaults are applied.
 */
export function dropIgnoredPodFields(template: PodTemplateSpec): void {
  const spec = template.spec as unknown as Record<string, unknown>;
  for (const field of Object.keys(IGNORED_POD_FIELDS)) delete spec[field];
  if (isEmpty(template.spec.securityContext)) delete template.spec.securityContext;
  for (const c of [...(template.spec.initContainers ?? []), ...template.spec.containers]) {
    const container = c as unknown as Record<string, unknown>;
    for (const field of Object.keys(IGNORED_CONTAINER_FIELDS)) delete container[field];
    if (isEmpty(c.securityContext)) delete c.securityContext;
    // Kubernetes' default, written out or not, is the same template (and revision).
    if (c.imagePullPolicy !== undefined && c.imagePullPolicy === defaultPullPolicy(c.image)) delete c.imagePullPolicy;
  }
}

function isEmpty(obj: object | undefined): boolean {
  return obj !== undefined && Object.keys(obj).length === 0;
}

/** Rules for a pod template at `base` (the template's path inside the object). */
export function podTemplateIssues(template: PodTemplateSpec, base: Path): Issue[] {
  const spec = template.spec;
  const specPath = [...base, "spec"];
  const issues: Issue[] = [];
  const init = template.metadata?.annotations?.[INIT_ANNOTATION];
  if (init !== undefined && init !== "true" && init !== "false") {
    issues.push(
      fieldError(
        "InvalidField",
        [...base, "metadata", "annotations", INIT_ANNOTATION],
        `must be "true" (the default: run under the engine's init, which forwards signals) or "false" (the command is PID 1 itself) (got ${showValue(init)})`,
      ),
    );
  }
  const noDns = spec.dnsPolicy === "None";
  if (noDns) {
    issues.push(
      fieldError(
        "InvalidField",
        [...specPath, "dnsPolicy"],
        "dnsPolicy None is not supported by coxswain: it takes the pod's resolver settings from dnsConfig, and a pod resolves names through the node's resolver, plus its Services' names in its hosts file",
      ),
    );
  }
  issues.push(...ignoredFieldIssues(spec, IGNORED_POD_FIELDS, specPath).filter((i) => !(noDns && i.path.at(-1) === "dnsPolicy")));
  for (const { c, path } of podContainers(spec, specPath)) issues.push(...ignoredFieldIssues(c, IGNORED_CONTAINER_FIELDS, path));
  const all = [...(spec.initContainers ?? []), ...spec.containers];
  issues.push(...containerIssues(spec.containers, [...specPath, "containers"], all));
  issues.push(...initContainerIssues(spec, specPath, all));
  issues.push(...securityIssues(spec, specPath));
  issues.push(...volumeIssues(spec, specPath));
  const affinity = spec.affinity;
  if (affinity) issues.push(...affinityIssues(affinity, [...specPath, "affinity"]));
  for (const [i, t] of (spec.tolerations ?? []).entries()) issues.push(...tolerationIssues(t, [...specPath, "tolerations", i]));
  issues.push(...spreadIssues(spec.topologySpreadConstraints ?? [], [...specPath, "topologySpreadConstraints"]));
  return issues;
}

/**
 * Volumes and volumeMounts: unique volume names, one source per volume, items' paths and subPaths relative
 * without "..", unique item paths per volume, a Memory emptyDir's sizeLimit; each mount names a volume of
 * the pod at an absolute mountPath (not "/", no ".."), once per path in a container, and no subPath of a
 * Memory emptyDir (runtime/docker/volumes.ts: subPath is a link into a mount, and a tmpfs starts empty).
 */
function volumeIssues(spec: PodTemplateSpec["spec"], specPath: Path): Issue[] {
  const issues: Issue[] = [];
  const volumes = new Map<string, number>();
  (spec.volumes ?? []).forEach((v, vi) => {
    const vPath = [...specPath, "volumes", vi];
    const first = volumes.get(v.name);
    if (first !== undefined) {
      issues.push(fieldError("InvalidField", [...vPath, "name"], `duplicate volume name ${showValue(v.name)} (first used by volumes[${first}]); names must be unique in a pod`));
    } else volumes.set(v.name, vi);
    const sources = (["configMap", "secret", "emptyDir", "persistentVolumeClaim", "hostPath"] as const).filter((k) => v[k] !== undefined);
    if (sources.length > 1) {
      issues.push(fieldError("InvalidField", vPath, `must have at most one volume source, configMap, secret, emptyDir, persistentVolumeClaim or hostPath (got ${sources.join(" and ")})`));
    }
    if (v.hostPath) {
      const hp = v.hostPath;
      if (hp.path.split("/").some((p) => p === "." || p === "..")) {
        issues.push(fieldError("InvalidField", [...vPath, "hostPath", "path"], `must be an absolute path without "." or ".." elements (got ${showValue(hp.path)})`));
      }
      const refused = hp.type !== undefined ? UNSUPPORTED_HOST_PATH_TYPES[hp.type] : undefined;
      if (refused) issues.push(fieldError("SchemaViolation", [...vPath, "hostPath", "type"], `${showValue(hp.type)} is not supported by coxswain: ${refused}`));
    }
    const items = v.configMap?.items ?? v.secret?.items;
    const source = v.configMap ? "configMap" : "secret";
    const paths = new Map<string, number>();
    (items ?? []).forEach((item, ii) => {
      const iPath = [...vPath, source, "items", ii, "path"];
      const problem = relativePathProblem(item.path);
      if (problem) issues.push(fieldError("InvalidField", iPath, `${problem} (got ${showValue(item.path)})`));
      const firstPath = paths.get(item.path);
      if (firstPath !== undefined) {
        issues.push(fieldError("InvalidField", iPath, `duplicate path ${showValue(item.path)} (first used by items[${firstPath}]); each file of a volume has one key`));
      } else paths.set(item.path, ii);
    });
    const size = v.emptyDir?.sizeLimit;
    if (size !== undefined) {
      quantityOrIssue("memory", size, [...vPath, "emptyDir", "sizeLimit"], issues);
      if (v.emptyDir?.medium !== "Memory") {
        issues.push({
          code: "InvalidField",
          severity: "warning",
          path: [...vPath, "emptyDir", "sizeLimit"],
          at: "value",
          message: `${showValue(size)} is ignored: coxswain limits the size of a Memory emptyDir (its tmpfs) only; a disk emptyDir is a Docker volume without a size`,
        });
      }
    }
  });
  for (const { c, path: cPath } of podContainers(spec, specPath)) {
    const mountPaths = new Map<string, number>();
    (c.volumeMounts ?? []).forEach((m, mi) => {
      const mPath = [...cPath, "volumeMounts", mi];
      if (!volumes.has(m.name)) {
        const names = [...volumes.keys()].sort();
        issues.push(fieldError("InvalidField", [...mPath, "name"], `names no volume of the pod (volumes: ${names.length > 0 ? names.join(", ") : "none"}): expected the name of an entry of spec.volumes`));
      }
      const mountPath = m.mountPath.replace(/(.)\/+$/, "$1");
      if (!mountPath.startsWith("/") || mountPath === "/" || mountPath.split("/").includes("..")) {
        issues.push(fieldError("InvalidField", [...mPath, "mountPath"], `must be an absolute path other than "/" without a ".." element (got ${showValue(m.mountPath)})`));
      }
      const first = mountPaths.get(mountPath);
      if (first !== undefined) {
        issues.push(fieldError("InvalidField", [...mPath, "mountPath"], `duplicate mountPath ${showValue(m.mountPath)} (first used by volumeMounts[${first}]); a path can hold one mount`));
      } else mountPaths.set(mountPath, mi);
      if (m.subPath !== undefined && m.subPath !== "") {
        const problem = relativePathProblem(m.subPath);
        if (problem) issues.push(fieldError("InvalidField", [...mPath, "subPath"], `${problem} (got ${showValue(m.subPath)})`));
        const volume = (spec.volumes ?? []).find((v) => v.name === m.name);
        if (volume?.hostPath) {
          issues.push(fieldError("InvalidField", [...mPath, "subPath"], "a subPath of a hostPath volume is not supported by coxswain: name the sub-directory in hostPath.path instead"));
        }
        if (volume?.emptyDir?.medium === "Memory") {
          issues.push(
            fieldError("InvalidField", [...mPath, "subPath"], "a subPath of a Memory emptyDir is not supported by coxswain: its tmpfs is mounted empty, so no sub-directory exists to mount; mount the volume itself"),
          );
        }
      }
    });
  }
  return issues;
}

/**
 * The hostPath types coxswain refuses, with why: a Docker bind mount creates a missing source as a
 * directory only, and the engine cannot check what kind of file an existing source is.
 */
const UNSUPPORTED_HOST_PATH_TYPES: Readonly<Record<string, string>> = {
  FileOrCreate: "a Docker bind mount creates a missing source as a directory, never as a file; create the file on the node and use File",
  Socket: 'the engine cannot check that a bind source is a socket; use type "" to mount the path unchecked',
  CharDevice: 'the engine cannot check that a bind source is a character device; use type "" to mount the path unchecked',
  BlockDevice: 'the engine cannot check that a bind source is a block device; use type "" to mount the path unchecked',
};

/** Why `path` is not a relative path inside a volume (as Kubernetes checks items' paths and subPaths), or undefined. */
function relativePathProblem(path: string): string | undefined {
  if (path.startsWith("/")) return "must be a relative path inside the volume";
  if (path.split("/").includes("..")) return 'must not contain a ".." element';
  return undefined;
}

/** The pod's init containers, then its containers, each with its path. */
function podContainers(spec: PodSpec, specPath: Path): { c: Container; path: Path }[] {
  return [...(spec.initContainers ?? []).map((c, i) => ({ c, path: [...specPath, "initContainers", i] })), ...spec.containers.map((c, i) => ({ c, path: [...specPath, "containers", i] }))];
}

/**
 * Init containers: the rules of containers (env, resources), names unique among all the pod's containers, and
 * what Kubernetes refuses on an init container (probes, lifecycle hooks); ports too, which would take host
 * ports from the node for a program that serves nothing (it runs before the pod is ready).
 */
function initContainerIssues(spec: PodSpec, specPath: Path, all: readonly Container[]): Issue[] {
  const inits = spec.initContainers ?? [];
  if (inits.length === 0) return [];
  const path = [...specPath, "initContainers"];
  const issues = containerIssues(inits, path, all).filter((i) => !(i.path.length === path.length + 2 && i.path.at(-1) === "name"));
  const names = new Map<string, string>();
  for (const [ci, c] of spec.containers.entries()) names.set(c.name, `containers[${ci}]`);
  inits.forEach((c, ci) => {
    const cPath = [...path, ci];
    const first = names.get(c.name);
    if (first !== undefined) {
      issues.push(fieldError("InvalidField", [...cPath, "name"], `duplicate container name ${showValue(c.name)} (first used by ${first}); names must be unique among a pod's containers and init containers`));
    } else names.set(c.name, `initContainers[${ci}]`);
    for (const field of ["readinessProbe", "livenessProbe", "startupProbe", "lifecycle"] as const) {
      if (c[field] !== undefined) {
        issues.push(
          fieldError("InvalidField", [...cPath, field], `must not be set on an init container, as in Kubernetes: it runs to completion before the pod's containers start, and is never ready or restarted for health`),
        );
      }
    }
    if (c.ports?.length) {
      issues.push(fieldError("InvalidField", [...cPath, "ports"], "must not be set on an init container in coxswain: it runs before the pod serves anything, and a port would hold a host port of the node"));
    }
  });
  return issues;
}

/** Rules of each of `containers` at `path`; `all` is every container of the pod (env references name them). */
function containerIssues(containers: readonly Container[], path: Path, all: readonly Container[]): Issue[] {
  const issues: Issue[] = [];
  const containerNames = new Map<string, number>();
  const portNames = new Map<string, string>();
  const portNumbers = new Map<string, string>();
  const hostPorts = new Map<string, string>();
  containers.forEach((c, ci) => {
    const cPath = [...path, ci];
    const firstC = containerNames.get(c.name);
    if (firstC !== undefined) {
      issues.push(fieldError("InvalidField", [...cPath, "name"], `duplicate container name ${showValue(c.name)} (first used by containers[${firstC}]); names must be unique in a pod`));
    } else containerNames.set(c.name, ci);

    (c.ports ?? []).forEach((p, pi) => {
      const pPath = [...cPath, "ports", pi];
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
        issues.push(fieldError("InvalidField", [...pPath, "containerPort"], `duplicate containerPort ${p.containerPort}/${protocol} (first declared by ${first}); each port and protocol may appear once in a pod`));
      } else portNumbers.set(id, where);
      if (p.hostPort !== undefined) {
        const hid = `${protocol}/${p.hostPort}`;
        const firstHost = hostPorts.get(hid);
        if (firstHost !== undefined) {
          issues.push(fieldError("InvalidField", [...pPath, "hostPort"], `duplicate hostPort ${p.hostPort}/${protocol} (first declared by ${firstHost}); a host port can be used once per pod, as in Kubernetes`));
        } else hostPorts.set(hid, where);
      }
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
      if (e.value?.includes("\u0000")) {
        issues.push(fieldError("InvalidField", [...cPath, "env", ei, "value"], `must not contain a NUL byte: ${NUL_IN_ENV}; the value is not shown`));
      }
    });

    issues.push(...envIssues(c, all, cPath));

    for (const kind of PROBES) {
      const probe = c[kind];
      if (probe) issues.push(...probeIssues(c, probe, kind, [...cPath, kind]));
    }
    for (const hook of ["postStart", "preStop"] as const) {
      const handler = c.lifecycle?.[hook];
      if (handler) issues.push(...hookIssues(c, handler, [...cPath, "lifecycle", hook]));
    }
    issues.push(...resourceIssues(c, [...cPath, "resources"]));
  });
  return issues;
}

function probeIssues(c: Container, probe: Probe, kind: (typeof PROBES)[number], path: Path): Issue[] {
  const issues: Issue[] = [];
  if (kind !== "readinessProbe" && probe.successThreshold !== undefined && probe.successThreshold !== 1) {
    issues.push(fieldError("InvalidField", [...path, "successThreshold"], `must be 1 for a ${kind}, as in Kubernetes (got ${probe.successThreshold})`));
  }
  const handlers = (["httpGet", "tcpSocket", "grpc", "exec"] as const).filter((h) => probe[h] !== undefined);
  if (handlers.length !== 1) {
    const got = handlers.length === 0 ? "none" : handlers.join(" and ");
    issues.push(fieldError("InvalidField", path, `must have exactly one handler, httpGet, tcpSocket, grpc or exec (got ${got})`));
    return issues;
  }
  const handler = handlers[0]!;
  if (handler === "exec") return issues;
  issues.push(...declaredPortIssues(c, probe[handler]!.port, [...path, handler, "port"], "coxswain assigns host ports, so it can only probe a port the container declares"));
  return issues;
}

/** A postStart or preStop hook: exactly one handler (exec, httpGet or sleep); an httpGet port the container declares. */
function hookIssues(c: Container, hook: LifecycleHandler, path: Path): Issue[] {
  const handlers = (["exec", "httpGet", "sleep"] as const).filter((h) => hook[h] !== undefined);
  if (handlers.length !== 1) {
    const got = handlers.length === 0 ? "none" : handlers.join(" and ");
    return [fieldError("InvalidField", path, `must have exactly one handler, exec, httpGet or sleep (got ${got})`)];
  }
  if (!hook.httpGet) return [];
  return declaredPortIssues(c, hook.httpGet.port, [...path, "httpGet", "port"], "coxswain assigns host ports, so it can only call a port the container declares");
}

/** A port given by number or name must be one the container declares (TCP for numbers); `why` ends the message. */
function declaredPortIssues(c: Container, port: number | string, portPath: Path, why: string): Issue[] {
  const issues: Issue[] = [];
  const ports: ContainerPort[] = c.ports ?? [];
  if (typeof port === "string") {
    if (ports.some((p) => p.name === port)) return issues;
    const names = ports.flatMap((p) => (p.name === undefined ? [] : [p.name])).sort();
    issues.push(fieldError("InvalidField", portPath, `port ${showValue(port)} is not a port name of container ${showValue(c.name)} (declared: ${names.length > 0 ? names.join(", ") : "none"}); ${why}`));
    return issues;
  }
  if (ports.some((p) => p.containerPort === port && (p.protocol ?? "TCP") === "TCP")) return issues;
  const numbers = ports
    .filter((p) => (p.protocol ?? "TCP") === "TCP")
    .map((p) => p.containerPort)
    .sort((a, b) => a - b);
  issues.push(fieldError("InvalidField", portPath, `port ${showValue(port)} is not a TCP containerPort of container ${showValue(c.name)} (declared: ${numbers.length > 0 ? numbers.join(", ") : "none"}); ${why}`));
  return issues;
}

/**
 * Kubernetes' securityContext rules beyond the schema, plus what coxswain cannot do: runAsNonRoot with
 * runAsUser 0 (the kubelet refuses such a container at start; coxswain says so before anything is applied),
 * a Localhost seccomp profile, localhostProfile without it, allowPrivilegeEscalation false with privileged
 * or an added SYS_ADMIN, capability names Linux does not have.
 */
function securityIssues(spec: PodSpec, specPath: Path): Issue[] {
  const issues: Issue[] = [];
  const pod = spec.securityContext;
  const podPath = [...specPath, "securityContext"];
  if (pod?.seccompProfile) issues.push(...seccompIssues(pod.seccompProfile, [...podPath, "seccompProfile"]));
  for (const { c, path: cPath } of podContainers(spec, specPath)) {
    const own = c.securityContext;
    const path = [...cPath, "securityContext"];
    const nonRoot = own?.runAsNonRoot ?? pod?.runAsNonRoot;
    const user = own?.runAsUser ?? pod?.runAsUser;
    if (nonRoot === true && user === 0) {
      const at = own?.runAsUser !== undefined ? [...path, "runAsUser"] : own?.runAsNonRoot !== undefined ? [...path, "runAsNonRoot"] : [...podPath, "runAsUser"];
      issues.push(fieldError("InvalidField", at, `container ${showValue(c.name)} has runAsNonRoot and runAsUser 0 (root): it could never start; give a non-zero runAsUser or drop runAsNonRoot`));
    }
    if (!own) continue;
    if (own.seccompProfile) issues.push(...seccompIssues(own.seccompProfile, [...path, "seccompProfile"]));
    for (const which of ["add", "drop"] as const) {
      (own.capabilities?.[which] ?? []).forEach((name, i) => {
        if (capabilityName(name) === undefined) {
          issues.push(fieldError("InvalidField", [...path, "capabilities", which, i], `${showValue(name)} is not a Linux capability; expected a name like NET_ADMIN or CAP_NET_ADMIN, or ALL`));
        }
      });
    }
    if (own.allowPrivilegeEscalation === false) {
      if (own.privileged === true) {
        issues.push(
          fieldError("InvalidField", [...path, "allowPrivilegeEscalation"], "cannot set allowPrivilegeEscalation to false and privileged to true (as in Kubernetes): a privileged container has every privilege"),
        );
      }
      const sysAdmin = (own.capabilities?.add ?? []).findIndex((n) => capabilityName(n) === "SYS_ADMIN");
      if (sysAdmin >= 0) {
        issues.push(fieldError("InvalidField", [...path, "capabilities", "add", sysAdmin], "cannot set allowPrivilegeEscalation to false and add CAP_SYS_ADMIN (as in Kubernetes): SYS_ADMIN gives the privileges back"));
      }
    }
  }
  return issues;
}

function seccompIssues(profile: SeccompProfile, path: Path): Issue[] {
  if (profile.type === "Localhost") {
    return [
      fieldError(
        "InvalidField",
        [...path, "type"],
        "Localhost is not supported by coxswain: Docker takes a profile's JSON with the create call, and coxswain reads no profile files on nodes; use RuntimeDefault (the engine's default profile) or Unconfined",
      ),
    ];
  }
  if (profile.localhostProfile !== undefined) {
    return [fieldError("InvalidField", [...path, "localhostProfile"], `can only be set when type is Localhost (as in Kubernetes) (type is ${profile.type})`)];
  }
  return [];
}

/** Parses a quantity the schema admitted; reports (and returns undefined for) negative, malformed or too large (2^63 and above) numbers. */
export function quantityOrIssue(res: "cpu" | "memory", q: number | string, path: Path, issues: Issue[]): number | undefined {
  try {
    return res === "cpu" ? parseCpu(q) : parseMemory(q);
  } catch {
    issues.push(
      fieldError(
        "InvalidField",
        path,
        `must be a non-negative ${res === "cpu" ? "CPU quantity like 250m, 0.5 or 2" : "memory quantity like 128Mi, 1G or 1048576"}, below 2^63 ${res === "cpu" ? "millicores" : "bytes"} (got ${showValue(q)})`,
      ),
    );
    return undefined;
  }
}

function resourceIssues(c: Container, path: Path): Issue[] {
  const issues: Issue[] = [];
  const parsed: Record<string, Record<string, number>> = { requests: {}, limits: {} };
  for (const group of ["requests", "limits"] as const) {
    const list = c.resources?.[group];
    if (!list) continue;
    for (const res of ["cpu", "memory"] as const) {
      const q = list[res];
      if (q === undefined) continue;
      const n = quantityOrIssue(res, q, [...path, group, res], issues);
      if (n !== undefined) parsed[group]![res] = n;
    }
  }
  for (const res of ["cpu", "memory"] as const) {
    const req = parsed.requests![res];
    const lim = parsed.limits![res];
    if (req !== undefined && lim !== undefined && req > lim) {
      issues.push(fieldError("InvalidField", [...path, "requests", res], `must be less than or equal to the ${res} limit ${showValue(c.resources?.limits?.[res])} (got ${showValue(c.resources?.requests?.[res])})`));
    }
  }
  const limits = c.resources?.limits ?? {};
  for (const group of ["requests", "limits"] as const) {
    for (const [name, q] of Object.entries(c.resources?.[group] ?? {})) {
      if (q === undefined || name === "cpu" || name === "memory") continue;
      const at = [...path, group, name];
      if (name === "ephemeral-storage") {
        if (quantityOrIssue("memory", q, at, issues) !== undefined) {
          issues.push({ code: "InvalidField", severity: "warning", path: at, at: "value", message: `${showValue(q)} is not enforced: coxswain neither limits a container's disk use nor places pods by it` });
        }
      } else if (name.startsWith("hugepages-")) {
        issues.push(fieldError("InvalidField", at, `${name} is not supported by coxswain: it reserves no huge pages on a node nor gives them to a container`));
      } else if (/(^|\.)kubernetes\.io\//.test(name)) {
        issues.push(
          fieldError(
            "InvalidField",
            at,
            `must not be in the kubernetes.io domain, which Kubernetes keeps for its own resources; an extended resource is named by your own domain, e.g. example.com/dongle (got ${showValue(name)})`,
          ),
        );
      } else if (!/^[0-9]+$/.test(String(q))) {
        issues.push(fieldError("InvalidField", at, `must be a whole number: an extended resource has no fractions, as in Kubernetes (got ${showValue(q)})`));
      } else if (group === "requests" && limits[name] === undefined) {
        issues.push(fieldError("InvalidField", at, `needs a limit too, as in Kubernetes: an extended resource cannot be overcommitted; set limits.${name} to the same number`));
      } else if (group === "requests" && String(limits[name]) !== String(q)) {
        issues.push(fieldError("InvalidField", at, `must equal limits.${name} ${showValue(limits[name])}, as in Kubernetes: an extended resource cannot be overcommitted (got ${showValue(q)})`));
      }
    }
  }
  return issues;
}

function affinityIssues(affinity: NonNullable<PodTemplateSpec["spec"]["affinity"]>, path: Path): Issue[] {
  const issues: Issue[] = [];
  const na = affinity.nodeAffinity;
  if (na) {
    const reqPath = [...path, "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution", "nodeSelectorTerms"];
    for (const [i, term] of (na.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms ?? []).entries()) issues.push(...nodeSelectorTermIssues(term, [...reqPath, i]));
    const prefPath = [...path, "nodeAffinity", "preferredDuringSchedulingIgnoredDuringExecution"];
    for (const [i, p] of (na.preferredDuringSchedulingIgnoredDuringExecution ?? []).entries()) issues.push(...nodeSelectorTermIssues(p.preference, [...prefPath, i, "preference"]));
  }
  for (const which of ["podAffinity", "podAntiAffinity"] as const) {
    const pa = affinity[which];
    if (!pa) continue;
    const reqPath = [...path, which, "requiredDuringSchedulingIgnoredDuringExecution"];
    for (const [i, t] of (pa.requiredDuringSchedulingIgnoredDuringExecution ?? []).entries()) issues.push(...podAffinityTermIssues(t, [...reqPath, i]));
    const prefPath = [...path, which, "preferredDuringSchedulingIgnoredDuringExecution"];
    for (const [i, w] of (pa.preferredDuringSchedulingIgnoredDuringExecution ?? []).entries()) issues.push(...podAffinityTermIssues(w.podAffinityTerm, [...prefPath, i, "podAffinityTerm"]));
  }
  return issues;
}

/**
 * Kubernetes' ValidateNodeSelectorRequirement: In/NotIn need values, Exists/DoesNotExist take none, Gt/Lt
 * take exactly one. coxswain also requires Gt/Lt's value to be an integer (Kubernetes accepts anything and
 * the term then never matches) and warns about a term without expressions (it matches no node).
 */
function nodeSelectorTermIssues(term: NodeSelectorTerm, path: Path): Issue[] {
  const issues: Issue[] = [];
  const expressions = term.matchExpressions ?? [];
  if (expressions.length === 0) {
    issues.push({ code: "InvalidField", severity: "warning", path: [...path], at: "value", message: "a term without matchExpressions matches no node (as in Kubernetes)" });
  }
  expressions.forEach((req, i) => {
    const at = [...path, "matchExpressions", i, "values"];
    const values = req.values ?? [];
    switch (req.operator) {
      case "In":
      case "NotIn":
        if (values.length === 0) issues.push(fieldError("InvalidField", at, "must be specified when `operator` is 'In' or 'NotIn' (as in Kubernetes): give at least one value"));
        break;
      case "Exists":
      case "DoesNotExist":
        if (values.length > 0) issues.push(fieldError("InvalidField", at, "may not be specified when `operator` is 'Exists' or 'DoesNotExist' (as in Kubernetes): remove the values"));
        break;
      case "Gt":
      case "Lt":
        if (values.length !== 1) {
          issues.push(fieldError("InvalidField", at, `must be specified single value when \`operator\` is 'Lt' or 'Gt' (as in Kubernetes) (got ${values.length} values)`));
        } else if (!/^[+-]?[0-9]+$/.test(values[0]!)) {
          issues.push(fieldError("InvalidField", [...at, 0], `must be an integer for operator ${req.operator}: the node label's value is compared as a number (got ${showValue(values[0])})`));
        }
        break;
    }
  });
  return issues;
}

function podAffinityTermIssues(term: PodAffinityTerm, path: Path): Issue[] {
  return term.labelSelector ? selectorIssues(term.labelSelector, [...path, "labelSelector"]) : [];
}

/** Kubernetes' ValidateTolerations (operator defaults to Equal before this runs). */
function tolerationIssues(t: Toleration, path: Path): Issue[] {
  const issues: Issue[] = [];
  const key = t.key ?? "";
  if (key !== "" && !QUALIFIED.test(key)) {
    issues.push(fieldError("InvalidField", [...path, "key"], `must be a qualified name like "dedicated" or "example.com/gpu" (got ${showValue(key)})`));
  }
  if (key === "" && t.operator !== "Exists") {
    issues.push(fieldError("InvalidField", [...path, "operator"], 'operator must be Exists when `key` is empty, which means "match all values and all keys" (as in Kubernetes)'));
  }
  if (t.tolerationSeconds !== undefined && t.effect !== "NoExecute") {
    issues.push(fieldError("InvalidField", [...path, "effect"], `effect must be 'NoExecute' when \`tolerationSeconds\` is set (as in Kubernetes) (got ${t.effect === undefined ? "none" : showValue(t.effect)})`));
  }
  const value = t.value ?? "";
  if (t.operator === "Exists" && value !== "") {
    issues.push(fieldError("InvalidField", [...path, "value"], "value must be empty when `operator` is 'Exists' (as in Kubernetes)"));
  } else if (t.operator !== "Exists" && (value.length > 63 || !LABEL.test(value))) {
    issues.push(fieldError("InvalidField", [...path, "value"], `must be a label value (at most 63 letters, digits, '-', '_' and '.', starting and ending with a letter or digit, or empty) (got ${showValue(value)})`));
  }
  return issues;
}

/** Kubernetes' ValidateTopologySpreadConstraints beyond the schema: minDomains only with DoNotSchedule, no repeated pair. */
function spreadIssues(constraints: readonly TopologySpreadConstraint[], path: Path): Issue[] {
  const issues: Issue[] = [];
  const seen = new Map<string, number>();
  constraints.forEach((c, i) => {
    const cPath = [...path, i];
    if (c.minDomains !== undefined && c.whenUnsatisfiable !== "DoNotSchedule") {
      issues.push(fieldError("InvalidField", [...cPath, "minDomains"], `can only use minDomains if whenUnsatisfiable=DoNotSchedule, not ${c.whenUnsatisfiable} (as in Kubernetes)`));
    }
    const id = `${c.topologyKey}\u0000${c.whenUnsatisfiable}`;
    const first = seen.get(id);
    if (first !== undefined) {
      issues.push(
        fieldError(
          "InvalidField",
          [...cPath, "topologyKey"],
          `duplicate {${c.topologyKey}, ${c.whenUnsatisfiable}} (first at topologySpreadConstraints[${first}]); each topologyKey and whenUnsatisfiable pair may appear once, as in Kubernetes`,
        ),
      );
    } else seen.set(id, i);
    if (c.labelSelector) issues.push(...selectorIssues(c.labelSelector, [...cPath, "labelSelector"]));
  });
  return issues;
}
