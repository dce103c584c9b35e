/**
 * Kubernetes manifests as people write them: the kinds coxswain ignores (one warning each, never an
 * object), --strict, diagnostics that name their object, what a reading counts, messages that do not list
 * every kind, and reasons for unsupported fields that say what coxswain does, never what it may do later.
 * The shapes kubectl writes are fixture cases (valid/kubectl-*, valid/ignored-kinds, valid/pod-fields-ignored,
 * invalid/pod-fields-unsupported, invalid/not-a-manifest).
 */
import { describe, expect, it } from "vitest";
import YAML from "yaml";
import { KINDS, type Kind } from "../../../operator/src/api/objects.js";
import { IGNORED_KINDS } from "../../../operator/src/manifest/ignored.js";
import { formatDiagnostic, loadManifests, ManifestCache, readCrdSchema, UNSUPPORTED_KEYWORD, type ManifestSet } from "../../../operator/src/manifest/index.js";

function load(text: string, strict = false): ManifestSet {
  return loadManifests([{ path: "m.yaml", content: text }], { cache: new ManifestCache(), ...(strict ? { strict } : {}) });
}

function deployment(name: string, extra: Record<string, unknown> = {}): string {
  return YAML.stringify({
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name, namespace: "shop" },
    spec: { selector: { matchLabels: { app: name } }, template: { metadata: { labels: { app: name } }, spec: { containers: [{ name, image: `${name}:1` }], ...extra } } },
  });
}

describe("kinds coxswain ignores", () => {
  it.each(Object.entries(IGNORED_KINDS))("reads a %s with one warning that names it and says why, and makes no object of it", (kind, info) => {
    const metadata = info.namespaced ? { name: "x", namespace: "shop" } : { name: "x" };
    for (const apiVersion of info.apiVersions) {
      const set = load(YAML.stringify({ apiVersion, kind, metadata, spec: { anything: ["goes"] } }));
      expect(set.objects).toEqual([]);
      expect(set.diagnostics.map((d) => [d.code, d.severity, d.field, d.object])).toEqual([["IgnoredKind", "warning", "kind", info.namespaced ? `${kind}/shop/x` : `${kind}/x`]]);
      expect(set.diagnostics[0]!.message).toContain(info.why);
      expect(set.read).toEqual({ files: 1, documents: 1, ignored: 1 });
    }
  });

  it("are not kinds coxswain reads", () => {
    for (const kind of Object.keys(IGNORED_KINDS)) expect(Object.keys(KINDS)).not.toContain(kind);
  });

  it("are errors with --strict, and so is every other warning of the reading", () => {
    const text = `${YAML.stringify({ apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "cart" } })}---\n${deployment("cart", { serviceAccountName: "cart" })}---\n${deployment("web")}`;
    const lax = load(text);
    expect(lax.diagnostics.map((d) => [d.code, d.severity])).toEqual([
      ["IgnoredKind", "warning"],
      ["InvalidField", "warning"],
    ]);
    expect(lax.objects.map((o) => o.key)).toEqual(["Deployment/shop/cart", "Deployment/shop/web"]);
    const strict = load(text, true);
    expect(strict.diagnostics.map((d) => [d.code, d.severity])).toEqual([
      ["IgnoredKind", "error"],
      ["InvalidField", "error"],
    ]);
    for (const d of strict.diagnostics) expect(d.message).toMatch(/--strict/);
    // The objects stay, so that a Service selecting the Deployment is not told it selects nothing.
    expect(strict.objects.map((o) => o.key)).toEqual(["Deployment/shop/cart", "Deployment/shop/web"]);
  });
});

