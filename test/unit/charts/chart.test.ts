/**
 * The Helm chart cannot be rendered here (no helm binary, no cluster), so this checks what can break
 * silently: the chart metadata, and that every `.Values.x.y` the templates read exists in values.yaml and
 * every `coxswain` flag they pass is one `coxswain run` accepts.
 */
import { readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import YAML from "yaml";
import { RUN_USAGE } from "../../../operator/src/cli/run.js";

const CHART = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../charts/coxswain");
const pkg = JSON.parse(readFileSync(path.resolve(CHART, "../../package.json"), "utf8"));

describe("the Helm chart", () => {
  const chart = YAML.parse(readFileSync(path.join(CHART, "Chart.yaml"), "utf8"));
  const values = YAML.parse(readFileSync(path.join(CHART, "values.yaml"), "utf8"));
  const templates = readdirSync(path.join(CHART, "templates")).map((f) => readFileSync(path.join(CHART, "templates", f), "utf8"));

  it("is a v2 application chart whose appVersion is the package version", () => {
    expect(chart.apiVersion).toBe("v2");
    expect(chart.name).toBe("coxswain");
    expect(chart.appVersion).toBe(pkg.version);
  });

  it("reads only values that values.yaml defines", () => {
    const used = new Set<string>();
    for (const t of templates) for (const m of t.matchAll(/\.Values\.([A-Za-z0-9_.]+)/g)) used.add(m[1]!);
    expect(used.size).toBeGreaterThan(5);
    for (const ref of used) {
      const value = ref.split(".").reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k], values);
      expect(value, `.Values.${ref}`).not.toBeUndefined();
    }
  });

  it("passes only flags that coxswain run accepts", () => {
    const flags = new Set<string>();
    for (const t of templates) for (const m of t.matchAll(/- --([a-z-]+)=/g)) flags.add(m[1]!);
    expect(flags.size).toBeGreaterThan(3);
    for (const f of flags) expect(RUN_USAGE, `--${f}`).toContain(`--${f} `);
  });
});
