/**
 * securityContext from the template to the runtimes: the merge of the pod's and the container's settings
 * (container wins, defaults left out), the Docker create options they become, the runAsNonRoot decision
 * from the image's user, and what the process runtime can and cannot meet.
 */
import { describe, expect, it } from "vitest";
import type { Container, PodSpec } from "../../../operator/src/api/generated/index.js";
import { launchSecurity } from "../../../operator/src/controllers/workload/security.js";
import { createContainerBody } from "../../../operator/src/runtime/docker/mapping.js";
import { dockerSecurityOptions, needsImageUser, runAsRootProblem } from "../../../operator/src/runtime/docker/security.js";
import { unmetSecurity } from "../../../operator/src/runtime/process/security.js";
import type { ContainerLaunch, LaunchSecurity } from "../../../operator/src/runtime/types.js";

function spec(pod: Partial<PodSpec>, container: Partial<Container>): [PodSpec, Container] {
  const c: Container = { name: "app", image: "app:1", ...container };
  return [{ containers: [c], ...pod }, c];
}

describe("a container's launch security", () => {
  it.each<[string, Partial<PodSpec>, Partial<Container>, LaunchSecurity | undefined]>([
    ["is absent when nothing is asked", {}, {}, undefined],
    [
      "is absent when only defaults are spelled out",
      { securityContext: { runAsNonRoot: false } },
      { securityContext: { privileged: false, allowPrivilegeEscalation: true, readOnlyRootFilesystem: false, procMount: "Default" } },
      undefined,
    ],
    ["takes the pod's user, group and runAsNonRoot", { securityContext: { runAsUser: 1000, runAsGroup: 3000, runAsNonRoot: true } }, {}, { runAsUser: 1000, runAsGroup: 3000, runAsNonRoot: true }],
    [
      "lets the container's user, group, runAsNonRoot and seccomp override the pod's",
      { securityContext: { runAsUser: 1000, runAsGroup: 3000, runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } } },
      { securityContext: { runAsUser: 2000, runAsGroup: 4000, runAsNonRoot: false, seccompProfile: { type: "Unconfined" } } },
      { runAsUser: 2000, runAsGroup: 4000, seccomp: "Unconfined" },
    ],
    ["sorts and deduplicates supplementalGroups", { securityContext: { supplementalGroups: [5000, 4000, 5000] } }, {}, { supplementalGroups: [4000, 5000] }],
    [
      "maps the container-only settings",
      {},
      { securityContext: { readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, privileged: true } },
      { readOnlyRootFilesystem: true, noNewPrivileges: true, privileged: true },
    ],
    [
      "writes capabilities bare, upper-case, sorted and once",
      {},
      { securityContext: { capabilities: { add: ["cap_net_admin", "NET_ADMIN", "CAP_SYS_TIME"], drop: ["ALL", "net_raw"] } } },
      { capAdd: ["NET_ADMIN", "SYS_TIME"], capDrop: ["ALL", "NET_RAW"] },
    ],
    ["gives every container the pod's hostPID and hostIPC", { hostPID: true, hostIPC: true }, {}, { hostPID: true, hostIPC: true }],
  ])("%s", (_, pod, container, want) => {
    const [s, c] = spec(pod, container);
    expect(launchSecurity(s, c)).toEqual(want);
  });
});

describe("Docker create options of a launch's security", () => {
  it.each<[string, LaunchSecurity, string | undefined, ReturnType<typeof dockerSecurityOptions>]>([
    ["runs as uid:gid when both are given", { runAsUser: 1000, runAsGroup: 3000 }, undefined, { User: "1000:3000", HostConfig: {} }],
    ["runs as the uid alone, the group then coming from the image's passwd, as Docker does", { runAsUser: 1000 }, undefined, { User: "1000", HostConfig: {} }],
    ["keeps the image's user with a group given alone", { runAsGroup: 3000 }, "app:app", { User: "app:3000", HostConfig: {} }],
    ["uses root with a group given alone to an image without a user", { runAsGroup: 3000 }, "", { User: "0:3000", HostConfig: {} }],
    ["adds the supplemental groups", { supplementalGroups: [4000, 5000] }, undefined, { HostConfig: { GroupAdd: ["4000", "5000"] } }],
    ["mounts the root filesystem read-only", { readOnlyRootFilesystem: true }, undefined, { HostConfig: { ReadonlyRootfs: true } }],
    ["sets no-new-privileges and an unconfined seccomp", { noNewPrivileges: true, seccomp: "Unconfined" }, undefined, { HostConfig: { SecurityOpt: ["no-new-privileges:true", "seccomp=unconfined"] } }],
    ["needs no option for the engine's default seccomp profile", { seccomp: "RuntimeDefault" }, undefined, { HostConfig: {} }],
    ["passes capabilities and privileged on", { privileged: true, capAdd: ["NET_ADMIN"], capDrop: ["ALL"] }, undefined, { HostConfig: { Privileged: true, CapAdd: ["NET_ADMIN"], CapDrop: ["ALL"] } }],
    ["shares the node's process and IPC namespaces", { hostPID: true, hostIPC: true }, undefined, { HostConfig: { PidMode: "host", IpcMode: "host" } }],
  ])("%s", (_, security, imageUser, want) => {
    expect(dockerSecurityOptions(security, imageUser)).toEqual(want);
  });

  it("are part of the create body, beside the options it has anyway", () => {
    const launch: ContainerLaunch = {
      runtimeName: "cx_default_web-1_app",
      image: "app:1",
      env: {},
      network: "bridge",
      ports: [],
      limits: { memoryBytes: 1024 },
      labels: {},
      security: { runAsUser: 1000, runAsGroup: 3000, readOnlyRootFilesystem: true, capDrop: ["ALL"] },
    };
    const body = createContainerBody(launch, { network: "coxswain", publishIp: "" });
    expect(body.User).toBe("1000:3000");
    expect(body.HostConfig).toMatchObject({ NetworkMode: "coxswain", Memory: 1024, ReadonlyRootfs: true, CapDrop: ["ALL"], RestartPolicy: { Name: "no" } });
  });
});

