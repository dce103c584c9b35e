/**
 * The Helm chart cannot be rendered here (Debian packages no helm, and no cluster is reachable), so this
 * checks what can break silently: the chart metadata; that every `.Values.x.y` the templates read exists in
 * values.yaml, every template named by `include` is defined, every block is closed; that every template is
 * well-formed YAML once its actions are stood in for (a control line dropped, a `| nindent N` action as a
 * mapping entry at that indentation — what `toYaml` and the label helpers render —, any other action as a
 * scalar); that every `coxswain` flag passed is one `coxswain run` accepts; and the settings the chart
 * promises (probes on /healthz and /readyz, a non-root user, the Secrets and the state volume).
 */
import { readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import YAML from "yaml";
import { RUN_USAGE } from "../../../operator/src/cli/run.js";

const CHART = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../charts/coxswain");
const pkg = JSON.parse(readFileSync(path.resolve(CHART, "../../package.json"), "utf8"));

/** A control action: it renders nothing of its own (blocks, assignments, fail, comments). */
const CONTROL = /^\{\{-?\s*(if|else|end|range|with|define|fail|\$[A-Za-z]+\s*:=|\/\*)/;

/** The template with its actions stood in for (see the file's comment); not a renderer, a shape check. */
function standIn(template: string): string {
  const out: string[] = [];
  for (const line of template.split("\n")) {
    const trimmed = line.trim();
    if (
      /^(\{\{-?[^}]*-?\}\}\s*)+$/.test(trimmed) &&
      trimmed
        .split(/\}\}\s*/)
        .filter(Boolean)
        .every((a) => CONTROL.test(a.trim()))
    )
      continue;
    const nindent = /^\{\{-?.*\|\s*nindent\s+(\d+)\s*-?\}\}$/.exec(trimmed);
    if (nindent) out.push(`${" ".repeat(Number(nindent[1]))}rendered_by_helm: x`);
    else out.push(line.replace(/\{\{-?.*?-?\}\}/g, "x"));
  }
  return out.join("\n");
}

