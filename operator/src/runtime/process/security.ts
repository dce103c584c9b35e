/**
 * What of a launch's security (runtime/types.ts LaunchSecurity) the process runtime can honour. It starts a
 * program as a child of the operator: with the operator's user, groups, capabilities and filesystem, in the
 * node's namespaces, without seccomp. A setting is met only when that is already what it asks for (the same
 * uid, runAsNonRoot under a non-root operator, privileged or added capabilities under a root one, hostPID
 * and hostIPC, seccomp Unconfined); any other is refused, never dropped: a pod that asked for a read-only
 * root filesystem must not get a writable one. Pure.
 */
import type { LaunchSecurity } from "../types.js";

/** The identity of the operator's process, which every program of the process runtime runs with. */
export interface ProcessIdentity {
  uid: number;
  gid: number;
  groups: readonly number[];
}

/** The settings of `s` the process runtime cannot meet, each with why; empty when it runs the launch as asked. */
export function unmetSecurity(s: LaunchSecurity | undefined, self: ProcessIdentity): string[] {
  if (!s) return [];
  const out: string[] = [];
  const root = self.uid === 0;
  if (s.runAsUser !== undefined && s.runAsUser !== self.uid) out.push(`runAsUser ${s.runAsUser} (programs run as the operator's uid ${self.uid})`);
  if (s.runAsGroup !== undefined && s.runAsGroup !== self.gid) out.push(`runAsGroup ${s.runAsGroup} (programs run with the operator's gid ${self.gid})`);
  if (s.runAsNonRoot && root && s.runAsUser === undefined) out.push("runAsNonRoot (the operator runs as root, and so would the program)");
  const missing = (s.supplementalGroups ?? []).filter((g) => g !== self.gid && !self.groups.includes(g));
  if (missing.length > 0) out.push(`supplementalGroups ${missing.join(", ")} (programs have the operator's groups only)`);
  if (s.readOnlyRootFilesystem) out.push("readOnlyRootFilesystem (a program sees the host's filesystem with the operator's rights)");
  if (s.noNewPrivileges) out.push("allowPrivilegeEscalation: false (no-new-privileges is not set on local processes)");
  if (s.privileged && !root) out.push("privileged (the operator does not run as root)");
  if (s.capAdd?.length && !root) out.push(`capabilities.add ${s.capAdd.join(", ")} (the operator does not run as root)`);
  if (s.capDrop?.length) out.push(`capabilities.drop ${s.capDrop.join(", ")} (programs keep the operator's capabilities)`);
  if (s.seccomp === "RuntimeDefault") out.push("seccompProfile RuntimeDefault (local processes get no seccomp profile)");
  return out;
}
