/**
 * podGraceSeconds: a pod's own terminationGracePeriodSeconds from its containers' probes label, the fallback
 * (30 s unless the caller knows better) when none records a valid one — pods made by earlier versions.
 */
import { describe, expect, it } from "vitest";
import { DEFAULT_GRACE_SECONDS, podGraceSeconds } from "../../../operator/src/runtime/kubelet.js";
import { LABELS } from "../../../operator/src/runtime/labels.js";

const pod = (...probes: (string | undefined)[]) => ({ containers: probes.map((p): { labels: Record<string, string> } => ({ labels: p === undefined ? {} : { [LABELS.probes]: p } })) });

describe("podGraceSeconds", () => {
  it.each<[string, ReturnType<typeof pod>, number]>([
    ["the recorded grace period", pod('{"grace":7}'), 7],
    ["0 is a grace period (SIGKILL at once)", pod('{"grace":0}'), 0],
    ["with probes beside it", pod('{"grace":45,"liveness":{"type":"tcp","port":30001}}'), 45],
    ["the longest when containers differ", pod('{"grace":5}', '{"grace":9}'), 9],
    ["a container without the label does not count", pod(undefined, '{"grace":3}'), 3],
    ["no label at all: the default", pod(undefined), DEFAULT_GRACE_SECONDS],
    ["probes without a grace period", pod('{"liveness":{"type":"tcp","port":30001}}'), DEFAULT_GRACE_SECONDS],
    ["not JSON", pod("{grace: 7"), DEFAULT_GRACE_SECONDS],
    ["not an object", pod("7"), DEFAULT_GRACE_SECONDS],
    ["a negative number", pod('{"grace":-1}'), DEFAULT_GRACE_SECONDS],
    ["a fraction", pod('{"grace":1.5}'), DEFAULT_GRACE_SECONDS],
    ["a string", pod('{"grace":"7"}'), DEFAULT_GRACE_SECONDS],
    ["null", pod("null"), DEFAULT_GRACE_SECONDS],
  ])("%s", (_, p, want) => {
    expect(podGraceSeconds(p)).toBe(want);
  });

  it("a caller with the pod's plan at hand gives its own fallback", () => {
    expect(podGraceSeconds(pod(undefined), 12)).toBe(12);
    expect(podGraceSeconds(pod('{"grace":7}'), 12)).toBe(7);
  });
});