describe("the Helm chart", () => {
  const chart = YAML.parse(readFileSync(path.join(CHART, "Chart.yaml"), "utf8"));
  const values = YAML.parse(readFileSync(path.join(CHART, "values.yaml"), "utf8"));
  const names = readdirSync(path.join(CHART, "templates")).sort();
  const text = (name: string) => readFileSync(path.join(CHART, "templates", name), "utf8");
  const templates = names.map(text);
  const manifests = names.filter((n) => n.endsWith(".yaml"));

  it("is a v2 application chart whose appVersion is the package version", () => {
    expect(chart.apiVersion).toBe("v2");
    expect(chart.name).toBe("coxswain");
    expect(chart.type).toBe("application");
    expect(chart.version).toMatch(/^\d+\.\d+\.\d+$/);
    expect(chart.appVersion).toBe(pkg.version);
    expect(chart.description).toBeTruthy();
    expect(names).toEqual(["_helpers.tpl", "deployment.yaml", "pvc.yaml", "secrets.yaml", "service.yaml"]);
  });

  it("reads only values that values.yaml defines", () => {
    const used = new Set<string>();
    for (const t of templates) for (const m of t.matchAll(/\.Values\.([A-Za-z0-9_.]+)/g)) used.add(m[1]!);
    expect(used.size).toBeGreaterThan(20);
    for (const ref of used) {
      const value = ref.split(".").reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k], values);
      expect(value, `.Values.${ref}`).not.toBeUndefined();
    }
  });

  it("includes only defined templates and closes every block", () => {
    const defined = new Set([...templates.join("\n").matchAll(/\{\{-?\s*define\s+"([^"]+)"/g)].map((m) => m[1]!));
    for (const [i, t] of templates.entries()) {
      for (const m of t.matchAll(/include\s+"([^"]+)"/g)) expect(defined, `${names[i]}: include "${m[1]}"`).toContain(m[1]!);
      const opened = [...t.matchAll(/\{\{-?\s*(if|range|with|define)\b/g)].length;
      const closed = [...t.matchAll(/\{\{-?\s*end\s*-?\}\}/g)].length;
      expect(closed, names[i]).toBe(opened);
    }
  });

  it("has templates that are well-formed Kubernetes objects once the actions are stood in for", () => {
    const kinds: string[] = [];
    for (const name of manifests) {
      for (const doc of YAML.parseAllDocuments(standIn(text(name)))) {
        expect(doc.errors.map((e) => `${name}: ${e.message}`)).toEqual([]);
        const obj = doc.toJS() as { apiVersion?: string; kind?: string; metadata?: { name?: string } } | null;
        if (obj === null) continue;
        expect(obj.apiVersion, name).toMatch(/^(v1|apps\/v1)$/);
        expect(obj.metadata?.name, name).toBeTruthy();
        kinds.push(obj.kind!);
      }
    }
    expect(kinds.sort()).toEqual(["Deployment", "PersistentVolumeClaim", "Secret", "Secret", "Secret", "Secret", "Service"]);
  });

  it("passes only flags that coxswain run accepts", () => {
    const flags = new Set<string>();
    for (const t of templates) for (const m of t.matchAll(/- --([a-z-]+)=/g)) flags.add(m[1]!);
    expect([...flags].sort()).toEqual([
      "age-key-file",
      "api-token-file",
      "branch",
      "git-credentials-file",
      "listen",
      "log-format",
      "log-level",
      "path",
      "poll-interval",
      "repo",
      "runtime",
      "state-dir",
      "webhook-secret-file",
    ]);
    for (const f of flags) expect(RUN_USAGE, `--${f}`).toContain(`--${f} `);
  });

  it("runs the operator as a non-root user, probes /healthz and /readyz on the API port its Service serves", () => {
    expect(values.podSecurityContext.runAsNonRoot).toBe(true);
    expect(values.podSecurityContext.runAsUser).toBeGreaterThan(0);
    expect(values.securityContext.allowPrivilegeEscalation).toBe(false);
    const deployment = text("deployment.yaml");
    expect(deployment).toMatch(/livenessProbe:\n\s+httpGet:\n\s+path: \/healthz\n\s+port: api/);
    expect(deployment).toMatch(/readinessProbe:\n\s+httpGet:\n\s+path: \/readyz\n\s+port: api/);
    expect(deployment).toContain("- --listen=0.0.0.0:{{ .Values.api.port }}");
    // Off loopback coxswain serves its read API only with tokens (ApiTokensRequired otherwise): the chart
    // refuses to render without them rather than make a pod that never starts.
    expect(deployment).toMatch(/\{\{- if not \$apiTokens \}\}\n\{\{- fail "apiTokens is required/);
    expect(text("service.yaml")).toContain("targetPort: api");
  });

  it("mounts each Secret at the file its flag reads, and the state volume at --state-dir", () => {
    const deployment = text("deployment.yaml");
    for (const [flag, dir, file] of [
      ["api-token-file", "/etc/coxswain/api", "tokens"],
      ["git-credentials-file", "/etc/coxswain/git", "credentials"],
      ["webhook-secret-file", "/etc/coxswain/webhook", "secret"],
      ["age-key-file", "/etc/coxswain/age", "keys.txt"],
    ] as const) {
      expect(deployment).toContain(`- --${flag}=${dir}/${file}`);
      expect(deployment).toContain(`mountPath: ${dir}\n`);
      // The key the chart's own Secret stores is the file name the flag reads.
      expect(text("secrets.yaml")).toMatch(new RegExp(`\\n  ${file.replace(".", "\\.")}: `));
    }
    expect(deployment).toContain("- --state-dir={{ .Values.stateDir }}");
    expect(deployment).toContain("mountPath: {{ .Values.stateDir }}");
    expect(deployment).toContain('claimName: {{ .Values.persistence.existingClaim | default (printf "%s-state" (include "coxswain.fullname" .)) }}');
    expect(text("pvc.yaml")).toContain('name: {{ include "coxswain.fullname" . }}-state');
  });
});
