/**
 * A launch's security (runtime/types.ts LaunchSecurity) as Docker create options: User "uid[:gid]",
 * GroupAdd, ReadonlyRootfs, SecurityOpt (no-new-privileges, seccomp=unconfined), Privileged, CapAdd and
 * CapDrop, PidMode and IpcMode "host". seccompProfile RuntimeDefault is the engine's default profile and
 * needs no option. Pure; runAsNonRoot is decided here from the image's configured user (Config.User of
 * its inspect answer), which the runtime reads only when the launch needs it (needsImageUser).
 */
import type { LaunchSecurity } from "../types.js";

/** The create-body fields security sets: User at the top level, the rest in HostConfig. */
export interface DockerSecurityOptions {
  User?: string;
  HostConfig: {
    GroupAdd?: string[];
    ReadonlyRootfs?: boolean;
    SecurityOpt?: string[];
    Privileged?: boolean;
    CapAdd?: string[];
    CapDrop?: string[];
    PidMode?: string;
    IpcMode?: string;
  };
}

/** True when the image's user must be known: runAsNonRoot or runAsGroup without runAsUser. */
export function needsImageUser(s: LaunchSecurity | undefined): boolean {
  return s !== undefined && s.runAsUser === undefined && (s.runAsNonRoot === true || s.runAsGroup !== undefined);
}

/** The user part of an image's "user[:group]" ("" when the image names none: Docker then runs as root). */
function imageUserPart(imageUser: string | undefined): string {
  return (imageUser ?? "").split(":")[0]!.trim();
}

/**
 * Why a runAsNonRoot launch must not start, or undefined when it may: the kubelet's rule — uid 0 from
 * runAsUser, or else the image's user: none (root), "root", uid 0, or a name, which cannot be verified
 * without the image's /etc/passwd and is refused as Kubernetes refuses it.
 */
export function runAsRootProblem(s: LaunchSecurity | undefined, imageUser: string | undefined): string | undefined {
  if (s?.runAsNonRoot !== true) return undefined;
  if (s.runAsUser !== undefined) return s.runAsUser === 0 ? "runAsNonRoot is set and runAsUser is 0 (root)" : undefined;
  const user = imageUserPart(imageUser);
  if (user === "" || user === "root") return `runAsNonRoot is set and the image runs as root (its user is ${user === "" ? "not set" : '"root"'}); set runAsUser to a non-zero uid or use an image with a non-root USER`;
  if (!/^[0-9]+$/.test(user)) return `runAsNonRoot is set and the image's user ${JSON.stringify(user)} is a name, which cannot be verified to be non-root (as in Kubernetes); set runAsUser to its uid`;
  if (Number(user) === 0) return "runAsNonRoot is set and the image runs as uid 0 (root); set runAsUser to a non-zero uid or use an image with a non-root USER";
  return undefined;
}

/** The create options of a launch's security; `imageUser` (the image's Config.User) is used only when needsImageUser. */
export function dockerSecurityOptions(s: LaunchSecurity, imageUser?: string): DockerSecurityOptions {
  const out: DockerSecurityOptions = { HostConfig: {} };
  const hc = out.HostConfig;
  if (s.runAsUser !== undefined) out.User = s.runAsGroup !== undefined ? `${s.runAsUser}:${s.runAsGroup}` : String(s.runAsUser);
  // Only a group: the image's user with that group (Docker's User needs a user part; none means root).
  else if (s.runAsGroup !== undefined) out.User = `${imageUserPart(imageUser) || "0"}:${s.runAsGroup}`;
  if (s.supplementalGroups?.length) hc.GroupAdd = s.supplementalGroups.map(String);
  if (s.readOnlyRootFilesystem) hc.ReadonlyRootfs = true;
  const opts: string[] = [];
  if (s.noNewPrivileges) opts.push("no-new-privileges:true");
  if (s.seccomp === "Unconfined") opts.push("seccomp=unconfined");
  if (opts.length > 0) hc.SecurityOpt = opts;
  if (s.privileged) hc.Privileged = true;
  if (s.capAdd?.length) hc.CapAdd = [...s.capAdd];
  if (s.capDrop?.length) hc.CapDrop = [...s.capDrop];
  if (s.hostPID) hc.PidMode = "host";
  if (s.hostIPC) hc.IpcMode = "host";
  return out;
}
