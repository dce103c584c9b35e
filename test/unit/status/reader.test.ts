/**
 * The deploy log built from records and notes: coxswain notes are read back, other notes are not;
 * records and note-only commits are merged newest first, filtered by branch and limited.
 */
import { describe, expect, it } from "vitest";
import { noteText } from "../../../operator/src/status/store.js";
import { buildHistory, COMMIT_PHASES, parseNote } from "../../../operator/src/status/reader.js";
import type { CommitRecord } from "../../../operator/src/status/types.js";

const oid = (c: string): string => c.repeat(40);
const rec = (c: string, seen: string, branch = "main"): CommitRecord => ({
  commit: oid(c),
  branch,
  subject: `subject ${c}`,
  phase: "Succeeded",
  message: `done ${c}`,
  changes: [],
  errors: [],
  timings: { seen },
});

describe("parseNote", () => {
  it.each(COMMIT_PHASES)("reads back the note written for a %s commit", (phase) => {
    const text = noteText({ ...rec("a", "x"), phase, message: "Deployment/default/web — 3/3 ready" });
    expect(parseNote(text)).toEqual({ phase, message: "Deployment/default/web — 3/3 ready" });
  });

  it.each([["a person's remark"], ["coxswain: Unknownphase — x"], ["coxswain plan: valid — 2 changes"], [""]])("ignores %j", (text) => {
    expect(parseNote(text)).toBeUndefined();
  });

  it("reads a note without a message", () => {
    expect(parseNote("coxswain: Pending")).toEqual({ phase: "Pending", message: "" });
  });
});

describe("buildHistory", () => {
  const records = [rec("a", "2024-01-01T00:00:01.000Z"), rec("c", "2024-01-01T00:00:03.000Z"), rec("b", "2024-01-01T00:00:02.000Z", "release")];
  const notes = new Map([
    [oid("a"), "coxswain: Failed — an older note, the record wins"],
    [oid("d"), "coxswain: RolledBack — from the note"],
    [oid("e"), "not ours"],
  ]);
  const lookup = new Map([[oid("d"), { date: "2024-01-01T00:00:02.500Z", subject: "subject d" }]]);

  it("lists records and note-only commits newest first, records winning over their notes", () => {
    expect(buildHistory(records, notes, lookup).map((e) => [e.commit[0], e.phase, e.source])).toEqual([
      ["c", "Succeeded", "record"],
      ["d", "RolledBack", "note"],
      ["b", "Succeeded", "record"],
      ["a", "Succeeded", "record"],
    ]);
  });

  it("filters records by branch and keeps note-only commits", () => {
    expect(buildHistory(records, notes, lookup, { branch: "release" }).map((e) => e.commit[0])).toEqual(["d", "b"]);
  });

  it("limits the number of entries", () => {
    expect(buildHistory(records, notes, lookup, { limit: 2 }).map((e) => e.commit[0])).toEqual(["c", "d"]);
    expect(buildHistory(records, notes, lookup, { limit: 0 })).toEqual([]);
  });

  it("lists a note-only commit missing from the clone last, without date or subject", () => {
    const entries = buildHistory([], new Map([[oid("f"), "coxswain: Succeeded — gone"]]), new Map());
    expect(entries).toEqual([{ commit: oid("f"), date: "", subject: "", phase: "Succeeded", message: "gone", source: "note" }]);
  });
});
