/**
 * Rules and defaults of the v1 Service kind beyond its schema (Kubernetes' ValidateService and
 * SetDefaults_Service, for the fields coxswain accepts). What is reported how (see also crds/service.yaml):
 * - errors (InvalidField): a Service coxswain could not serve as written — missing or clashing ports and
 *   names, a bad targetPort, a nodePort on a ClusterIP Service, headless NodePort/LoadBalancer, and values
 *   coxswain does not support (protocol UDP/SCTP, type ExternalName, externalTrafficPolicy or
 *   internalTrafficPolicy Local, ipFamilyPolicy RequireDualStack, allocateLoadBalancerNodePorts false);
 * - warnings (InvalidField), the field then dropped when defaults are applied: values that are ignored
 *   because coxswain does the same thing anyway or decides it itself — a concrete clusterIP, clusterIPs,
 *   ipFamilies, ipFamilyPolicy SingleStack/PreferDualStack, the traffic policies Cluster,
 *   allocateLoadBalancerNodePorts true, healthCheckNodePort — (what `kubectl get -o yaml` writes), and a
 *   sessionAffinityConfig without sessionAffinity ClientIP (Kubernetes drops it too);
 * - a warning for a Service that selects no pods (no selector): it would never have endpoints.
 * Rules that need other objects (nodePorts against Nodes and other Services, selectors against workloads)
 * live in graph/services.ts.
 */
import { isIP } from "node:net";
import type { Service } from "../api/objects.js";
import { fieldError, showValue, type Issue } from "./issue.js";
import type { PathSegment } from "./paths.js";

/** Kubernetes' default of sessionAffinityConfig.clientIP.timeoutSeconds (3 hours). */
export const DEFAULT_AFFINITY_TIMEOUT_SECONDS = 10800;

/** clusterIP of a headless Service. */
const HEADLESS = "None";

/** Kubernetes' DNS-1035 label, which a Service's name must be (it becomes a host name and a variable prefix). */
const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;

/** True when `name` is a DNS-1035 label (at most 63 characters): a valid Service name, as Kubernetes checks it. */
export function isServiceName(name: string): boolean {
  return name.length <= 63 && DNS1035_LABEL.test(name);
}

type Path = readonly PathSegment[];

/** The fields reported as warnings ("ignored") and dropped by applyServiceDefaults, when not an error. */
const IGNORED_FIELDS = ["clusterIPs", "ipFamilies", "ipFamilyPolicy", "externalTrafficPolicy", "internalTrafficPolicy", "allocateLoadBalancerNodePorts", "healthCheckNodePort"] as const;

/**
 * Why a port name (a targetPort, an Ingress backend's port) is not an IANA service name (Kubernetes'
 * IsValidPortName): at most 15 characters, lowercase letters, digits and '-', at least one letter, no '-'
 * at either end, no "--". Undefined when it is one.
 */
export function ianaServiceNameProblem(name: string): string | undefined {
  if (name.length === 0 || name.length > 15) return "must be 1 to 15 characters long";
  if (!/^[-a-z0-9]+$/.test(name)) return "must hold only lowercase letters, digits and '-'";
  if (!/[a-z]/.test(name)) return "must contain at least one letter (a number must be written without quotes)";
  if (name.startsWith("-") || name.endsWith("-")) return "must not begin or end with '-'";
  if (name.includes("--")) return "must not contain '--'";
  return undefined;
}

/** The clusterIP a Service asks for: clusterIP, else (omitted or "") clusterIPs[0], as Kubernetes defaults one from the other. */
function requestedClusterIP(svc: Service): string | undefined {
  return svc.spec.clusterIP || svc.spec.clusterIPs?.[0];
}

/** True when the Service is headless (clusterIP None, or clusterIPs ["None"] without clusterIP). */
export function isHeadless(svc: Service): boolean {
  return requestedClusterIP(svc) === HEADLESS;
}

