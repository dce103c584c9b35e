/**
 * The exposition-format reader the metrics tests rely on: it reads what prom-client writes (every metric
 * type, escapes, default process metrics), and refuses what the format forbids — so a test that passes
 * through it has seen text a Prometheus server would take.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import { describe, expect, it } from "vitest";
import { parseExposition, sampleValue } from "../../support/prometheus-text.js";

describe("parseExposition", () => {
  it("reads prom-client's output: counters, gauges with escaped label values, histograms, process metrics", async () => {
    const registry = new Registry();
    collectDefaultMetrics({ register: registry });
    const c = new Counter({ name: "t_requests_total", help: "Requests.", labelNames: ["code"], registers: [registry] });
    const g = new Gauge({ name: "t_queue", help: "A \\ backslash\nand a new line.", labelNames: ["path"], registers: [registry] });
    const h = new Histogram({ name: "t_duration_seconds", help: "Durations.", labelNames: ["kind"], buckets: [0.1, 1], registers: [registry] });
    c.inc({ code: "200" }, 3);
    g.set({ path: 'a "quoted"\\path\nnext' }, -2.5);
    h.observe({ kind: "x" }, 0.05);
    h.observe({ kind: "x" }, 5);
    const families = parseExposition(await registry.metrics());
    expect(families.get("t_requests_total")).toMatchObject({ type: "counter", help: "Requests." });
    expect(sampleValue(families, "t_requests_total", { code: "200" })).toBe(3);
    expect(sampleValue(families, "t_queue", { path: 'a "quoted"\\path\nnext' })).toBe(-2.5);
    expect(families.get("t_duration_seconds")?.type).toBe("histogram");
    expect(sampleValue(families, "t_duration_seconds_bucket", { kind: "x", le: "0.1" })).toBe(1);
    expect(sampleValue(families, "t_duration_seconds_bucket", { kind: "x", le: "+Inf" })).toBe(2);
    expect(sampleValue(families, "t_duration_seconds_count", { kind: "x" })).toBe(2);
    expect(families.get("process_cpu_seconds_total")?.type).toBe("counter");
  });

  it.each([
    ["a bad metric name", "# TYPE 1x counter\n1x 1\n"],
    ["an unknown type", "# TYPE x countr\nx 1\n"],
    ["a second TYPE", "# TYPE x counter\n# TYPE x counter\nx 1\n"],
    ["TYPE after samples", "x 1\n# TYPE x counter\n"],
    ["a value that is no number", "x one\n"],
    ["no value", "x\n"],
    ["a bad timestamp", "x 1 1.5\n"],
    ["an unterminated label value", 'x{a="b} 1\n'],
    ["a bad escape in a label value", 'x{a="\\t"} 1\n'],
    ["a repeated label", 'x{a="1",a="2"} 1\n'],
    ["a reserved label name", 'x{__a="1"} 1\n'],
    ["a duplicate series", 'x{a="1"} 1\nx{a="1"} 2\n'],
    ["a family split in two", "x 1\ny 1\nx 2\n"],
    ["a negative counter", "# TYPE x_total counter\nx_total -1\n"],
    ["a histogram without +Inf", '# TYPE h histogram\nh_bucket{le="1"} 1\nh_sum 1\nh_count 1\n'],
    ["a histogram whose +Inf is not its count", '# TYPE h histogram\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 2\n'],
    ["a histogram with decreasing buckets", '# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n'],
    ["text without a final line feed", "x 1"],
  ])("refuses %s", (_what, text) => {
    expect(() => parseExposition(text)).toThrow();
  });
});
