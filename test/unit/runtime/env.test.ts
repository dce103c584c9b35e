/**
 * Env values on their way into a runtime: entries no environment can hold are refused by name, and the
 * values never survive into an error's message, in whatever form an engine quotes them.
 */
import { describe, expect, it } from "vitest";
import { CoxError } from "../../../operator/src/api/errors.js";
import { checkLaunchEnv, MIN_REDACTED_LENGTH, redactEnv, withoutEnvValues } from "../../../operator/src/runtime/env.js";
import { codeOf } from "../../support/errors.js";

const MARKER = "Ev83markerTokenJq";

describe("checkLaunchEnv", () => {
  const cases: { name: string; env: Record<string, string>; code: string }[] = [
    { name: "accepts ordinary names and values, = and newlines included", env: { A: "x=y", B: "line 1\nline 2", C: "" }, code: "ok" },
    { name: "refuses a value with a NUL byte", env: { TOKEN: `abc\u0000${MARKER}` }, code: "InvalidField" },
    { name: "refuses a name with =", env: { "A=B": "x" }, code: "InvalidField" },
    { name: "refuses an empty name", env: { "": "x" }, code: "InvalidField" },
  ];

  it.each(cases)("$name", ({ env, code }) => {
    expect(codeOf(() => checkLaunchEnv({ runtimeName: "cx_web", env }))).toBe(code);
  });

  it("names the variable, never the value", () => {
    try {
      checkLaunchEnv({ runtimeName: "cx_web", env: { TOKEN: `abc\u0000${MARKER}` } });
      expect.unreachable();
    } catch (err) {
      expect((err as CoxError).message).toContain("TOKEN");
      expect(`${(err as CoxError).message} ${JSON.stringify((err as CoxError).details)}`).not.toContain(MARKER);
    }
  });
});

describe("redactEnv", () => {
  const cases: { name: string; text: string; env: Record<string, string>; secret?: string[]; expected: string }[] = [
    {
      name: "replaces a value as written",
      text: `login failed for token ${MARKER}`,
      env: { TOKEN: MARKER },
      expected: "login failed for token <value of TOKEN>",
    },
    {
      name: "replaces a value as runc quotes it (Go's %q), the message seen from a real engine",
      text: `OCI runtime create failed: runc create failed: unable to start container process: error during container init: environment variable value can't contain null(\\x00): "TOKEN=abc\\x00${MARKER}": unknown`,
      env: { TOKEN: `abc\u0000${MARKER}` },
      expected: 'OCI runtime create failed: runc create failed: unable to start container process: error during container init: environment variable value can\'t contain null(\\x00): "TOKEN=<value of TOKEN>": unknown',
    },
    {
      name: "replaces a value as JSON quotes it",
      text: `{"env":"${MARKER}\\n2"}`,
      env: { TOKEN: `${MARKER}\n2` },
      expected: '{"env":"<value of TOKEN>"}',
    },
    {
      name: "replaces the longer of two overlapping values whole",
      text: `${MARKER}-suffix and ${MARKER}`,
      env: { SHORT: MARKER, LONG: `${MARKER}-suffix` },
      expected: "<value of LONG> and <value of SHORT>",
    },
    {
      name: "leaves values too short to find reliably (ports, flags) alone",
      text: "port 31999 is in use; debug true",
      env: { PORT: "31999", DEBUG: "true" },
      expected: "port 31999 is in use; debug true",
    },
    {
      name: "replaces a Secret's value however short, and only the Secret's",
      text: "exec: pin 4711 refused on port 31999",
      env: { PIN: "4711", PORT: "31999" },
      secret: ["PIN"],
      expected: "exec: pin <value of PIN> refused on port 31999",
    },
    {
      name: "never searches a replacement again: a one-letter Secret (in the other value too) leaves the text it put in alone",
      text: `${MARKER} a`,
      env: { TOKEN: MARKER, A: "a" },
      secret: ["A"],
      expected: "<value of TOKEN> <value of A>",
    },
    {
      name: "leaves the pod's own name, node and revision alone (coxswain's variables: what the message names anyway)",
      text: "no such container cx_default_web-7f9c2-abcde_app on node-1 (revision 7f9c2d1e)",
      env: { COXSWAIN_POD: "web-7f9c2-abcde", COXSWAIN_NODE: "node-1", COXSWAIN_REVISION: "7f9c2d1e", TOKEN: MARKER },
      expected: "no such container cx_default_web-7f9c2-abcde_app on node-1 (revision 7f9c2d1e)",
    },
    {
      name: "but redacts a value of one of those names that comes from a Secret",
      text: "login node-1 refused",
      env: { COXSWAIN_NODE: "node-1" },
      secret: ["COXSWAIN_NODE"],
      expected: "login <value of COXSWAIN_NODE> refused",
    },
  ];

  it.each(cases)("$name", ({ text, env, secret, expected }) => {
    expect(redactEnv(text, env, secret)).toBe(expected);
  });

  it("redacts from MIN_REDACTED_LENGTH characters on", () => {
    const v = "x".repeat(MIN_REDACTED_LENGTH);
    expect(redactEnv(`a ${v} b`, { V: v })).toBe("a <value of V> b");
    expect(redactEnv(`a ${v.slice(1)} b`, { V: v.slice(1) })).toBe(`a ${v.slice(1)} b`);
  });
});

describe("withoutEnvValues", () => {
  it("returns an error that quotes no value unchanged", () => {
    const err = new CoxError("RuntimeCallFailed", "no such image");
    expect(withoutEnvValues(err, { TOKEN: MARKER })).toBe(err);
  });

  it("keeps the code and details, redacts the message and drops a cause that quotes a value", () => {
    const cause = new Error(`engine said: ${MARKER}`);
    const err = new CoxError("RuntimeCallFailed", "start failed", { cause, details: { node: "n1" } });
    const clean = withoutEnvValues(err, { TOKEN: MARKER }) as CoxError;
    expect([clean.code, clean.message, clean.details, clean.cause]).toEqual(["RuntimeCallFailed", "start failed", { node: "n1" }, undefined]);
  });

  it("turns a foreign error quoting a value into a RuntimeCallFailed without it", () => {
    const clean = withoutEnvValues(new TypeError(`The property 'options.env['TOKEN']' must be a string without null bytes. Received '${MARKER}'`), { TOKEN: MARKER }) as CoxError;
    expect(clean.code).toBe("RuntimeCallFailed");
    expect(clean.message).not.toContain(MARKER);
  });
});