/** Rules for a Service beyond its schema (see the file comment). Run before applyServiceDefaults. */
export function serviceIssues(svc: Service): Issue[] {
  const issues: Issue[] = [];
  const spec = svc.spec;
  const type = spec.type ?? "ClusterIP";
  const warn = (path: Path, message: string, at: Issue["at"] = "key"): void => {
    issues.push({ code: "InvalidField", severity: "warning", path: [...path], at, message });
  };
  const unsupported = (path: Path, what: string, why: string): void => {
    issues.push(fieldError("InvalidField", path, `${what} is not supported by coxswain: ${why}`));
  };

  const name = svc.metadata.name;
  if (!isServiceName(name)) {
    issues.push(
      fieldError(
        "InvalidField",
        ["metadata", "name"],
        `a Service name must be a DNS-1035 label, as in Kubernetes (it becomes a host name and an environment variable prefix): at most 63 lowercase letters, digits and '-', starting with a letter and ending with a letter or digit (got ${showValue(name)})`,
      ),
    );
  }

  if (type === "ExternalName") {
    unsupported(["spec", "type"], "type ExternalName", "coxswain serves no DNS aliases; point clients at the external name directly");
  }

  issues.push(...clusterIPIssues(svc, warn));
  const headless = isHeadless(svc);
  if (headless && (type === "NodePort" || type === "LoadBalancer")) {
    issues.push(fieldError("InvalidField", ["spec", "clusterIP"], `may not be "None" for a ${type} Service, as in Kubernetes: a headless Service has no proxy to listen on the nodes' ports`));
  }

  const ports = spec.ports ?? [];
  if (ports.length === 0 && !headless && type !== "ExternalName") {
    issues.push(fieldError("InvalidField", ["spec", "ports"], "must have at least one port, as in Kubernetes, unless the Service is headless (clusterIP: None)"));
  }
  const names = new Map<string, number>();
  const numbers = new Map<string, number>();
  const nodePorts = new Map<number, number>();
  ports.forEach((p, i) => {
    const path = ["spec", "ports", i];
    if (p.name === undefined) {
      if (ports.length > 1) issues.push(fieldError("InvalidField", [...path, "name"], `is required when a Service has more than one port, as in Kubernetes (port ${p.port})`));
    } else {
      const first = names.get(p.name);
      if (first !== undefined) issues.push(fieldError("InvalidField", [...path, "name"], `duplicate port name ${showValue(p.name)} (first used by ports[${first}]); port names must be unique in a Service`));
      else names.set(p.name, i);
    }
    const protocol = p.protocol ?? "TCP";
    if (protocol !== "TCP") unsupported([...path, "protocol"], `protocol ${protocol}`, "coxswain's Service proxy carries TCP only");
    const id = `${p.port}/${protocol}`;
    const firstNumber = numbers.get(id);
    if (firstNumber !== undefined) {
      issues.push(fieldError("InvalidField", [...path, "port"], `duplicate port ${p.port}/${protocol} (first declared by ports[${firstNumber}]); each port and protocol may appear once in a Service`));
    } else numbers.set(id, i);

    const target = p.targetPort;
    if (typeof target === "string") {
      const problem = ianaServiceNameProblem(target);
      if (problem) issues.push(fieldError("InvalidField", [...path, "targetPort"], `a targetPort name must be an IANA service name, as in Kubernetes: ${problem} (got ${showValue(target)})`));
    } else if (target !== undefined && !Number.isInteger(target)) {
      issues.push(fieldError("InvalidField", [...path, "targetPort"], `must be a whole port number from 1 to 65535 or a port name (got ${showValue(target)})`));
    }

    if (p.nodePort !== undefined) {
      if (type !== "NodePort" && type !== "LoadBalancer") {
        issues.push(fieldError("InvalidField", [...path, "nodePort"], `may only be set when type is NodePort or LoadBalancer, as in Kubernetes (type is ${type})`));
      } else {
        const firstNode = nodePorts.get(p.nodePort);
        if (firstNode !== undefined) issues.push(fieldError("InvalidField", [...path, "nodePort"], `duplicate nodePort ${p.nodePort} (first used by ports[${firstNode}]); a nodePort carries one Service port`));
        else nodePorts.set(p.nodePort, i);
      }
    }
  });

  if (Object.keys(spec.selector ?? {}).length === 0 && type !== "ExternalName") {
    warn(["spec", "selector"], "the Service has no selector, so it selects no pods and has no endpoints (coxswain has no Endpoints objects to list them by hand)", "value");
  }

  if (spec.sessionAffinityConfig !== undefined && spec.sessionAffinity !== "ClientIP") {
    warn(["spec", "sessionAffinityConfig"], `is ignored without sessionAffinity: ClientIP (sessionAffinity is ${spec.sessionAffinity ?? "None"}), as in Kubernetes`);
  }

  const everyNode = "every node's proxy forwards to every endpoint, wherever it runs";
  if (spec.externalTrafficPolicy === "Local") unsupported(["spec", "externalTrafficPolicy"], "externalTrafficPolicy Local", everyNode);
  else if (spec.externalTrafficPolicy !== undefined) warn(["spec", "externalTrafficPolicy"], `is ignored: Cluster is what coxswain does (${everyNode})`);
  if (spec.internalTrafficPolicy === "Local") unsupported(["spec", "internalTrafficPolicy"], "internalTrafficPolicy Local", everyNode);
  else if (spec.internalTrafficPolicy !== undefined) warn(["spec", "internalTrafficPolicy"], `is ignored: Cluster is what coxswain does (${everyNode})`);
  const families = "coxswain serves on the addresses its nodes have";
  if (spec.ipFamilyPolicy === "RequireDualStack") unsupported(["spec", "ipFamilyPolicy"], "ipFamilyPolicy RequireDualStack", families);
  else if (spec.ipFamilyPolicy !== undefined) warn(["spec", "ipFamilyPolicy"], `is ignored, as Kubernetes' API server sets it: ${families}`);
  if (spec.ipFamilies !== undefined) warn(["spec", "ipFamilies"], `is ignored, as Kubernetes' API server sets it: ${families}`);
  if (spec.allocateLoadBalancerNodePorts === false) unsupported(["spec", "allocateLoadBalancerNodePorts"], "allocateLoadBalancerNodePorts false", "a LoadBalancer Service is a NodePort Service on every node's address");
  else if (spec.allocateLoadBalancerNodePorts !== undefined)
    warn(["spec", "allocateLoadBalancerNodePorts"], "is ignored: coxswain always gives a LoadBalancer Service nodePorts (it is a NodePort Service on every node's address)");
  if (spec.healthCheckNodePort !== undefined) warn(["spec", "healthCheckNodePort"], "is ignored, as Kubernetes' API server sets it for externalTrafficPolicy Local, which coxswain does not support");
  return issues;
}

