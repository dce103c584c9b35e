/**
 * Env values in diagnostics: whatever is wrong with a container's env value (a NUL byte, a wrong type, a
 * ConfigMap value with a NUL byte that env reads), the diagnostic names the file, line and field, and never
 * the value. Env names and references stay visible: they name things.
 */
import { describe, expect, it } from "vitest";
import { buildGraph } from "../../../operator/src/graph/index.js";
import { formatDiagnostic, loadManifests, ManifestCache, type Diagnostic } from "../../../operator/src/manifest/index.js";

/** A marker that cannot occur in a message by chance. */
const MARKER = "Qz7tokenXK93val";

function deployment(env: string, kind: "Deployment" | "Rollout" = "Deployment"): string {
  return (
    [
      kind === "Deployment" ? "apiVersion: apps/v1" : "apiVersion: argoproj.io/v1alpha1",
      `kind: ${kind}`,
      "metadata:",
      "  name: web",
      "spec:",
      "  selector:",
      "    matchLabels: {app: web}",
      ...(kind === "Rollout" ? ["  strategy:", "    canary:", "      steps: [{setWeight: 50}]"] : []),
      "  template:",
      "    metadata:",
      "      labels: {app: web}",
      "    spec:",
      "      containers:",
      "        - name: app",
      "          image: example/app:1",
      "          env:",
      env,
    ].join("\n") + "\n"
  );
}

/** Load and build the graph, as a commit is checked: every diagnostic of both stages. */
function diagnose(files: Record<string, string>): Diagnostic[] {
  const set = loadManifests(
    Object.entries(files).map(([path, content]) => ({ path, content })),
    { cache: new ManifestCache() },
  );
  return [...set.diagnostics, ...buildGraph(set.objects).diagnostics];
}

const ENV0 = "spec.template.spec.containers[0].env[0]";

describe("env values never appear in a diagnostic", () => {
  const configMap = (value: string) => ["apiVersion: v1", "kind: ConfigMap", "metadata:", "  name: settings", "data:", `  token: ${value}`].join("\n") + "\n";

  const cases: { name: string; files: Record<string, string>; code: string; file: string; line: number; field: string }[] = [
    {
      name: "a value with a NUL byte is InvalidField at the value",
      files: { "web.yaml": deployment(`            - name: TOKEN\n              value: "abc\\0${MARKER}"`) },
      code: "InvalidField",
      file: "web.yaml",
      line: 17,
      field: `${ENV0}.value`,
    },
    {
      name: "a Rollout's value with a NUL byte likewise",
      files: { "api.yaml": deployment(`            - name: TOKEN\n              value: "${MARKER}\\0"`, "Rollout") },
      code: "InvalidField",
      file: "api.yaml",
      line: 20,
      field: `${ENV0}.value`,
    },
    {
      name: "a number where a string belongs is SchemaViolation without the number",
      files: { "web.yaml": deployment("            - name: PIN\n              value: 938271645019283") },
      code: "SchemaViolation",
      file: "web.yaml",
      line: 17,
      field: `${ENV0}.value`,
    },
    {
      name: "an env entry written as NAME=value is SchemaViolation without the text",
      files: { "web.yaml": deployment(`            - TOKEN=${MARKER}`) },
      code: "SchemaViolation",
      file: "web.yaml",
      line: 16,
      field: ENV0,
    },
    {
      name: "a ConfigMap value with a NUL byte read through configMapKeyRef is InvalidField at the reference",
      files: {
        "config.yaml": configMap(`"${MARKER}\\0"`),
        "web.yaml": deployment("            - name: TOKEN\n              valueFrom:\n                configMapKeyRef: {name: settings, key: token}"),
      },
      code: "InvalidField",
      file: "web.yaml",
      line: 18,
      field: `${ENV0}.valueFrom.configMapKeyRef.key`,
    },
  ];

  it.each(cases)("$name", ({ files, code, file, line, field }) => {
    const diagnostics = diagnose(files);
    expect(diagnostics.map((d) => ({ code: d.code, file: d.file, line: d.line, field: d.field }))).toEqual([{ code, file, line, field }]);
    const text = diagnostics.map(formatDiagnostic).join("\n");
    expect(text).not.toContain(MARKER);
    expect(text).not.toContain("938271645019283");
  });

  it("still names a bad env name, which is not a value", () => {
    const diagnostics = diagnose({ "web.yaml": deployment("            - name: 1BAD\n              value: fine") });
    expect(diagnostics.map((d) => [d.code, d.field])).toEqual([["SchemaViolation", `${ENV0}.name`]]);
    expect(diagnostics[0]!.message).toContain("1BAD");
  });

  it("accepts an ordinary value and a ConfigMap value without a NUL byte", () => {
    expect(
      diagnose({
        "config.yaml": configMap(JSON.stringify(MARKER)),
        "web.yaml": deployment(
          `            - name: A\n              value: "${MARKER} with spaces and = signs"\n            - name: B\n              valueFrom:\n                configMapKeyRef: {name: settings, key: token}`,
        ),
      }),
    ).toEqual([]);
  });
});
