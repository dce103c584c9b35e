/**
 * The labels a node carries from its engine, as the kubelet sets them: kubernetes.io/os and
 * kubernetes.io/arch, so that `nodeSelector: {kubernetes.io/os: linux}` (in many public manifests) and
 * arch-specific affinity schedule on coxswain too. The values are Go's GOOS and GOARCH names, which is what
 * Kubernetes uses: Docker's /version reports those, its /info (the fallback) reports uname's, so both are
 * mapped (x86_64 → amd64, aarch64 → arm64, …).
 */

/** The os label, as the kubelet sets it. */
const OS_LABEL = "kubernetes.io/os";
/** The arch label, as the kubelet sets it. */
const ARCH_LABEL = "kubernetes.io/arch";

/** uname -m and Docker's names → Go's GOARCH (GOARCH names map to themselves). */
const GOARCH: Readonly<Record<string, string>> = {
  x86_64: "amd64",
  amd64: "amd64",
  aarch64: "arm64",
  arm64: "arm64",
  armv8l: "arm",
  armv7l: "arm",
  armv6l: "arm",
  armhf: "arm",
  arm: "arm",
  i386: "386",
  i686: "386",
  "386": "386",
  ppc64le: "ppc64le",
  s390x: "s390x",
  riscv64: "riscv64",
  mips64: "mips64",
  mips64el: "mips64le",
  mips64le: "mips64le",
  loongarch64: "loong64",
  loong64: "loong64",
};

/**
 * The os and arch labels of a NodeInfo.platform ("linux/amd64", "linux/x86_64", …). A part the engine did
 * not report ("unknown", empty) gives no label; an architecture not in the table is kept as reported.
 */
function platformLabels(platform: string): Record<string, string> {
  const [os = "", arch = ""] = platform.toLowerCase().split("/");
  const labels: Record<string, string> = {};
  if (os !== "" && os !== "unknown") labels[OS_LABEL] = os;
  if (arch !== "" && arch !== "unknown") labels[ARCH_LABEL] = GOARCH[arch] ?? arch;
  return labels;
}

const cache = new WeakMap<object, { platform: string; labels: Record<string, string> }>();

/**
 * A node's labels with its engine's os and arch labels added; the engine's win over labels of the same
 * name in the Node's metadata (the kubelet, too, sets them itself). The same object is returned for the
 * same labels and platform, so the scheduler's caches keyed by label objects keep working.
 */
export function withPlatformLabels(labels: Readonly<Record<string, string>>, platform: string): Record<string, string> {
  const hit = cache.get(labels);
  if (hit?.platform === platform) return hit.labels;
  const merged = { ...labels, ...platformLabels(platform) };
  cache.set(labels, { platform, labels: merged });
  return merged;
}
