/**
 * Docker Engine API version negotiation (dockerode has none). Per engine: read GET /version without a
 * version prefix, then pin min(engine's ApiVersion, the highest version coxswain was checked against),
 * refusing engines older than MIN_API_VERSION and engines whose MinAPIVersion is above what we speak.
 */
import { CoxError } from "../../api/errors.js";

/**
 * Oldest engine API coxswain talks to: Docker 20.10. Everything the runtime uses (label filters on list
 * and events, Actor.ID/Action in events, NanoCpus, user-defined bridge networks) exists there.
 */
export const MIN_API_VERSION = "1.41";

/**
 * Newest API version coxswain pins. The runtime is tested live against 1.41 (Docker 20.10). It was
 * reviewed against the Engine API version history up to 1.47 (Docker 27): the endpoints and fields used
 * here (containers/json, containers/{id}/json State.*, containers/create Config and HostConfig fields,
 * events Actor.ID/Action/timeNano, images/json RepoTags, networks) did not change in 1.42–1.47; the
 * changes in that window concern images (VirtualSize, ContainerConfig), MacAddress, Aliases and volume
 * subpaths, none of which coxswain reads or sends. 1.47 ≥ 1.44, the minimum of Docker 29, so current
 * engines are reachable at a version we reviewed. Later versions drop the deprecated top-level event
 * fields (status, id, from); the event parser reads Actor.ID and Action first for that reason.
 */
export const MAX_API_VERSION = "1.47";

/** Parses "1.41" into [1, 41]; undefined when the text is not a MAJOR.MINOR version. */
function parseApiVersion(text: unknown): [number, number] | undefined {
  if (typeof text !== "string") return undefined;
  const m = /^v?(\d+)\.(\d+)$/.exec(text.trim());
  if (!m) return undefined;
  return [Number(m[1]), Number(m[2])];
}

/** Compares two "MAJOR.MINOR" versions: negative when a < b, 0 when equal, positive when a > b. */
export function compareApiVersions(a: string, b: string): number {
  const pa = parseApiVersion(a);
  const pb = parseApiVersion(b);
  if (!pa || !pb) throw new RangeError(`not an API version: ${pa ? b : a}`);
  return pa[0] !== pb[0] ? pa[0] - pb[0] : pa[1] - pb[1];
}

/** What the engine said about its API in GET /version. */
export interface EngineVersionReport {
  ApiVersion?: unknown;
  MinAPIVersion?: unknown;
}

/**
 * Chooses the API version to pin for an engine: min(engine ApiVersion, maxVersion). Throws
 * EngineApiUnsupported when the engine is older than MIN_API_VERSION or requires a version newer than
 * maxVersion, and RuntimeCallFailed when the report has no readable ApiVersion.
 */
export function chooseApiVersion(report: EngineVersionReport, where: string, maxVersion: string = MAX_API_VERSION): string {
  const engine = report.ApiVersion;
  if (parseApiVersion(engine) === undefined) {
    throw new CoxError("RuntimeCallFailed", `${where}: GET /version returned no readable ApiVersion (got ${JSON.stringify(engine)}); expected "MAJOR.MINOR"`);
  }
  const engineVersion = String(engine);
  if (compareApiVersions(engineVersion, MIN_API_VERSION) < 0) {
    throw new CoxError("EngineApiUnsupported", `${where}: the Docker engine speaks API ${engineVersion}; coxswain needs at least ${MIN_API_VERSION} (Docker 20.10)`, {
      details: { engineApiVersion: engineVersion, minApiVersion: MIN_API_VERSION },
    });
  }
  const engineMin = parseApiVersion(report.MinAPIVersion) ? String(report.MinAPIVersion) : undefined;
  if (engineMin !== undefined && compareApiVersions(engineMin, maxVersion) > 0) {
    throw new CoxError("EngineApiUnsupported", `${where}: the Docker engine requires API ${engineMin} or newer; coxswain speaks at most ${maxVersion}`, {
      details: { engineMinApiVersion: engineMin, maxApiVersion: maxVersion },
    });
  }
  return compareApiVersions(engineVersion, maxVersion) < 0 ? engineVersion : maxVersion;
}

/**
 * True when an engine rejected the request's version prefix: HTTP 400 with "client version X is too
 * new/old". The engine changed under us (upgrade, downgrade, another daemon on the socket): negotiate again.
 */
export function isApiVersionMismatch(err: unknown): boolean {
  if (!err || typeof err !== "object") return false;
  const e = err as { statusCode?: unknown; json?: unknown; message?: unknown };
  if (e.statusCode !== 400) return false;
  const body = e.json && typeof e.json === "object" ? (e.json as { message?: unknown }).message : undefined;
  const text = `${typeof body === "string" ? body : ""} ${typeof e.message === "string" ? e.message : ""}`;
  return /client version \S+ is too (new|old)/i.test(text);
}
