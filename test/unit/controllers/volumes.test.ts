import { describe, expect, it } from "vitest";
import type { PodSpec } from "../../../operator/src/api/generated/index.js";
import type { ConfigMap, Deployment, Secret } from "../../../operator/src/api/objects.js";
import { planTemplate, podLaunches } from "../../../operator/src/controllers/workload/template.js";
import { planVolumes, type VolumeSourceLookup } from "../../../operator/src/controllers/workload/volumes.js";
import type { NodeConfig } from "../../../operator/src/runtime/fleet.js";
import { dockerBinds, dockerMounts, fillEntries, fillMounts, volumeCreates } from "../../../operator/src/runtime/docker/volumes.js";
import type { LaunchVolume } from "../../../operator/src/runtime/types.js";

const b64 = (text: string): string => Buffer.from(text, "utf8").toString("base64");
const cm = (data: Record<string, string>): ConfigMap => ({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "cfg", namespace: "shop" }, data });
const secret = (stringData: Record<string, string>): Secret => ({ apiVersion: "v1", kind: "Secret", metadata: { name: "creds", namespace: "shop" }, stringData });
const objects =
  (...objs: (ConfigMap | Secret)[]): VolumeSourceLookup =>
  (key) =>
    objs.find((o) => `${o.kind}/shop/${o.metadata.name}` === key);

function spec(volumes: PodSpec["volumes"], mounts: NonNullable<PodSpec["containers"][0]["volumeMounts"]> = []): PodSpec {
  return {
    containers: [
      { name: "app", image: "app:v1", ...(mounts.length ? { volumeMounts: mounts } : {}) },
      { name: "sidecar", image: "app:v1" },
    ],
    volumes,
  };
}

