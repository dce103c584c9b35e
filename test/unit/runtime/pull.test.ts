import { describe, expect, it } from "vitest";
import type { Secret } from "../../../operator/src/api/objects.js";
import { defaultPullPolicy, parseImageReference, readPullSecret, type DockerConfig, type PullPolicy } from "../../../operator/src/manifest/image.js";
import { registryCredentials, registryKeyMatches, withoutCredentials } from "../../../operator/src/runtime/pull.js";

const PASSWORD = "pa55-that-must-not-show";

function dockerConfigJson(auths: Record<string, unknown>, type = "kubernetes.io/dockerconfigjson", key = ".dockerconfigjson"): Secret {
  return { apiVersion: "v1", kind: "Secret", metadata: { name: "pull" }, type, stringData: { [key]: JSON.stringify(type === "kubernetes.io/dockercfg" ? auths : { auths }) } } as Secret;
}

function config(auths: Record<string, unknown>): DockerConfig {
  const read = readPullSecret(dockerConfigJson(auths));
  if (!("config" in read)) throw new Error(read.problem);
  return read.config;
}

describe("default imagePullPolicy", () => {
  const cases: [string, string, PullPolicy][] = [
    ["an image without a tag is pulled every time", "nginx", "Always"],
    ["an image tagged latest is pulled every time", "nginx:latest", "Always"],
    ["an image tagged latest is pulled every time even with a digest (Kubernetes reads the tag)", `app:latest@sha256:${"a".repeat(64)}`, "Always"],
    ["an image with another tag is pulled when missing", "nginx:1.27", "IfNotPresent"],
    ["an image with only a digest is pulled when missing", `app@sha256:${"b".repeat(64)}`, "IfNotPresent"],
    ["a registry port is no tag: without a tag the image is pulled every time", "127.0.0.1:5000/team/app", "Always"],
    ["a registry port and a tag: pulled when missing", "127.0.0.1:5000/team/app:v1", "IfNotPresent"],
  ];
  it.each(cases)("%s (%s)", (_, image, policy) => expect(defaultPullPolicy(image)).toBe(policy));
});

describe("image references", () => {
  const cases: [string, string, ReturnType<typeof parseImageReference>][] = [
    ["a bare name is a Docker Hub library image", "nginx", { host: "docker.io", path: "library/nginx" }],
    ["a first component without a dot or colon is a Docker Hub user", "team/app:v1", { host: "docker.io", path: "team/app", tag: "v1" }],
    ["localhost is a registry host", "localhost/app:v1", { host: "localhost", path: "app", tag: "v1" }],
    ["a host with a port keeps it", "127.0.0.1:5000/team/app:v1", { host: "127.0.0.1:5000", path: "team/app", tag: "v1" }],
    ["docker.io and index.docker.io are the same hub", "index.docker.io/nginx", { host: "docker.io", path: "library/nginx" }],
  ];
  it.each(cases)("%s (%s)", (_, image, ref) => expect(parseImageReference(image)).toEqual(ref));
});

describe("matching a Docker config's registry keys to an image, as the kubelet does", () => {
  const cases: [string, string, string, boolean][] = [
    ["a host matches its images", "registry.example.com", "registry.example.com/team/app:v1", true],
    ["a scheme and /v1/ or /v2/ mean the host alone", "https://registry.example.com/v2/", "registry.example.com/app", true],
    ["host names match without regard to case", "Registry.Example.com", "registry.example.com/app", true],
    ["a port must be the image's port", "127.0.0.1:5000", "127.0.0.1:5000/app:v1", true],
    ["a key with a port does not match the host on another port", "127.0.0.1:5000", "127.0.0.1:5001/app:v1", false],
    ["a key without a port does not match an image with one", "registry.example.com", "registry.example.com:443/app", false],
    ["a key's path must be a prefix of the image's path", "registry.example.com/team", "registry.example.com/team/app:v1", true],
    ["a key's path that is not a prefix does not match", "registry.example.com/other", "registry.example.com/team/app:v1", false],
    ["a glob matches one host part", "*.example.com", "registry.example.com/app", true],
    ["a glob does not match two host parts", "*.example.com", "a.registry.example.com/app", false],
    ["a glob may stand for the top-level domain", "registry.example.*", "registry.example.org/app", true],
    ["a partial glob matches within a part", "reg*.example.com", "registry.example.com/app", true],
    ["another host does not match", "registry.example.com", "other.example.com/app", false],
  ];
  it.each(cases)("%s (%s, %s)", (_, key, image, match) => expect(registryKeyMatches(key, image)).toBe(match));
});

