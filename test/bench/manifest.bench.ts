/**
 * Benchmark of the manifest stage (plain tsx script; prints figures, asserts nothing):
 *   npx tsx test/bench/manifest.bench.ts [documents=5000]
 *
 * Loads N small Deployment files (one document each, with blob oids as the Git source passes them):
 * - yaml bare: parseAllDocuments only (the `yaml` package's own cost, what a cache miss cannot avoid);
 * - yaml + toJS: parse and convert to plain data;
 * - cold: loadManifests with an empty cache (parse, positions, ajv, rules, defaults, freeze);
 * - warm: the same files again (every blob cached);
 * - one changed: the same commit with one file changed (one cache miss).
 */
import { performance } from "node:perf_hooks";
import { parseAllDocuments } from "yaml";
import { ManifestCache, blobOid, loadManifests, type ManifestFile } from "../../operator/src/manifest/index.js";

const N = Number(process.argv[2] ?? 5000);

function deployment(i: number, replicas = 2): string {
  const name = `app-${i}`;
  return `apiVersion: apps/v1
kind: Deployment
metadata:
  name: ${name}
  namespace: team-${i % 20}
  labels: {app: ${name}, team: team-${i % 20}}
spec:
  replicas: ${replicas}
  selector:
    matchLabels: {app: ${name}}
  template:
    metadata:
      labels: {app: ${name}}
    spec:
      containers:
        - name: main
          image: registry.local/${name}:1.${i % 7}
          env:
            - {name: MODE, value: production}
          ports:
            - {name: http, containerPort: 8080}
          resources:
            requests: {cpu: 100m, memory: 64Mi}
            limits: {cpu: 500m, memory: 256Mi}
          readinessProbe:
            httpGet: {path: /healthz, port: http}
`;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

const files: ManifestFile[] = [];
for (let i = 0; i < N; i++) {
  const content = deployment(i);
  files.push({ path: `apps/app-${String(i).padStart(5, "0")}.yaml`, content, oid: blobOid(content) });
}
const bytes = files.reduce((n, f) => n + (f.content as string).length, 0);
console.log(`manifest bench: ${N} Deployment documents, ${(bytes / 1024).toFixed(0)} KiB, node ${process.version}`);

let t0: number;

// Warm up the JIT on a slice so the first measured pass is not mostly compilation.
loadManifests(files.slice(0, 200), { cache: null });
for (const f of files.slice(0, 200)) parseAllDocuments(f.content as string);

const runs = 5;
const bare: number[] = [];
const toJs: number[] = [];
const cold: number[] = [];
const warm: number[] = [];
const oneChanged: number[] = [];
for (let r = 0; r < runs; r++) {
  t0 = performance.now();
  for (const f of files) parseAllDocuments(f.content as string);
  bare.push(performance.now() - t0);

  t0 = performance.now();
  for (const f of files) for (const d of parseAllDocuments(f.content as string)) d.toJS();
  toJs.push(performance.now() - t0);

  const cache = new ManifestCache();
  t0 = performance.now();
  const set = loadManifests(files, { cache });
  cold.push(performance.now() - t0);
  if (set.objects.length !== N || set.diagnostics.length !== 0) throw new Error(`unexpected result: ${set.objects.length} objects, ${set.diagnostics.length} diagnostics`);

  t0 = performance.now();
  loadManifests(files, { cache });
  warm.push(performance.now() - t0);

  const changed = [...files];
  const content = deployment(7, 3 + r);
  changed[7] = { ...files[7]!, content, oid: blobOid(content) };
  t0 = performance.now();
  loadManifests(changed, { cache });
  oneChanged.push(performance.now() - t0);
  if (cache.stats.parses !== N + 1) throw new Error(`expected ${N + 1} parses, got ${cache.stats.parses}`);
}

const row = (label: string, xs: number[]): void => {
  const m = median(xs);
  const best = Math.min(...xs);
  console.log(`  ${label.padEnd(32)} median ${m.toFixed(1).padStart(7)} ms (${((m * 1000) / N).toFixed(1).padStart(5)} µs/doc)   best ${best.toFixed(1).padStart(7)} ms   runs: ${xs.map((x) => x.toFixed(0)).join(", ")}`);
};
row("yaml parseAllDocuments (bare)", bare);
row("yaml parse + toJS", toJs);
row("loadManifests cold (no cache)", cold);
row("loadManifests warm (all cached)", warm);
row("loadManifests, 1 file changed", oneChanged);
const mem = process.memoryUsage();
console.log(`  heap used after runs            ${(mem.heapUsed / 2 ** 20).toFixed(0)} MiB`);