/** clusterIP: "None", "" or an IP address (a warning: coxswain assigns its own); clusterIPs agrees with it. */
function clusterIPIssues(svc: Service, warn: (path: Path, message: string, at?: Issue["at"]) => void): Issue[] {
  const issues: Issue[] = [];
  const { clusterIP, clusterIPs } = svc.spec;
  const ignored = "coxswain assigns its own per-node addresses to every Service and ignores it";
  if (clusterIP !== undefined && clusterIP !== HEADLESS && clusterIP !== "") {
    if (isIP(clusterIP) === 0) {
      issues.push(fieldError("InvalidField", ["spec", "clusterIP"], `must be "None" (headless), "" or an IP address (got ${showValue(clusterIP)})`));
    } else warn(["spec", "clusterIP"], `${showValue(clusterIP)} is ignored: ${ignored}`, "value");
  }
  if (clusterIPs !== undefined) {
    const first = clusterIPs[0];
    const bad = clusterIPs.findIndex((ip, i) => !(isIP(ip) !== 0 || (ip === HEADLESS && i === 0 && clusterIPs.length === 1)));
    if (bad >= 0) {
      issues.push(fieldError("InvalidField", ["spec", "clusterIPs", bad], `must be an IP address, or "None" as the only entry (got ${showValue(clusterIPs[bad])})`));
    } else if (clusterIP !== undefined && clusterIP !== "" && first !== undefined && first !== clusterIP) {
      issues.push(fieldError("InvalidField", ["spec", "clusterIPs", 0], `must equal clusterIP ${showValue(clusterIP)} when both are given, as in Kubernetes (got ${showValue(first)})`));
    } else warn(["spec", "clusterIPs"], `is ignored, as Kubernetes' API server sets it: ${ignored}${first === HEADLESS ? ' (["None"] makes the Service headless, as clusterIP: None does)' : ""}`);
  }
  return issues;
}

/**
 * Kubernetes' defaults for a Service beyond the schema's, in place, after serviceIssues found no error:
 * targetPort = port; clusterIP "None" when only clusterIPs says so; sessionAffinityConfig dropped unless
 * sessionAffinity is ClientIP, and filled (timeoutSeconds 10800) when it is; and the fields reported as
 * ignored (a concrete or empty clusterIP, clusterIPs, ipFamilies, …) dropped, so that a Service written
 * with or without them is the same object (no diff, no update).
 */
export function applyServiceDefaults(svc: Service): void {
  const spec = svc.spec;
  if (isHeadless(svc)) spec.clusterIP = HEADLESS;
  else delete spec.clusterIP;
  for (const f of IGNORED_FIELDS) delete spec[f];
  for (const p of spec.ports ?? []) p.targetPort ??= p.port;
  if (spec.sessionAffinity === "ClientIP") {
    const clientIP = ((spec.sessionAffinityConfig ??= {}).clientIP ??= {});
    clientIP.timeoutSeconds ??= DEFAULT_AFFINITY_TIMEOUT_SECONDS;
  } else delete spec.sessionAffinityConfig;
}