describe("volume planning", () => {
  const cases: { name: string; spec: PodSpec; lookup: VolumeSourceLookup; volumes: LaunchVolume[] }[] = [
    {
      name: "makes one file per ConfigMap key, mode 0644, sorted by path",
      spec: spec([{ name: "c", configMap: { name: "cfg" } }]),
      lookup: objects(cm({ "z.conf": "z", "a.conf": "a" })),
      volumes: [
        {
          name: "c",
          type: "files",
          files: [
            { path: "a.conf", mode: 0o644, data: b64("a") },
            { path: "z.conf", mode: 0o644, data: b64("z") },
          ],
        },
      ],
    },
    {
      name: "takes only the listed items, at their paths, with their own mode over defaultMode",
      spec: spec([
        {
          name: "c",
          configMap: {
            name: "cfg",
            defaultMode: 0o440,
            items: [
              { key: "a.conf", path: "etc/a" },
              { key: "z.conf", path: "z", mode: 0o600 },
            ],
          },
        },
      ]),
      lookup: objects(cm({ "a.conf": "a", "z.conf": "z", unused: "u" })),
      volumes: [
        {
          name: "c",
          type: "files",
          files: [
            { path: "etc/a", mode: 0o440, data: b64("a") },
            { path: "z", mode: 0o600, data: b64("z") },
          ],
        },
      ],
    },
    {
      name: "leaves out a missing key of an optional volume, and makes an empty volume of a missing optional Secret",
      spec: spec([
        {
          name: "c",
          configMap: {
            name: "cfg",
            optional: true,
            items: [
              { key: "gone", path: "gone" },
              { key: "a", path: "a" },
            ],
          },
        },
        { name: "s", secret: { secretName: "nowhere", optional: true } },
      ]),
      lookup: objects(cm({ a: "1" })),
      volumes: [
        { name: "c", type: "files", files: [{ path: "a", mode: 0o644, data: b64("1") }] },
        { name: "s", type: "files", files: [] },
      ],
    },
    {
      name: "decodes a Secret's data and stringData into the files' bytes",
      spec: spec([{ name: "s", secret: { secretName: "creds", defaultMode: 0o400 } }]),
      lookup: objects({ ...secret({ password: "hunter2" }), data: { token: b64("t0k3n") } }),
      volumes: [
        {
          name: "s",
          type: "files",
          files: [
            { path: "password", mode: 0o400, data: b64("hunter2") },
            { path: "token", mode: 0o400, data: b64("t0k3n") },
          ],
        },
      ],
    },
    {
      name: "makes an emptyDir on disk, and a Memory one with sizeLimit in bytes",
      spec: spec([
        { name: "d", emptyDir: {} },
        { name: "m", emptyDir: { medium: "Memory", sizeLimit: "64Mi" } },
        { name: "n", emptyDir: { medium: "Memory" } },
      ]),
      lookup: objects(),
      volumes: [
        { name: "d", type: "emptyDir" },
        { name: "m", type: "emptyDir", memory: { sizeBytes: 64 * 1024 * 1024 } },
        { name: "n", type: "emptyDir", memory: {} },
      ],
    },
  ];
  it.each(cases)("$name", (c) => {
    expect(planVolumes(c.spec, "shop", c.lookup).volumes).toEqual(c.volumes);
  });

  it("gives each container the mounts it declares and only the volumes they name", () => {
    const deployment: Deployment = {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "web", namespace: "shop" },
      spec: {
        selector: { matchLabels: { app: "web" } },
        template: {
          metadata: { labels: { app: "web" } },
          spec: spec(
            [
              { name: "c", configMap: { name: "cfg" } },
              { name: "d", emptyDir: {} },
            ],
            [{ name: "d", mountPath: "/data", subPath: "x" }],
          ),
        },
      },
    };
    const plan = planTemplate(deployment, objects(cm({ a: "1" })));
    const node: NodeConfig = { name: "n1", endpoint: "unix:///x.sock", network: "host", address: "10.0.0.5", portRange: { from: 30000, to: 30009 }, unschedulable: false, labels: {} };
    const [app, sidecar] = podLaunches(plan, { pod: "web-abc-1", node, hostPorts: [], commit: "c0ffee", instance: "coxswain" });
    expect(app!.volumes).toEqual([{ name: "d", type: "emptyDir" }]);
    expect(app!.mounts).toEqual([{ volume: "d", mountPath: "/data", readOnly: false, subPath: "x" }]);
    expect(sidecar!.volumes).toBeUndefined();
    expect(sidecar!.mounts).toBeUndefined();
  });
});

describe("revisions of templates with volumes", () => {
  function deployment(volumes: PodSpec["volumes"]): Deployment {
    return {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "web", namespace: "shop" },
      spec: { selector: { matchLabels: { app: "web" } }, template: { metadata: { labels: { app: "web" } }, spec: { containers: [{ name: "app", image: "app:v1" }], ...(volumes ? { volumes } : {}) } } },
    };
  }
  const withBoth: PodSpec["volumes"] = [
    { name: "c", configMap: { name: "cfg" } },
    { name: "s", secret: { secretName: "creds" } },
  ];

  it("changes when a ConfigMap a volume reads changes", () => {
    const before = planTemplate(deployment(withBoth), objects(cm({ a: "1" }), secret({ k: "v" }))).revision;
    expect(planTemplate(deployment(withBoth), objects(cm({ a: "2" }), secret({ k: "v" }))).revision).not.toBe(before);
  });

  it("changes when a Secret a volume reads changes", () => {
    const before = planTemplate(deployment(withBoth), objects(cm({ a: "1" }), secret({ k: "v" }))).revision;
    expect(planTemplate(deployment(withBoth), objects(cm({ a: "1" }), secret({ k: "w" }))).revision).not.toBe(before);
  });

  it("stays what it was for a template without volumes", () => {
    // The revision of a template without volumes must not move with this feature: existing pods stay.
    expect(planTemplate(deployment(undefined), objects()).revision).toBe(planTemplate(deployment(undefined), objects(cm({ a: "1" }))).revision);
    expect(planTemplate(deployment(undefined), objects()).volumes).toBeUndefined();
  });
});