describe("diagnostics", () => {
  it("name the object they are about, and print it after the code", () => {
    const set = load(deployment("cart").replace("image: cart:1", "image: 42"));
    expect(set.diagnostics.map((d) => d.object)).toEqual(["Deployment/shop/cart"]);
    expect(formatDiagnostic(set.diagnostics[0]!)).toMatch(/^m\.yaml:\d+:\d+: error SchemaViolation Deployment\/shop\/cart spec\.template\.spec\.containers\[0\]\.image: /);
  });

  it("name an object of an unknown kind as Kind/namespace/name or Kind/name, and nothing when it has no name", () => {
    const one = load("apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w, namespace: shop}\n");
    expect(one.diagnostics.map((d) => d.object)).toEqual(["Widget/shop/w"]);
    const two = load("apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n");
    expect(two.diagnostics.map((d) => d.object)).toEqual(["Widget/w"]);
    const none = load("apiVersion: example.com/v1\nkind: Widget\n");
    expect(none.diagnostics.map((d) => d.object)).toEqual([undefined]);
    expect(formatDiagnostic(none.diagnostics[0]!)).toMatch(/^m\.yaml:2:7: error UnknownKind kind: /);
  });

  it("say of an unknown kind where the kinds are listed instead of listing them", () => {
    const [d] = load("apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n").diagnostics;
    expect(d!.message).toContain("coxswain kinds");
    for (const kind of Object.keys(KINDS)) expect(d!.message).not.toContain(kind);
    expect(d!.message.length).toBeLessThan(160);
  });
});

describe("what a reading counts", () => {
  it("counts files and every non-empty document: broken, ignored and valid ones alike", () => {
    const set = loadManifests(
      [
        { path: "a.yaml", content: `${deployment("a")}---\n---\n# only a comment\n---\n${YAML.stringify({ apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "a" } })}` },
        { path: "b.yaml", content: "kind: [\n" },
        { path: "c.yml", content: YAML.stringify({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "c" }, data: { k: 1 } }) },
        { path: "README.md", content: "not read" },
      ],
      { cache: new ManifestCache() },
    );
    expect(set.read).toEqual({ files: 3, documents: 4, ignored: 1 });
    expect(set.objects.map((o) => o.key)).toEqual(["Deployment/shop/a"]);
  });
});

describe("reasons of unsupported fields", () => {
  /** Every field marked unsupported in a schema, with its path and reason. */
  function unsupported(schema: unknown, path: string[] = []): { path: string[]; reason: string }[] {
    if (schema === null || typeof schema !== "object") return [];
    const s = schema as Record<string, unknown>;
    if (typeof s[UNSUPPORTED_KEYWORD] === "string") return [{ path, reason: s[UNSUPPORTED_KEYWORD] as string }];
    const out: { path: string[]; reason: string }[] = [];
    for (const [k, v] of Object.entries((s.properties as Record<string, unknown> | undefined) ?? {})) out.push(...unsupported(v, [...path, k]));
    if (s.items) out.push(...unsupported(s.items, [...path, "[]"]));
    return out;
  }

  const fields = (Object.keys(KINDS) as Kind[]).flatMap((kind) => unsupported(readCrdSchema(kind)).map((f) => ({ kind, ...f })));

  it("cover the pod fields people's manifests carry", () => {
    const pod = new Set(fields.filter((f) => f.kind === "Deployment").map((f) => f.path.join(".")));
    for (const f of ["volumes.[].projected", "volumes.[].downwardAPI", "initContainers.[].restartPolicy", "hostNetwork", "securityContext.fsGroup", "containers.[].securityContext.seLinuxOptions"]) {
      expect(pod.has(`spec.template.spec.${f}`), f).toBe(true);
    }
  });

  it.each(fields.map((f) => [`${f.kind} ${f.path.join(".")}`, f.reason]))("%s: say what coxswain does, not what it may do later", (_, reason) => {
    expect(reason).not.toMatch(/\byet\b|\buntil\b|\blater\b|\bfor now\b|\bplanned\b|\bsoon\b|\bnot yet\b/i);
  });

  it('are printed as "not supported by coxswain" with the reason, at the field\'s key', () => {
    const set = load(deployment("db", { volumes: [{ name: "data", projected: { sources: [] } }] }));
    expect(set.diagnostics.map((d) => [d.code, d.field])).toEqual([["SchemaViolation", "spec.template.spec.volumes[0].projected"]]);
    expect(set.diagnostics[0]!.message).toMatch(/^"projected" is not supported by coxswain: use a configMap or secret volume/);
  });
});
