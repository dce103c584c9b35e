/**
 * A launch's volumes on a Docker engine, planned (pure; runtime.ts makes the calls). Everything goes
 * through the Engine API, so it works with remote engines as well as local ones.
 *
 * - Every volume is a Docker named volume (local driver) labelled with the owner: an emptyDir one per pod,
 *   "cx_<ns>_<pod>_<volume>", shared by the pod's containers; a configMap or secret ("files") volume one
 *   per container, "<runtimeName>_<volume>". A volume is removed when the last container using it is
 *   removed (runtime.ts remove(): Docker refuses to remove a volume in use, so every removal tries).
 * - Files are put into a volume before the container starts by a fill container: created (never started)
 *   from the pod's own image with the volumes mounted read-write under FILL_ROOT, given the files with
 *   PUT /containers/{id}/archive, and removed. Why not put them into the container itself: a read-only
 *   mount refuses the archive call (Docker: "mounted volume is marked read-only"), and files put into the
 *   container's own filesystem would be writable by its root user whatever their mode. So a configMap or
 *   secret volume is mounted read-only, as in Kubernetes, and readOnly of an emptyDir mount is the engine's.
 * - An emptyDir of medium Memory is a local volume of type tmpfs (size=sizeLimit): the engine mounts it
 *   when the first container using it starts and unmounts it when the last one stops, so its content
 *   survives while some container of the pod runs (not a restart of a pod's only container). A secret
 *   volume cannot be a tmpfs for the same reason: the content put in by the fill container would be gone.
 * - Mounts set NoCopy: a new volume is not filled with what the image holds at the mount path (Docker's
 *   default), since Kubernetes' volumes start with their own content only.
 * - subPath: Docker 20.10's API has no sub-path mounts of volumes (VolumeOptions.Subpath came with API
 *   1.45), so a mount with a subPath binds the path inside the volume (its Mountpoint on the engine's host,
 *   which POST /volumes/create answers; a bind source is resolved on the engine's host, so remote engines
 *   work too) at mountPath, with the mount's readOnly. The volume itself is mounted as well, at
 *   SUBPATH_ROOT/<index>, so that the engine counts the container as its user and never removes a volume
 *   a running container binds. Nothing is put into the container's own filesystem, so a subPath mount
 *   works with readOnlyRootFilesystem, and a subPath naming a file (a configuration file among others,
 *   the common case) is that file at mountPath, as in Kubernetes. The bind source must exist when the
 *   container is created: the fill container runs first.
 * - emptyDir volumes get mode 0777 at their root (as in Kubernetes), so that a non-root program can write.
 * - A PersistentVolumeClaim is one named volume per claim and owner on the node it is bound to,
 *   "cxclaim_<owner>_<ns>_<name>" (claimVolumeName), labelled with the owner, the claim, its namespace and the
 *   node: those labels are the record of the binding (the operator lists them, runtime.ts claims()). Creating
 *   it again returns the existing volume; it is never removed with a container (its name is outside
 *   VOLUME_PREFIX), only by the claim controller. Its root is made 0777 like an emptyDir's, and its pods
 *   share it (ReadWriteOnce: one node).
 * - hostPath is a bind mount of the node's path: "" and DirectoryOrCreate through HostConfig.Binds, which
 *   make a missing path a directory (as the kubelet does for DirectoryOrCreate); Directory and File as a
 *   Mounts entry of type bind, which the engine refuses to start when the path is missing (that it is a
 *   directory or a file is not checked: the Engine API cannot look at the node's files).
 */
import { LABELS } from "../labels.js";
import type { ContainerLaunch, LaunchVolume } from "../types.js";
import type { TarEntry } from "./tar.js";

/** Where the fill container mounts the volumes it fills: FILL_ROOT/<volume>. */
const FILL_ROOT = "/coxswain-fill";

/** Where a mount with a subPath mounts its volume inside the container: SUBPATH_ROOT/<mount index>. */
const SUBPATH_ROOT = "/.coxswain/mounts";

/** The prefix of every volume name coxswain makes (remove() only tries to remove those). */
export const VOLUME_PREFIX = "cx_";

/** The prefix of claim volumes: outside VOLUME_PREFIX, so that removing a container never removes one. */
const CLAIM_PREFIX = "cxclaim_";

/** A mount of HostConfig.Mounts (the parts coxswain uses): a volume, or a bind (a path inside a volume for a subPath, or a hostPath). */
export type DockerMount = { Type: "volume"; Source: string; Target: string; ReadOnly: boolean; VolumeOptions: { NoCopy: true } } | { Type: "bind"; Source: string; Target: string; ReadOnly: boolean };

/** A volume to create (POST /volumes/create). */
export interface VolumeCreate {
  Name: string;
  Labels: Record<string, string>;
  DriverOpts?: Record<string, string>;
}

/** The Docker volume of a claim ("namespace/name") made by `owner`. */
export function claimVolumeName(owner: string, claim: string): string {
  return `${CLAIM_PREFIX}${owner}_${claim.replace("/", "_")}`;
}

/** The Docker volume name of `volume` as the launch's container uses it (see the module comment). */
function volumeName(launch: Pick<ContainerLaunch, "runtimeName" | "labels">, volume: LaunchVolume): string {
  if (volume.type === "files") return `${launch.runtimeName}_${volume.name}`;
  if (volume.claim) return claimVolumeName(launch.labels[LABELS.owner] ?? "", volume.claim.name);
  // runtimeName is "cx_<ns>_<pod>_<container>" (controllers/workload/template.ts): the pod's part.
  const podPart = launch.runtimeName.slice(0, launch.runtimeName.lastIndexOf("_"));
  return `${podPart}_${volume.name}`;
}