describe("volumes on a Docker engine, planned", () => {
  const launch = {
    runtimeName: "cx_shop_web-abc-1_app",
    image: "app:v1",
    env: {},
    network: "host" as const,
    ports: [],
    limits: {},
    labels: {},
    volumes: [
      { name: "c", type: "files" as const, files: [{ path: "dir/a", mode: 0o600, data: b64("A") }] },
      { name: "d", type: "emptyDir" as const },
      { name: "m", type: "emptyDir" as const, memory: { sizeBytes: 1024 } },
    ],
    mounts: [
      { volume: "c", mountPath: "/etc/c", readOnly: false },
      { volume: "c", mountPath: "/etc/one", readOnly: false, subPath: "dir/a" },
      { volume: "d", mountPath: "/data", readOnly: true, subPath: "logs/x" },
      { volume: "m", mountPath: "/cache", readOnly: false },
    ],
  };

  it("names files volumes per container and emptyDirs per pod, a Memory one a tmpfs of its size", () => {
    expect(volumeCreates(launch, { owner: "me" })).toEqual([
      { Name: "cx_shop_web-abc-1_app_c", Labels: { owner: "me" } },
      { Name: "cx_shop_web-abc-1_d", Labels: { owner: "me" } },
      { Name: "cx_shop_web-abc-1_m", Labels: { owner: "me" }, DriverOpts: { type: "tmpfs", device: "tmpfs", o: "mode=0777,size=1024" } },
    ]);
  });

  it("mounts files volumes read-only always, and for a subPath the volume under the mounts root and a bind of the path inside it at mountPath", () => {
    const mountpoints = new Map([
      ["cx_shop_web-abc-1_app_c", "/var/lib/docker/volumes/cx_shop_web-abc-1_app_c/_data"],
      ["cx_shop_web-abc-1_d", "/var/lib/docker/volumes/cx_shop_web-abc-1_d/_data/"],
    ]);
    expect(dockerMounts(launch, mountpoints).map((m) => [m.Type, m.Source, m.Target, m.ReadOnly])).toEqual([
      ["volume", "cx_shop_web-abc-1_app_c", "/etc/c", true],
      ["volume", "cx_shop_web-abc-1_app_c", "/.coxswain/mounts/1", true],
      ["bind", "/var/lib/docker/volumes/cx_shop_web-abc-1_app_c/_data/dir/a", "/etc/one", true],
      ["volume", "cx_shop_web-abc-1_d", "/.coxswain/mounts/2", true],
      ["bind", "/var/lib/docker/volumes/cx_shop_web-abc-1_d/_data/logs/x", "/data", true],
      ["volume", "cx_shop_web-abc-1_m", "/cache", false],
    ]);
  });

  it("refuses to plan a subPath mount of a volume whose mountpoint is unknown", () => {
    expect(() => dockerMounts(launch, new Map())).toThrow(/no mountpoint known/);
  });

  it("fills files with their modes and makes an emptyDir's root 0777 with its subPath directories, never a tmpfs", () => {
    expect(fillEntries(launch).map((e) => [e.type, e.path, "mode" in e ? e.mode.toString(8) : ""])).toEqual([
      ["dir", "/coxswain-fill/c", "755"],
      ["dir", "/coxswain-fill/c/dir", "755"],
      ["file", "/coxswain-fill/c/dir/a", "600"],
      ["dir", "/coxswain-fill/d", "777"],
      ["dir", "/coxswain-fill/d/logs", "777"],
      ["dir", "/coxswain-fill/d/logs/x", "777"],
    ]);
  });
});

