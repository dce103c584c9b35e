/**
 * Names and keywords that both the schema compile (run by `npm run gen`) and the run-time validation
 * (schema.ts) use: the patterns of Kubernetes' names, labels and keys, and the keyword of unsupported fields.
 * A module of its own, without ajv, so that what compiles the schemas does not load the generated validators
 * and what validates does not load ajv.
 */
/** Kubernetes' DNS-1123 label: names of namespaces, containers, ports. At most 63 characters. */
export const DNS1123_LABEL = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$";
/** Kubernetes' DNS-1123 subdomain: object names. At most 253 characters. */
export const DNS1123_SUBDOMAIN = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$";
/** A label value: empty, or at most 63 alphanumerics with '-', '_', '.' inside. */
export const LABEL_VALUE = "^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$";
/** A label or annotation key: optional DNS-subdomain prefix (≤ 253) and "/", then a name (≤ 63). */
export const QUALIFIED_NAME = "^((?=[^/]{1,253}/)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?(?=[^/]{1,63}$)([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$";

/** The keyword that marks a field coxswain knows by name but does not support; its value says why. */
export const UNSUPPORTED_KEYWORD = "x-coxswain-unsupported";
