import { describe, expect, it } from "vitest";
import { hostsFile, serviceHostNames, type HostsEntry } from "../../../operator/src/traffic/hosts.js";
import { codeOf } from "../../support/errors.js";
import { service } from "./builders.js";

describe("serviceHostNames", () => {
  const cases: { name: string; namespace: string; domain?: string; headless?: boolean; want: string[] }[] = [
    { name: "gives a pod of the Service's namespace the short name too", namespace: "default", want: ["web", "web.default", "web.default.svc", "web.default.svc.cluster.local"] },
    { name: "gives a pod of another namespace only the qualified names", namespace: "shop", want: ["web.default", "web.default.svc", "web.default.svc.cluster.local"] },
    { name: "uses the cluster domain it is given", namespace: "shop", domain: "coxswain.internal", want: ["web.default", "web.default.svc", "web.default.svc.coxswain.internal"] },
    { name: "gives a headless Service no names", namespace: "default", headless: true, want: [] },
  ];
  it.each(cases)("$name", ({ namespace, domain, headless, want }) => {
    expect(serviceHostNames(service("web", { headless: headless ?? false }), namespace, domain)).toEqual(want);
  });
});

describe("hostsFile", () => {
  const cases: { name: string; entries: HostsEntry[]; want: string }[] = [
    { name: "writes nothing for no entries", entries: [], want: "" },
    {
      name: "writes one line per address, addresses and names sorted",
      entries: [
        { address: "127.77.0.2", names: ["web.default", "web"] },
        { address: "127.77.0.1", names: ["api"] },
      ],
      want: "127.77.0.1\tapi\n127.77.0.2\tweb web.default\n",
    },
    {
      name: "joins entries of one address and drops repeated names",
      entries: [
        { address: "127.77.0.1", names: ["b", "a"] },
        { address: "127.77.0.1", names: ["a", "c"] },
      ],
      want: "127.77.0.1\ta b c\n",
    },
    { name: "leaves out an address without names", entries: [{ address: "127.77.0.1", names: [] }], want: "" },
  ];
  it.each(cases)("$name", ({ entries, want }) => {
    expect(hostsFile(entries)).toBe(want);
  });

  it("writes the names serviceHostNames gives", () => {
    const names = serviceHostNames(service("web"), "default");
    expect(hostsFile([{ address: "127.77.0.10", names }])).toBe("127.77.0.10\tweb web.default web.default.svc web.default.svc.cluster.local\n");
  });

  const bad: { name: string; entries: HostsEntry[] }[] = [
    {
      name: "refuses a name that would resolve to two addresses",
      entries: [
        { address: "127.77.0.1", names: ["web"] },
        { address: "127.77.0.2", names: ["web"] },
      ],
    },
    { name: "refuses a name with a space", entries: [{ address: "127.77.0.1", names: ["a b"] }] },
    { name: "refuses a name with a comment sign", entries: [{ address: "127.77.0.1", names: ["a#b"] }] },
    { name: "refuses an address with a line break", entries: [{ address: "127.77.0.1\n10.0.0.1", names: ["a"] }] },
  ];
  it.each(bad)("$name", ({ entries }) => {
    expect(codeOf(() => hostsFile(entries))).toBe("InvalidArgument");
  });
});
