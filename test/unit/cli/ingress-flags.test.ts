/**
 * `coxswain run --ingress-http-port` / `--ingress-https-port`: what they turn into (OperatorOptions.ingress)
 * and the errors for bad values (asserted by code), checked like --port-range before anything starts.
 */
import { describe, expect, it } from "vitest";
import { isCoxError } from "../../../operator/src/api/errors.js";
import { runOptions } from "../../../operator/src/cli/run.js";

const options = (...flags: string[]) => runOptions(["--repo", "/srv/repo", ...flags], () => undefined);

/** The CoxError code the options end with, or "ok". */
async function codeOfOptions(...flags: string[]): Promise<string> {
  try {
    await options(...flags);
    return "ok";
  } catch (err) {
    return isCoxError(err) ? err.code : "not a CoxError";
  }
}

describe("ingress port flags", () => {
  it("serve no Ingresses when neither is given", async () => {
    expect((await options()).ingress).toBeUndefined();
  });

  it.each([
    { flags: ["--ingress-http-port", "80"], want: { httpPort: 80 } },
    { flags: ["--ingress-https-port", "8443"], want: { httpsPort: 8443 } },
    { flags: ["--ingress-http-port", "8080", "--ingress-https-port", "8443"], want: { httpPort: 8080, httpsPort: 8443 } },
    { flags: ["--ingress-http-port=65535"], want: { httpPort: 65535 } },
  ])("turn $flags into $want", async ({ flags, want }) => {
    expect((await options(...flags)).ingress).toEqual(want);
  });

  it.each([
    ["--ingress-http-port", "0"],
    ["--ingress-http-port", "65536"],
    ["--ingress-https-port", "443x"],
    ["--ingress-https-port", "-1"],
    ["--ingress-http-port", ""],
    ["--ingress-http-port", "8.5"],
    ["--ingress-http-port", "8080", "--ingress-https-port", "8080"],
  ])("refuse %s %s %s %s as InvalidArgument", async (...flags) => {
    expect(await codeOfOptions(...flags)).toBe("InvalidArgument");
  });
});