/**
 * The volumes to create for a launch, with the owner's label; a claim's also with the claim, its namespace
 * and the launch's node. `launch.labels` carry the owner.
 */
export function volumeCreates(launch: ContainerLaunch, labels: Record<string, string>): VolumeCreate[] {
  return (launch.volumes ?? [])
    .filter((v) => v.type !== "hostPath")
    .map((v) => ({
      Name: volumeName(launch, v),
      Labels: v.claim ? { ...labels, [LABELS.claim]: v.claim.name, [LABELS.namespace]: v.claim.name.split("/")[0]!, [LABELS.node]: launch.labels[LABELS.node] ?? "" } : { ...labels },
      ...(v.memory ? { DriverOpts: { type: "tmpfs", device: "tmpfs", o: [`mode=0777`, ...(v.memory.sizeBytes !== undefined ? [`size=${v.memory.sizeBytes}`] : [])].join(",") } } : {}),
    }));
}

/** HostConfig.Binds of a launch: its mounts of hostPath volumes of type "" or DirectoryOrCreate ("path:target[:ro]"). */
export function dockerBinds(launch: ContainerLaunch): string[] {
  const byName = new Map((launch.volumes ?? []).map((v) => [v.name, v]));
  return (launch.mounts ?? []).flatMap((m) => {
    const hp = byName.get(m.volume)?.hostPath;
    if (!hp || (hp.type !== "" && hp.type !== "DirectoryOrCreate")) return [];
    return [`${hp.path}:${m.mountPath}${m.readOnly ? ":ro" : ""}`];
  });
}

/**
 * HostConfig.Mounts of a launch, in the order of its mounts (hostPath ones of type "" or DirectoryOrCreate
 * are Binds); a subPath mount is two (the volume under SUBPATH_ROOT, then the bind of the path inside it).
 * `mountpoints`: each volume's Mountpoint on the engine's host, by Docker volume name; a subPath mount of a
 * volume without one throws (a bug).
 */
export function dockerMounts(launch: ContainerLaunch, mountpoints: ReadonlyMap<string, string>): DockerMount[] {
  const byName = new Map((launch.volumes ?? []).map((v) => [v.name, v]));
  return (launch.mounts ?? []).flatMap((m, i): DockerMount[] => {
    const volume = byName.get(m.volume);
    if (!volume) return [];
    if (volume.hostPath) {
      if (volume.hostPath.type === "" || volume.hostPath.type === "DirectoryOrCreate") return [];
      return [{ Type: "bind", Source: volume.hostPath.path, Target: m.mountPath, ReadOnly: m.readOnly }];
    }
    const source = volumeName(launch, volume);
    const readOnly = volume.type === "files" || m.readOnly || volume.claim?.readOnly === true;
    if (!m.subPath) return [{ Type: "volume", Source: source, Target: m.mountPath, ReadOnly: readOnly, VolumeOptions: { NoCopy: true } }];
    const root = mountpoints.get(source);
    if (root === undefined) throw new Error(`volume ${source}: no mountpoint known for the subPath mount at ${m.mountPath}`);
    return [
      { Type: "volume", Source: source, Target: `${SUBPATH_ROOT}/${i}`, ReadOnly: readOnly, VolumeOptions: { NoCopy: true } },
      { Type: "bind", Source: `${root.replace(/\/+$/, "")}/${m.subPath.replace(/\/+$/, "")}`, Target: m.mountPath.replace(/\/+$/, ""), ReadOnly: readOnly },
    ];
  });
}

/**
 * What the fill container puts into the volumes (paths relative to "/"): each files volume's root (0755),
 * directories and files; each disk emptyDir's and claim's root (0777) and the subPath directories mounts need.
 * Empty when there is nothing to put (no fill container is made then).
 */
export function fillEntries(launch: ContainerLaunch): TarEntry[] {
  const entries: TarEntry[] = [];
  for (const v of launch.volumes ?? []) {
    if (v.memory || v.hostPath) continue;
    const root = `${FILL_ROOT}/${v.name}`;
    const dirs = new Set<string>();
    const dir = (path: string, mode: number): void => {
      if (dirs.has(path)) return;
      dirs.add(path);
      entries.push({ type: "dir", path: `${root}/${path}`, mode });
    };
    const parents = (path: string, mode: number): void => {
      const parts = path.split("/").filter((p) => p !== "" && p !== ".");
      for (let i = 1; i < parts.length; i++) dir(parts.slice(0, i).join("/"), mode);
    };
    if (v.type === "files") {
      entries.push({ type: "dir", path: root, mode: 0o755 });
      for (const f of v.files ?? []) {
        parents(f.path, 0o755);
        entries.push({ type: "file", path: `${root}/${f.path}`, data: Buffer.from(f.data, "base64"), mode: f.mode });
      }
    } else {
      entries.push({ type: "dir", path: root, mode: 0o777 });
      for (const m of launch.mounts ?? []) {
        if (m.volume !== v.name || !m.subPath) continue;
        parents(`${m.subPath}/x`, 0o777);
      }
    }
  }
  return entries;
}

/** The volumes the fill container mounts: every volume that is not a tmpfs or a node's path, read-write under FILL_ROOT. */
export function fillMounts(launch: ContainerLaunch): DockerMount[] {
  return (launch.volumes ?? [])
    .filter((v) => !v.memory && !v.hostPath)
    .map((v): DockerMount => ({ Type: "volume", Source: volumeName(launch, v), Target: `${FILL_ROOT}/${v.name}`, ReadOnly: false, VolumeOptions: { NoCopy: true } }));
}