describe("claims and hostPath volumes", () => {
  it('plans a persistentVolumeClaim volume as the namespace\'s claim, and a hostPath volume with its type ("" when none)', () => {
    const plan = planVolumes(
      spec([
        { name: "data", persistentVolumeClaim: { claimName: "db", readOnly: true } },
        { name: "logs", hostPath: { path: "/var/log" } },
        { name: "conf", hostPath: { path: "/etc/app", type: "Directory" } },
      ]),
      "shop",
      objects(),
    );
    expect(plan.volumes).toEqual([
      { name: "data", type: "claim", claim: { name: "shop/db", readOnly: true } },
      { name: "logs", type: "hostPath", hostPath: { path: "/var/log", type: "" } },
      { name: "conf", type: "hostPath", hostPath: { path: "/etc/app", type: "Directory" } },
    ]);
  });

  const launch = {
    runtimeName: "cx_shop_web-abc-1_app",
    image: "app:v1",
    env: {},
    network: "host" as const,
    ports: [],
    limits: {},
    labels: { "io.coxswain.owner": "op1", "io.coxswain.node": "node-a" },
    volumes: [
      { name: "data", type: "claim" as const, claim: { name: "shop/db", readOnly: false } },
      { name: "ro", type: "claim" as const, claim: { name: "shop/ref", readOnly: true } },
      { name: "logs", type: "hostPath" as const, hostPath: { path: "/var/log/app", type: "DirectoryOrCreate" as const } },
      { name: "sock", type: "hostPath" as const, hostPath: { path: "/run/x.sock", type: "File" as const } },
    ],
    mounts: [
      { volume: "data", mountPath: "/data", readOnly: false },
      { volume: "data", mountPath: "/backup", readOnly: false, subPath: "backup" },
      { volume: "ro", mountPath: "/ref", readOnly: false },
      { volume: "logs", mountPath: "/logs", readOnly: true },
      { volume: "sock", mountPath: "/run/x.sock", readOnly: false },
    ],
  };

  it("makes one Docker volume per claim and owner, labelled with the claim, its namespace and the node (the record of the binding)", () => {
    expect(volumeCreates(launch, { "io.coxswain.owner": "op1" })).toEqual([
      { Name: "cxclaim_op1_shop_db", Labels: { "io.coxswain.owner": "op1", "io.coxswain.claim": "shop/db", "io.coxswain.namespace": "shop", "io.coxswain.node": "node-a" } },
      { Name: "cxclaim_op1_shop_ref", Labels: { "io.coxswain.owner": "op1", "io.coxswain.claim": "shop/ref", "io.coxswain.namespace": "shop", "io.coxswain.node": "node-a" } },
    ]);
  });

  it("mounts a claim (read-only when its source says so) and binds host paths: DirectoryOrCreate as a Bind, File as a bind mount", () => {
    const mountpoints = new Map([["cxclaim_op1_shop_db", "/var/lib/docker/volumes/cxclaim_op1_shop_db/_data"]]);
    expect(dockerMounts(launch, mountpoints).map((m) => [m.Type, m.Source, m.Target, m.ReadOnly])).toEqual([
      ["volume", "cxclaim_op1_shop_db", "/data", false],
      ["volume", "cxclaim_op1_shop_db", "/.coxswain/mounts/1", false],
      ["bind", "/var/lib/docker/volumes/cxclaim_op1_shop_db/_data/backup", "/backup", false],
      ["volume", "cxclaim_op1_shop_ref", "/ref", true],
      ["bind", "/run/x.sock", "/run/x.sock", false],
    ]);
    expect(dockerBinds(launch)).toEqual(["/var/log/app:/logs:ro"]);
  });

  it("makes a claim's root 0777 and its subPath directories, and never fills a host path", () => {
    expect(fillEntries(launch).map((e) => [e.type, e.path, "mode" in e ? e.mode.toString(8) : ""])).toEqual([
      ["dir", "/coxswain-fill/data", "777"],
      ["dir", "/coxswain-fill/data/backup", "777"],
      ["dir", "/coxswain-fill/ro", "777"],
    ]);
    expect(fillMounts(launch).map((m) => m.Source)).toEqual(["cxclaim_op1_shop_db", "cxclaim_op1_shop_ref"]);
  });
});
