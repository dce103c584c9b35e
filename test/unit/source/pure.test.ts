/**
 * The pure parts of source/: where a repository lives (credentials split off), ref names we accept, trees
 * built from flat paths, and the rewrite of an advertisement whose HEAD is unborn.
 */
import { describe, expect, it } from "vitest";
import { isCoxError } from "../../../operator/src/api/errors.js";
import { patchUnbornHead } from "../../../operator/src/source/http.js";
import { assertRefName } from "../../../operator/src/source/refs.js";
import { buildDirectory } from "../../../operator/src/source/commits.js";
import { normalizeDir } from "../../../operator/src/source/read.js";
import { mirrorPath, parseRepoLocation, redactUrl } from "../../../operator/src/source/url.js";

describe("parseRepoLocation", () => {
  it.each([
    ["a relative path", "repos/app", { kind: "local", path: "repos/app" }],
    ["an absolute path", "/srv/git/app.git", { kind: "local", path: "/srv/git/app.git" }],
    ["a file URL", "file:///srv/git/app.git", { kind: "local", path: "/srv/git/app.git" }],
    ["an https URL", "https://git.example.com/org/app.git", { kind: "remote", url: "https://git.example.com/org/app.git" }],
    ["a URL with credentials", "http://bot:p%40ss@127.0.0.1:8080/app.git", { kind: "remote", url: "http://127.0.0.1:8080/app.git", credentials: { username: "bot", password: "p@ss" } }],
    ["a URL with a fragment", "https://example.com/app.git#main", { kind: "remote", url: "https://example.com/app.git" }],
  ])("reads %s", (_what, input, expected) => {
    expect(parseRepoLocation(input)).toEqual(expected);
  });

  it.each([
    ["an ssh URL", "ssh://git@example.com/app.git"],
    ["a scp-like address", "git@example.com:org/app.git"],
    ["a git:// URL", "git://example.com/app.git"],
    ["an empty string", "  "],
  ])("rejects %s with RepoNotFound", (_what, input) => {
    let err: unknown;
    try {
      parseRepoLocation(input);
    } catch (e) {
      err = e;
    }
    expect(isCoxError(err, "RepoNotFound")).toBe(true);
  });

  it("never echoes credentials of a URL it rejects", () => {
    try {
      parseRepoLocation("ftp://user:hunter2@example.com/x");
    } catch (e) {
      expect(String((e as Error).message)).not.toContain("hunter2");
    }
  });
});

describe("redactUrl and mirrorPath", () => {
  it("removes user:password@ from every URL in a text", () => {
    expect(redactUrl("fetch http://a:b@h/x and https://c@h2/y failed")).toBe("fetch http://h/x and https://h2/y failed");
  });

  it("names a mirror by a hash of the credential-free URL", () => {
    const a = mirrorPath("/state", "http://127.0.0.1/app.git");
    expect(a).toMatch(/^\/state\/mirrors\/[0-9a-f]{16}\.git$/);
    expect(mirrorPath("/state", "http://127.0.0.1/other.git")).not.toBe(a);
  });
});

describe("assertRefName", () => {
  it.each(["refs/heads/coxswain/status", "refs/notes/coxswain", "refs/heads/a-b_c.d"])("accepts %s", (ref) => {
    expect(() => assertRefName(ref)).not.toThrow();
  });
  it.each(["coxswain/status", "refs/heads/", "refs/heads/a..b", "refs/heads/x.lock", "refs/heads/.hidden", "refs/heads/a b", "refs/heads/a@{1}"])("rejects %s", (ref) => {
    expect(() => assertRefName(ref)).toThrow();
  });
});

describe("buildDirectory and normalizeDir", () => {
  it("nests flat paths into directories", () => {
    const root = buildDirectory([
      { path: "a/b/c.yaml", content: "c" },
      { path: "a/d.yaml", content: "d" },
      { path: "e.yaml", content: "e" },
    ]);
    const a = root.get("a") as Map<string, unknown>;
    expect([...root.keys()].sort()).toEqual(["a", "e.yaml"]);
    expect([...a.keys()].sort()).toEqual(["b", "d.yaml"]);
    expect((a.get("b") as Map<string, unknown>).get("c.yaml")).toBe("c");
  });

  it.each([
    ["", ""],
    [".", ""],
    ["./", ""],
    ["/apps/", "apps"],
    ["./apps/web", "apps/web"],
    ["apps\\web", "apps/web"],
  ])("normalizes %j to %j", (input, expected) => {
    expect(normalizeDir(input)).toBe(expected);
  });
});

/** A v1 upload-pack advertisement with the given ref lines (first carries the capabilities). */
function advertisement(refs: [string, string][], caps = "multi_ack side-band-64k ofs-delta"): Buffer {
  const pkt = (s: string): string => (s.length + 4).toString(16).padStart(4, "0") + s;
  let out = pkt("# service=git-upload-pack\n") + "0000";
  for (const [i, [oid, name]] of refs.entries()) out += pkt(i === 0 ? `${oid} ${name}\0${caps}\n` : `${oid} ${name}\n`);
  return Buffer.from(out + "0000", "latin1");
}
const A = "a".repeat(40);
const B = "b".repeat(40);

describe("patchUnbornHead", () => {
  it("adds a HEAD line pointing at main when the advertisement has none", () => {
    const out = patchUnbornHead(
      advertisement([
        [A, "refs/heads/feature"],
        [B, "refs/heads/main"],
      ]),
    ).toString("latin1");
    expect(out).toContain(`${B} HEAD\0multi_ack side-band-64k ofs-delta symref=HEAD:refs/heads/main\n`);
    expect(out).toContain(`${A} refs/heads/feature\n`);
    expect(out).not.toContain(`${A} refs/heads/feature\0`);
  });

  it("falls back to master, then to the first branch by name", () => {
    expect(patchUnbornHead(advertisement([[A, "refs/heads/master"]])).toString("latin1")).toContain("symref=HEAD:refs/heads/master");
    expect(
      patchUnbornHead(
        advertisement([
          [A, "refs/heads/zeta"],
          [B, "refs/heads/alpha"],
        ]),
      ).toString("latin1"),
    ).toContain(`${B} HEAD\0multi_ack side-band-64k ofs-delta symref=HEAD:refs/heads/alpha`);
  });

  it.each([
    [
      "an advertisement with HEAD",
      advertisement([
        [A, "HEAD"],
        [A, "refs/heads/main"],
      ]),
    ],
    ["an empty repository", advertisement([["0".repeat(40), "capabilities^{}"]])],
    ["tags only", advertisement([[A, "refs/tags/v1"]])],
    ["something that is not pkt-lines", Buffer.from("<html>nope</html>")],
  ])("leaves %s unchanged", (_what, input) => {
    expect(patchUnbornHead(input).equals(input)).toBe(true);
  });
});