describe("the credentials tried for an image", () => {
  const entry = (user: string) => ({ username: user, password: PASSWORD });

  it("takes every matching key of a Secret, longest first, and none of another registry", () => {
    const c = config({ "registry.example.com": entry("host"), "registry.example.com/team": entry("team"), "other.example.com": entry("other") });
    expect(registryCredentials("registry.example.com/team/app:v1", [c]).map((a) => a.username)).toEqual(["team", "host"]);
  });

  it("takes the Secrets in the pod's order", () => {
    const first = config({ "registry.example.com": entry("first") });
    const second = config({ "registry.example.com": entry("second") });
    expect(registryCredentials("registry.example.com/app", [second, first]).map((a) => a.username)).toEqual(["second", "first"]);
  });

  it("gives a Docker Hub image the entry docker login writes for the hub", () => {
    const c = config({ "https://index.docker.io/v1/": entry("hub") });
    expect(registryCredentials("nginx:1.27", [c]).map((a) => a.username)).toEqual(["hub"]);
    expect(registryCredentials("registry.example.com/nginx", [c])).toEqual([]);
  });

  it("decodes auth into username and password, auth winning over them", () => {
    const c = config({ "127.0.0.1:5000": { username: "ignored", password: "ignored", auth: Buffer.from(`ci:${PASSWORD}`).toString("base64") } });
    expect(registryCredentials("127.0.0.1:5000/app:v1", [c])).toEqual([{ username: "ci", password: PASSWORD, serveraddress: "127.0.0.1:5000" }]);
  });

  it("reads the legacy dockercfg Secret, a map of registries without auths", () => {
    const read = readPullSecret(dockerConfigJson({ "registry.example.com": entry("legacy") }, "kubernetes.io/dockercfg", ".dockercfg"));
    expect("config" in read && registryCredentials("registry.example.com/app", [read.config]).map((a) => a.username)).toEqual(["legacy"]);
  });
});

describe("pull Secrets that cannot be used", () => {
  const cases: [string, Secret][] = [
    ["an Opaque Secret", dockerConfigJson({ "r.example.com": { username: "u", password: PASSWORD } }, "Opaque")],
    ["a dockerconfigjson Secret without its key", { ...dockerConfigJson({}), stringData: { other: PASSWORD } } as Secret],
    ["a config that is not JSON", { ...dockerConfigJson({}), stringData: { ".dockerconfigjson": `user:${PASSWORD}` } } as Secret],
    ["a config without auths", { ...dockerConfigJson({}), stringData: { ".dockerconfigjson": JSON.stringify({ credsStore: PASSWORD }) } } as Secret],
    ["an entry that is not an object", dockerConfigJson({ "r.example.com": PASSWORD })],
    ["an auth that is not base64 of user:password", dockerConfigJson({ "r.example.com": { auth: Buffer.from(PASSWORD).toString("base64") } })],
    ["an entry without credentials", dockerConfigJson({ "r.example.com": { email: "ci@example.com" } })],
  ];
  it.each(cases)("%s is refused, and the problem shows no value", (_, secret) => {
    const read = readPullSecret(secret);
    expect("problem" in read).toBe(true);
    const problem = "problem" in read ? read.problem : "";
    expect(problem).not.toContain(PASSWORD);
    expect(problem).not.toContain(Buffer.from(PASSWORD).toString("base64"));
  });
});

describe("a registry's answer shown to people", () => {
  it("has the password, the token and the encoded user:password of every credential cut out", () => {
    const auth = [{ username: "ci", password: PASSWORD, identitytoken: "tok-123", serveraddress: "r" }];
    const basic = Buffer.from(`ci:${PASSWORD}`).toString("base64");
    expect(withoutCredentials(`denied for ci (${PASSWORD}) Basic ${basic} token tok-123`, auth)).toBe("denied for ci (***) Basic *** token ***");
  });
});
