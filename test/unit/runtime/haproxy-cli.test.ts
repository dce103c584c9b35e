/**
 * Reading HAProxy 2.6's answers. The texts are what Debian's 2.6.12 printed on this machine (show proc,
 * show stat with traffic, runtime-API answers, -c and bind alerts).
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { alertLines, bindFailures, parseInfoPid, parseShowProc, parseStatCsv, runtimeAnswerError } from "../../../operator/src/runtime/proxy/haproxy-cli.js";

const PROC_HEADER = "#<PID>          <type>          <reloads>       <uptime>        <version>      ";

describe("parseShowProc", () => {
  it.each([
    {
      name: "reads the master and its worker after a start",
      text: [
        PROC_HEADER,
        "17501           master          0 [failed: 0]   0d00h00m02s     2.6.12-1+deb12u4",
        "# workers",
        "17504           worker          0               0d00h00m02s     2.6.12-1+deb12u4",
        "# programs",
        "",
        "",
      ],
      want: { masterPid: 17501, reloads: 0, failedReloads: 0, workers: [{ pid: 17504, reloads: 0 }] },
    },
    {
      name: "reads a failed reload: the old worker keeps serving with its reload count raised",
      text: [
        PROC_HEADER,
        "17281           master          2 [failed: 1]   0d00h00m15s     2.6.12-1+deb12u4",
        "# workers",
        "17692           worker          1               0d00h00m08s     2.6.12-1+deb12u4",
        "# programs",
        "",
      ],
      want: { masterPid: 17281, reloads: 2, failedReloads: 1, workers: [{ pid: 17692, reloads: 1 }] },
    },
    {
      name: "leaves out workers listed under another header",
      text: [PROC_HEADER, "10 master 3 [failed: 0] 0d00h00m36s 2.6.12", "# workers", "12 worker 0 0d00h00m01s 2.6.12", "# old workers", "11 worker 1 0d00h00m30s 2.6.12", "# programs", ""],
      want: { masterPid: 10, reloads: 3, failedReloads: 0, workers: [{ pid: 12, reloads: 0 }] },
    },
    {
      name: "reads a master row without a failed count as no failure",
      text: [PROC_HEADER, "10 master 1 0d00h00m36s 2.4.0", "# workers", "12 worker 0 0d00h00m01s 2.4.0"],
      want: { masterPid: 10, reloads: 1, failedReloads: 0, workers: [{ pid: 12, reloads: 0 }] },
    },
  ])("$name", ({ text, want }) => {
    expect(parseShowProc(text.join("\n"))).toEqual(want);
  });

  it("is undefined for an answer without a master row", () => {
    expect(parseShowProc("Unknown command.\n")).toBeUndefined();
    expect(parseShowProc("")).toBeUndefined();
  });
});

describe("parseInfoPid", () => {
  it("reads the serving process's pid from show info, and nothing from other text", () => {
    expect(parseInfoPid("Name: HAProxy\nVersion: 2.6.12-1+deb12u4\nNbthread: 2\nPid: 17285\nUptime: 0d 0h00m04s\n")).toBe(17285);
    expect(parseInfoPid("Unknown command.\n")).toBeUndefined();
  });
});

describe("parseStatCsv", () => {
  const csv = readFileSync(new URL("../../fixtures/haproxy/show-stat.csv", import.meta.url), "utf8");

  it("reads backends and servers, leaves out frontends, and sorts them with each backend's own row first", () => {
    const rows = parseStatCsv(csv);
    expect(rows.map((r) => [r.backend, r.server ?? "-", r.status])).toEqual([
      ["be", "-", "UP"],
      ["be", "s1", "DRAIN"],
      ["be", "s2", "no check"],
      ["zz", "-", "DOWN"],
      ["zz", "x", "MAINT"],
    ]);
  });

  it("reads a server's counters, address and weight", () => {
    expect(parseStatCsv(csv).find((r) => r.server === "s2")).toEqual({
      backend: "be",
      server: "s2",
      status: "no check",
      weight: 7,
      address: "127.0.0.1:18491",
      requestsTotal: 5,
      sessionsTotal: 5,
      responses2xx: 3,
      responses3xx: 0,
      responses4xx: 2,
      responses5xx: 0,
      connectionErrors: 0,
      currentSessions: 0,
      queued: 0,
      responseTimeMs: 1,
      totalTimeMs: 1,
    });
  });

  it("reads quoted fields and empty counters", () => {
    const text = ["# pxname,svname,type,status,uweight,stot,req_tot,check_desc,addr", 'b,"s,1",2,UP,3,,,"say ""hi"", twice",10.0.0.1:80', ""].join("\n");
    expect(parseStatCsv(text)).toMatchObject([{ backend: "b", server: "s,1", weight: 3, sessionsTotal: 0, requestsTotal: 0, address: "10.0.0.1:80" }]);
  });

  it("is empty for an answer without a header", () => {
    expect(parseStatCsv("Permission denied\n")).toEqual([]);
  });
});

describe("runtimeAnswerError", () => {
  it.each([
    ["an empty answer (state, weight)", "\n", undefined],
    ["an address change", "IP changed from '127.0.0.1' to '127.0.0.2', port changed from '1' to '80' by 'stats socket command'\n\n", undefined],
    ["a port change only", "No need to change the addr, port changed from '1' to '18491' by 'stats socket command'\n\n", undefined],
    ["no change at all", "no need to change the addr, no need to change the port by 'stats socket command'\n", undefined],
    ["an address change without a port", "IP changed from '127.0.0.2' to '127.0.0.3' by 'stats socket command'\n", undefined],
    ["a server added", "New server registered.\n", undefined],
    ["a missing server", "No such server.\n\n", "No such server."],
    ["a weight out of range", "Absolute weight can only be between 0 and 256 inclusive.\n", "Absolute weight can only be between 0 and 256 inclusive."],
    ["a bad state", "'set server <srv> state' expects 'ready', 'drain' and 'maint'.\n", "'set server <srv> state' expects 'ready', 'drain' and 'maint'."],
    ["a usage message", "usage: set server <backend>/<server> addr | agent | weight\n", "usage: set server <backend>/<server> addr | agent | weight"],
    ["an answer to a query", "Name: HAProxy\nPid: 1\n", "Name: HAProxy Pid: 1"],
  ])("%s", (_name, answer, want) => {
    expect(runtimeAnswerError(answer)).toBe(want);
  });
});

describe("alertLines and bindFailures", () => {
  it("keeps the [ALERT] lines of haproxy -c without pids, naming the checked file haproxy.cfg", () => {
    const output = [
      "[NOTICE]   (19008) : haproxy version is 2.6.12-1+deb12u4",
      "[ALERT]    (19008) : config : [/state/haproxy.cfg.next:16] : 'server b2/x' : unknown keyword 'bogus'.",
      "[ALERT]    (19008) : config : Error(s) found in configuration file : /state/haproxy.cfg.next",
      "[WARNING]  (19008) : something else",
      "",
    ].join("\n");
    expect(alertLines(output, "/state/haproxy.cfg.next", "haproxy.cfg")).toEqual(["config : [haproxy.cfg:16] : 'server b2/x' : unknown keyword 'bogus'.", "config : Error(s) found in configuration file : haproxy.cfg"]);
  });

  it("reads every bind HAProxy could not listen on, with the reason and the line", () => {
    const output = [
      "[ALERT]    (28744) : Binding [/state/haproxy.cfg:9] for frontend fe: cannot bind socket (Address already in use) for [127.0.0.1:18482]",
      "[ALERT]    (28744) : Binding [/state/haproxy.cfg:10] for frontend fe: cannot bind socket (Cannot assign requested address) for [10.99.99.99:18483]",
      "[ALERT]    (28744) : [/usr/sbin/haproxy.main()] Some protocols failed to start their listeners! Exiting.",
    ].join("\n");
    expect(bindFailures(alertLines(output, "/state/haproxy.cfg", "haproxy.cfg"))).toEqual([
      { bind: "127.0.0.1:18482", reason: "Address already in use", where: "haproxy.cfg:9" },
      { bind: "10.99.99.99:18483", reason: "Cannot assign requested address", where: "haproxy.cfg:10" },
    ]);
    expect(bindFailures(["config : [haproxy.cfg:3] : unknown keyword 'x'."])).toEqual([]);
  });

  it("names each failed bind once when the same alert arrives twice", () => {
    const alert = "Binding [haproxy.cfg:11] for frontend fe: cannot bind socket (Address already in use) for [127.0.0.1:20003]";
    expect(bindFailures([alert, alert])).toEqual([{ bind: "127.0.0.1:20003", reason: "Address already in use", where: "haproxy.cfg:11" }]);
  });
});