describe("runAsNonRoot against the image's user", () => {
  it.each<[string, LaunchSecurity | undefined, string | undefined, boolean]>([
    ["passes a launch that does not ask", undefined, "", false],
    ["passes a non-zero runAsUser whatever the image says", { runAsNonRoot: true, runAsUser: 1000 }, "", false],
    ["refuses runAsUser 0", { runAsNonRoot: true, runAsUser: 0 }, "1000", true],
    ["refuses an image without a user (root)", { runAsNonRoot: true }, "", true],
    ["refuses an image whose user is root", { runAsNonRoot: true }, "root:root", true],
    ["refuses an image whose user is uid 0", { runAsNonRoot: true }, "0:1000", true],
    ["refuses an image that names its user, which cannot be verified (as in Kubernetes)", { runAsNonRoot: true }, "nobody", true],
    ["passes an image with a numeric non-root user", { runAsNonRoot: true }, "65534:65534", false],
  ])("%s", (_, security, imageUser, refused) => {
    expect(runAsRootProblem(security, imageUser) !== undefined).toBe(refused);
  });

  it.each<[string, LaunchSecurity | undefined, boolean]>([
    ["does not read the image for a launch with a user", { runAsNonRoot: true, runAsUser: 1000, runAsGroup: 1 }, false],
    ["reads the image for runAsNonRoot without a user", { runAsNonRoot: true }, true],
    ["reads the image for a group without a user", { runAsGroup: 3000 }, true],
    ["does not read the image for other settings", { readOnlyRootFilesystem: true }, false],
  ])("%s", (_, security, needs) => {
    expect(needsImageUser(security)).toBe(needs);
  });
});

describe("the process runtime's security", () => {
  const user = { uid: 1000, gid: 1000, groups: [1000, 27] };
  const root = { uid: 0, gid: 0, groups: [0] };
  it.each<[string, LaunchSecurity | undefined, typeof user, number]>([
    ["meets a launch that asks for nothing", undefined, user, 0],
    ["meets the operator's own uid, gid and groups", { runAsUser: 1000, runAsGroup: 1000, supplementalGroups: [27] }, user, 0],
    ["meets runAsNonRoot under a non-root operator", { runAsNonRoot: true }, user, 0],
    ["meets hostPID, hostIPC and an unconfined seccomp", { hostPID: true, hostIPC: true, seccomp: "Unconfined" }, user, 0],
    ["meets privileged and added capabilities under a root operator", { privileged: true, capAdd: ["NET_ADMIN"] }, root, 0],
    ["refuses another user and group", { runAsUser: 2000, runAsGroup: 2000 }, user, 2],
    ["refuses runAsNonRoot under a root operator", { runAsNonRoot: true }, root, 1],
    ["refuses groups the operator does not have", { supplementalGroups: [27, 4000] }, user, 1],
    ["refuses every tightening it cannot enforce", { readOnlyRootFilesystem: true, noNewPrivileges: true, capDrop: ["ALL"], seccomp: "RuntimeDefault" }, user, 4],
    ["refuses privileged and added capabilities under a non-root operator", { privileged: true, capAdd: ["NET_ADMIN"] }, user, 2],
  ])("%s", (_, security, self, unmet) => {
    expect(unmetSecurity(security, self)).toHaveLength(unmet);
  });
});
