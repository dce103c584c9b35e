/**
 * A container's securityContext as its runtime applies it (runtime/types.ts LaunchSecurity): the
 * container's runAsUser, runAsGroup, runAsNonRoot and seccompProfile over the pod's, as in Kubernetes; the
 * pod-only fields (supplementalGroups, hostPID, hostIPC) and the container-only ones as written. Values
 * that ask for the runtime's default (privileged: false, allowPrivilegeEscalation: true, …) are left out,
 * so that a template that spells defaults out launches exactly like one that does not. Pure.
 */
import { capabilityNames } from "../../api/capabilities.js";
import type { Container, PodSpec } from "../../api/generated/index.js";
import type { LaunchSecurity } from "../../runtime/types.js";

/** The security a container of `spec` launches with; undefined when it asks for nothing. */
export function launchSecurity(spec: PodSpec, c: Container): LaunchSecurity | undefined {
  const pod = spec.securityContext ?? {};
  const own = c.securityContext ?? {};
  const out: LaunchSecurity = {};
  const runAsUser = own.runAsUser ?? pod.runAsUser;
  const runAsGroup = own.runAsGroup ?? pod.runAsGroup;
  if (runAsUser !== undefined) out.runAsUser = runAsUser;
  if (runAsGroup !== undefined) out.runAsGroup = runAsGroup;
  if ((own.runAsNonRoot ?? pod.runAsNonRoot) === true) out.runAsNonRoot = true;
  const groups = [...new Set(pod.supplementalGroups ?? [])].sort((a, b) => a - b);
  if (groups.length > 0) out.supplementalGroups = groups;
  if (own.readOnlyRootFilesystem === true) out.readOnlyRootFilesystem = true;
  if (own.allowPrivilegeEscalation === false) out.noNewPrivileges = true;
  if (own.privileged === true) out.privileged = true;
  const add = capabilityNames(own.capabilities?.add);
  const drop = capabilityNames(own.capabilities?.drop);
  if (add.length > 0) out.capAdd = add;
  if (drop.length > 0) out.capDrop = drop;
  const seccomp = (own.seccompProfile ?? pod.seccompProfile)?.type;
  // Localhost never gets here: validation refuses it (manifest/pod.ts).
  if (seccomp === "RuntimeDefault" || seccomp === "Unconfined") out.seccomp = seccomp;
  if (spec.hostPID === true) out.hostPID = true;
  if (spec.hostIPC === true) out.hostIPC = true;
  return Object.keys(out).length > 0 ? out : undefined;
}
