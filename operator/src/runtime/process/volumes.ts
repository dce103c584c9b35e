/**
 * A launch's volumes on the process runtime. A process cannot be given a file system of its own, so its
 * mounts live below its container directory (the mount root, also its default working directory): a
 * mountPath "/etc/app" is `<mount root>/etc/app`, a symbolic link to the volume's directory (or to the
 * subPath inside it). The program finds the mount root in COXSWAIN_MOUNT_ROOT (MOUNT_ROOT_ENV), so
 * "$COXSWAIN_MOUNT_ROOT/etc/app", or "etc/app" relative to its default working directory.
 *
 * - A configMap or secret volume's files are written to `<mount root>/.coxswain-volumes/<volume>` with
 *   their modes (the directory 0700, as the files may be a Secret's: only the operator's user reads them).
 * - An emptyDir is one directory per pod, `<pods dir>/<pod>/<volume>`, shared by the pod's containers and
 *   removed with the pod's last container; medium Memory is a plain directory too (making a tmpfs needs
 *   privileges the runtime does not have).
 * - A PersistentVolumeClaim is a directory per claim below the runtime's directory, `<claims dir>/<ns>/<name>`
 *   (claimDir), made by its first pod and kept after the last: its data lives there until the claim
 *   controller removes it (process runtime: one node, so the claim is bound to it).
 * - A hostPath volume is a link to the node's path: DirectoryOrCreate makes a missing directory, Directory
 *   and File must exist and be one (the process runtime can look, unlike a remote Docker engine).
 * - readOnly is not enforced: the program runs as the operator's user, who owns the files.
 */
import { chmod, lstat, mkdir, rm, stat, symlink, unlink, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { CoxError } from "../../api/errors.js";
import type { ContainerLaunch, HostPathType } from "../types.js";

/** The variable that tells a program where its mounts are (its container directory). */
export const MOUNT_ROOT_ENV = "COXSWAIN_MOUNT_ROOT";

/** The directory of a claim ("namespace/name") below `claimsDir`. */
export function claimDir(claimsDir: string, claim: string): string {
  const [namespace, name] = claim.split("/") as [string, string];
  return join(claimsDir, namespace, name);
}

/** The pod's part of a runtimeName "cx_<ns>_<pod>_<container>" (controllers/workload/template.ts): "cx_<ns>_<pod>". */
export function podPart(runtimeName: string): string {
  return runtimeName.slice(0, runtimeName.lastIndexOf("_"));
}

/**
 * Writes the launch's volumes and links its mounts below `mountRoot`; emptyDirs go to `podsDir`/<pod>,
 * claims to `claimsDir`/<ns>/<name>. Throws (a Node error) when a mount path is taken by something else, or
 * CoxError RuntimeCallFailed (as a Docker engine refuses it) when a hostPath of type Directory or File is missing or of the other kind.
 */
export async function writeVolumes(launch: ContainerLaunch, mountRoot: string, podsDir: string, claimsDir: string): Promise<void> {
  const dirs = new Map<string, string>();
  for (const v of launch.volumes ?? []) {
    if (v.type === "files") {
      const dir = join(mountRoot, ".coxswain-volumes", v.name);
      await rm(dir, { recursive: true, force: true });
      await mkdir(dir, { recursive: true, mode: 0o700 });
      for (const f of v.files ?? []) {
        const path = join(dir, f.path);
        await mkdir(dirname(path), { recursive: true, mode: 0o700 });
        await writeFile(path, Buffer.from(f.data, "base64"), { mode: f.mode });
        await chmod(path, f.mode); // writeFile's mode is masked by the umask
      }
      dirs.set(v.name, dir);
    } else if (v.claim) {
      const dir = claimDir(claimsDir, v.claim.name);
      await mkdir(dir, { recursive: true, mode: 0o700 });
      dirs.set(v.name, dir);
    } else if (v.hostPath) {
      await checkHostPath(v.hostPath.path, v.hostPath.type);
      dirs.set(v.name, v.hostPath.path);
    } else {
      const dir = join(podsDir, podPart(launch.runtimeName), v.name);
      await mkdir(dir, { recursive: true, mode: 0o700 });
      dirs.set(v.name, dir);
    }
  }
  for (const m of launch.mounts ?? []) {
    const dir = dirs.get(m.volume);
    if (dir === undefined) continue;
    const target = m.subPath ? join(dir, m.subPath) : dir;
    const volume = launch.volumes?.find((v) => v.name === m.volume);
    if (m.subPath && (volume?.type === "emptyDir" || volume?.type === "claim")) await mkdir(target, { recursive: true });
    const link = join(mountRoot, m.mountPath);
    await mkdir(dirname(link), { recursive: true });
    // A link left by an earlier run (a mount nested in a shared emptyDir) is replaced; anything else there is an error.
    const existing = await lstat(link).catch(() => undefined);
    if (existing?.isSymbolicLink()) await unlink(link);
    await symlink(target, link);
  }
}

/** Makes a missing DirectoryOrCreate path; checks that a Directory or File path is one (Kubernetes' hostPath types). */
async function checkHostPath(path: string, type: HostPathType): Promise<void> {
  if (type === "DirectoryOrCreate") {
    await mkdir(path, { recursive: true, mode: 0o755 });
    return;
  }
  if (type === "") return;
  const st = await stat(path).catch(() => undefined);
  const ok = type === "Directory" ? st?.isDirectory() : st?.isFile();
  if (!ok) {
    throw new CoxError(
      "RuntimeCallFailed",
      `hostPath ${JSON.stringify(path)} is ${st ? "not a " + (type === "Directory" ? "directory" : "file") : "missing"} on this node: type ${type} expects an existing ${type === "Directory" ? "directory" : "file"}`,
    );
  }
}
