/**
 * The suite's secret scan (test/support/secret-scan.ts) finds a value as written, as a Secret's data holds
 * it (base64), and inside a longer base64 text at each of the three byte offsets (a .dockerconfigjson's
 * auth "user:password"), names the text and the value's position but not the value, and finds nothing
 * where the value is absent.
 */
import { describe, expect, it } from "vitest";
import { findSecrets } from "../../support/secret-scan.js";

const VALUE = "Qx81scanMeIfYouCan";
const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64");

describe("findSecrets", () => {
  it("finds a value plainly and in base64, whole or at any offset inside a longer base64 text", () => {
    const texts = [
      { where: "plain", text: `password: ${VALUE}\n` },
      { where: "data", text: `data:\n  password: ${b64(VALUE)}\n` },
      ...["", "u", "us", "use"].map((prefix) => ({ where: `auth after ${prefix.length}`, text: `"auth": "${b64(`${prefix}:${VALUE}`)}"` })),
      { where: "clean", text: `password: ${VALUE.slice(0, 10)} ${b64(VALUE.slice(1))}`.replace(/./g, (c) => (c === VALUE[0] ? "_" : c)) },
    ];
    const found = findSecrets(texts, ["not-anywhere-at-all", VALUE]);
    expect(found).toEqual(["value 1 in plain", "value 1 (base64) in data", "value 1 (base64) in auth after 0", "value 1 (base64) in auth after 1", "value 1 (base64) in auth after 2", "value 1 (base64) in auth after 3"]);
    expect(found.join("\n")).not.toContain(VALUE);
  });

  it("refuses a value too short to tell from chance", () => {
    expect(() => findSecrets([], ["short"])).toThrow(/shorter than 8 bytes/);
  });
});
