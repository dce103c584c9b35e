/**
 * Linux capability names as securityContext.capabilities and the operator's policy file write them.
 * Kubernetes writes NET_ADMIN, Docker takes NET_ADMIN or CAP_NET_ADMIN in any case: coxswain accepts both
 * spellings and works with the bare upper-case name, so that a check (the policy's allowedCapabilities) and
 * what reaches the engine never differ in spelling only.
 */

/** Every capability of Linux 6.x (capability.h), and ALL, which stands for every one of them. */
const CAPABILITIES: ReadonlySet<string> = new Set([
  "ALL",
  "AUDIT_CONTROL",
  "AUDIT_READ",
  "AUDIT_WRITE",
  "BLOCK_SUSPEND",
  "BPF",
  "CHECKPOINT_RESTORE",
  "CHOWN",
  "DAC_OVERRIDE",
  "DAC_READ_SEARCH",
  "FOWNER",
  "FSETID",
  "IPC_LOCK",
  "IPC_OWNER",
  "KILL",
  "LEASE",
  "LINUX_IMMUTABLE",
  "MAC_ADMIN",
  "MAC_OVERRIDE",
  "MKNOD",
  "NET_ADMIN",
  "NET_BIND_SERVICE",
  "NET_BROADCAST",
  "NET_RAW",
  "PERFMON",
  "SETFCAP",
  "SETGID",
  "SETPCAP",
  "SETUID",
  "SYSLOG",
  "SYS_ADMIN",
  "SYS_BOOT",
  "SYS_CHROOT",
  "SYS_MODULE",
  "SYS_NICE",
  "SYS_PACCT",
  "SYS_PTRACE",
  "SYS_RAWIO",
  "SYS_RESOURCE",
  "SYS_TIME",
  "SYS_TTY_CONFIG",
  "WAKE_ALARM",
]);

/** The bare upper-case name of a capability ("cap_net_admin" → "NET_ADMIN"); undefined when Linux has no such capability. */
export function capabilityName(name: string): string | undefined {
  const bare = name.toUpperCase().replace(/^CAP_/, "");
  return CAPABILITIES.has(bare) ? bare : undefined;
}

/** Normalized, deduplicated and sorted capability names of a list (unknown names are left out: validation reports them). */
export function capabilityNames(names: readonly string[] | undefined): string[] {
  return [...new Set((names ?? []).flatMap((n) => capabilityName(n) ?? []))].sort();
}
