import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isCoxError } from "../../../operator/src/api/errors.js";
import { parseProcStat, readProcStat } from "../../../operator/src/runtime/process/proc.js";
import { resolveProgram } from "../../../operator/src/runtime/process/resolve.js";

describe("parseProcStat", () => {
  const tail = "S 1 42 42 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 98765 1000 10 18446744073709551615";

  it.each([
    { name: "reads state, parent, process group and start time of a plain command", comm: "sleep" },
    { name: "reads past a command name with spaces", comm: "my server" },
    { name: "reads past a command name with parentheses", comm: "a) (b) S 7 7" },
  ])("$name", ({ comm }) => {
    expect(parseProcStat(`4242 (${comm}) ${tail}`)).toEqual({ pid: 4242, state: "S", ppid: 1, pgrp: 42, startTime: 98765 });
  });

  it.each([
    { name: "rejects text without a command name", text: "4242 sleep S 1 42" },
    { name: "rejects a line cut before the start time", text: "4242 (sleep) S 1 42 42 0" },
  ])("$name", ({ text }) => {
    expect(parseProcStat(text)).toBeUndefined();
  });

  it("reads the running process itself from /proc", () => {
    const me = readProcStat(process.pid);
    expect(me?.pid).toBe(process.pid);
    expect(me?.startTime).toBeGreaterThan(0);
    expect(readProcStat(0x7ffffffe)).toBeUndefined();
  });
});

describe("resolveProgram", () => {
  let root = "";
  let bin1 = "";
  let bin2 = "";

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), "cx-resolve-"));
    bin1 = join(root, "bin1");
    bin2 = join(root, "bin2");
    await mkdir(bin1);
    await mkdir(bin2);
    await mkdir(join(root, "work"));
    await mkdir(join(bin1, "dir-named-tool"));
    for (const [dir, name, mode] of [
      [bin1, "plain", 0o644],
      [bin2, "plain", 0o755],
      [bin1, "first", 0o755],
      [bin2, "first", 0o755],
      [bin2, "dir-named-tool", 0o755],
      [join(root, "work"), "local", 0o755],
    ] as const) {
      await writeFile(join(dir, name), "#!/bin/sh\n");
      await chmod(join(dir, name), mode);
    }
    await symlink(join(bin2, "first"), join(bin2, "linked"));
  });

  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  const found: { name: string; program: string; path: () => string; expected: () => string }[] = [
    { name: "takes the first PATH directory that has the program", program: "first", path: () => `${bin1}:${bin2}`, expected: () => join(bin1, "first") },
    { name: "skips a file that is not executable", program: "plain", path: () => `${bin1}:${bin2}`, expected: () => join(bin2, "plain") },
    { name: "skips a directory with the program's name", program: "dir-named-tool", path: () => `${bin1}:${bin2}`, expected: () => join(bin2, "dir-named-tool") },
    { name: "keeps a symlink's own path so argv[0] stays the name it was called by", program: "linked", path: () => bin2, expected: () => join(bin2, "linked") },
    { name: "resolves a relative path against the working directory", program: "./local", path: () => "", expected: () => join(root, "work", "local") },
    { name: "takes an absolute path as it is", program: "/bin/sh", path: () => "", expected: () => "/bin/sh" },
  ];

  it.each(found)("$name", ({ program, path, expected }) => {
    expect(resolveProgram(program, path(), join(root, "work"))).toBe(expected());
  });

  const missing: { name: string; program: string; path: () => string }[] = [
    { name: "reports a program on no PATH directory", program: "nothing-like-this", path: () => `${bin1}:${bin2}` },
    { name: "does not search the working directory through an empty PATH entry", program: "local", path: () => `:${bin1}` },
    { name: "reports a program that is only there without the execute bit", program: "plain", path: () => bin1 },
    { name: "reports a missing relative path", program: "./absent", path: () => bin1 },
    { name: "reports an empty program name", program: "", path: () => bin1 },
  ];

  it.each(missing)("$name as CommandNotFound", ({ program, path }) => {
    let caught: unknown;
    try {
      resolveProgram(program, path(), join(root, "work"));
    } catch (err) {
      caught = err;
    }
    expect(isCoxError(caught, "CommandNotFound")).toBe(true);
  });
});
