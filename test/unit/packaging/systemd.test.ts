/**
 * The example systemd unit (operator/systemd/coxswain.service): `systemd-analyze verify` accepts it with no
 * warning (an unknown key or a bad value is only a warning there, so its output must be empty), it runs
 * coxswain as an unprivileged user with its state under StateDirectory=, and every flag it passes is one
 * `coxswain run` accepts, every variable it reads set in the example environment file.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { RUN_USAGE } from "../../../operator/src/cli/run.js";
import { ROOT } from "../../support/cli.js";

const DIR = path.join(ROOT, "operator/systemd");
const unit = readFileSync(path.join(DIR, "coxswain.service"), "utf8");

/** The unit's settings by section, repeated keys in order (comments and blank lines skipped). */
function sections(text: string): Map<string, [string, string][]> {
  const out = new Map<string, [string, string][]>();
  let current: [string, string][] | undefined;
  for (const line of text.split("\n")) {
    if (line.trim() === "" || line.startsWith("#")) continue;
    const head = /^\[(\w+)\]$/.exec(line);
    if (head) out.set(head[1]!, (current = []));
    else current!.push([line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)]);
  }
  return out;
}

describe("the systemd unit", () => {
  const s = sections(unit);
  const service = new Map(s.get("Service"));
  const hasAnalyze = spawnSync("systemd-analyze", ["--version"]).status === 0;

  it.skipIf(!hasAnalyze)("passes systemd-analyze verify without a warning", () => {
    // verify checks that ExecStart's program exists: the checkout's own command stands in for the installed one.
    const dir = mkdtempSync(path.join(os.tmpdir(), "coxswain-unit-"));
    try {
      writeFileSync(path.join(dir, "coxswain.service"), unit.replace("ExecStart=/usr/bin/coxswain ", `ExecStart=${ROOT}/operator/bin/coxswain.js `));
      const r = spawnSync("systemd-analyze", ["verify", path.join(dir, "coxswain.service")], { encoding: "utf8" });
      expect(r.stderr + r.stdout).toBe("");
      expect(r.status).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("runs coxswain run as an unprivileged user, restarted on failure, with its state in StateDirectory", () => {
    expect([...s.keys()]).toEqual(["Unit", "Service", "Install"]);
    expect(service.get("User")).toBe("coxswain");
    expect(service.get("ExecStart")).toMatch(/^\/usr\/bin\/coxswain run --repo \$\{COXSWAIN_REPO\} /);
    expect(service.get("ExecStart")).toContain("--state-dir %S/coxswain");
    expect(service.get("ExecStart")).toContain("--runtime docker");
    expect(service.get("StateDirectory")).toBe("coxswain");
    expect(service.get("Restart")).toBe("on-failure");
    expect(service.get("NoNewPrivileges")).toBe("yes");
    expect(new Map(s.get("Install")).get("WantedBy")).toBe("multi-user.target");
  });

  it("passes only flags coxswain run accepts, and reads only variables the example environment file sets", () => {
    const exec = service.get("ExecStart")!;
    const flags = [...exec.matchAll(/ --([a-z-]+)/g)].map((m) => m[1]!);
    expect(flags.length).toBeGreaterThan(4);
    for (const f of flags) expect(RUN_USAGE, `--${f}`).toContain(`--${f} `);
    const env = new Set(
      readFileSync(path.join(DIR, "coxswain.env"), "utf8")
        .split("\n")
        .filter((l) => /^[A-Z_]+=/.test(l))
        .map((l) => l.slice(0, l.indexOf("="))),
    );
    const used = [...exec.matchAll(/\$\{?([A-Z_]+)\}?/g)].map((m) => m[1]!);
    expect(used.length).toBeGreaterThan(2);
    for (const v of used) expect(env, v).toContain(v);
  });
});
