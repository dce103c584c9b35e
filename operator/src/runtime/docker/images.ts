/**
 * Images on a Docker engine: made present as a pod's imagePullPolicy says (pulls with each pull Secret's
 * credentials in turn, as X-Registry-Auth, credentials cut out of what a failure says), an image's default
 * user (for runAsNonRoot), and the tags present (the scheduler's image locality).
 */
import { CoxError, isCoxError } from "../../api/errors.js";
import type { RegistryAuth } from "../../manifest/image.js";
import { withoutCredentials, type PullSpec } from "../pull.js";
import { dial, engineMessage } from "./client.js";
import { statusOf, type DockerEngine } from "./engine.js";
import { LineSplitter, splitImageReference } from "./mapping.js";

/**
 * Makes the image present as `pull` says (absent: IfNotPresent, anonymous). IfNotPresent pulls only a
 * missing image; Always pulls every time (the engine downloads only layers it lacks); Never pulls nothing,
 * and a missing image is ImageNeverPull. A pull tries each of pull.auth in turn (X-Registry-Auth) until the
 * registry accepts one, or once anonymously without any; failures are ImagePullFailed with the registry's
 * last answer, credentials cut out. Public for the node proxy (runtime/proxy/docker-proxy.ts), whose image
 * is pulled like a pod's.
 */
export async function ensureImage(engine: DockerEngine, image: string, pull?: PullSpec): Promise<void> {
  const policy = pull?.policy ?? "IfNotPresent";
  if (policy !== "Always" && (await hasImage(engine, image))) return;
  if (policy === "Never") {
    throw new CoxError(
      "ImageNeverPull",
      `node ${engine.nodeName}: image ${image} is not present and imagePullPolicy is Never: expected the image on the node (docker pull or docker load there), or another imagePullPolicy`,
      { details: { node: engine.nodeName, image } },
    );
  }
  let failure: unknown;
  for (const auth of pull?.auth?.length ? pull.auth : [undefined]) {
    failure = await pullOnce(engine, image, auth);
    // The engine itself going away is a node problem, not an image problem; a pull deadline is the image's.
    if (isCoxError(failure, "NodeUnreachable") && failure.details?.errno !== undefined) throw failure;
    if (failure === undefined) break;
  }
  if (failure === undefined && (await hasImage(engine, image))) return;
  const reason =
    failure === undefined
      ? "the pull finished but the image is still not there"
      : isCoxError(failure, "NodeUnreachable") && failure.details?.timeoutMs !== undefined
        ? `no answer within ${engine.pullTimeoutMs} ms`
        : isCoxError(failure)
          ? engineMessage(failure.cause ?? failure)
          : String(failure);
  const credentials = pull?.auth?.length ? ` (with the credentials of ${[...new Set(pull.auth.map((a) => a.serveraddress))].join(", ")})` : "";
  throw new CoxError("ImagePullFailed", withoutCredentials(`node ${engine.nodeName}: image ${image} could not be pulled${credentials}: ${reason}`, pull?.auth), {
    cause: failure,
    details: { node: engine.nodeName, image },
  });
}

/** The user an image's containers run as (its Config.User, "" for root) when nothing else is said. */
export async function imageUser(engine: DockerEngine, image: string): Promise<string> {
  const info = await engine.call<{ Config?: { User?: string } | null }>(`inspect image ${image}`, { method: "GET", path: `/images/${image}/json` });
  return info.Config?.User ?? "";
}

/** One POST /images/create of `image`, with `auth` as X-Registry-Auth; resolves with the failure, if any. */
async function pullOnce(engine: DockerEngine, image: string, auth: RegistryAuth | undefined): Promise<unknown> {
  const { repository, tag } = splitImageReference(image);
  try {
    await engine.engineCall(
      `pull image ${image}`,
      async (docker, signal) => {
        const stream = await dial<NodeJS.ReadableStream>(docker, {
          method: "POST",
          path: "/images/create",
          query: { fromImage: repository, tag },
          ...(auth ? { authconfig: auth } : {}),
          stream: true,
          signal,
        });
        await readPullProgress(stream, signal);
      },
      { timeoutMs: engine.pullTimeoutMs },
    );
    return undefined;
  } catch (err) {
    return err;
  }
}

/** Whether the engine has `image` (inspect answers). */
async function hasImage(engine: DockerEngine, image: string): Promise<boolean> {
  try {
    await engine.call(`inspect image ${image}`, { method: "GET", path: `/images/${image}/json` });
    return true;
  } catch (err) {
    if (statusOf(err) === 404) return false;
    throw err;
  }
}

/** Every repo:tag present on the engine, sorted; untagged images are left out. */
export async function listImages(engine: DockerEngine): Promise<string[]> {
  const images = await engine.call<Array<{ RepoTags?: string[] | null }>>("list images", {
    method: "GET",
    path: "/images/json",
  });
  const tags = new Set<string>();
  for (const image of images) for (const tag of image.RepoTags ?? []) if (tag !== "<none>:<none>") tags.add(tag);
  return [...tags].sort();
}

/**
 * Reads a pull's progress stream to its end. Resolves when the engine closes it without an error
 * message; rejects with the engine's error ("manifest unknown", "pull access denied", …), with the stream
 * error, or when the signal fires. (dockerode's pull() resolves as soon as the stream starts.)
 */
function readPullProgress(stream: NodeJS.ReadableStream, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const splitter = new LineSplitter();
    let error: string | undefined;
    let settled = false;
    const s = stream as NodeJS.ReadableStream & { destroy?: (err?: Error) => void };
    const settle = (err?: unknown) => {
      if (settled) return;
      settled = true;
      signal.removeEventListener("abort", onAbort);
      if (err !== undefined) {
        s.destroy?.();
        reject(err);
      } else if (error !== undefined) reject(new Error(error));
      else resolve();
    };
    const onLine = (line: string) => {
      try {
        const obj = JSON.parse(line) as { error?: unknown; errorDetail?: { message?: unknown } };
        if (typeof obj.error === "string") error = obj.error;
        else if (typeof obj.errorDetail?.message === "string") error = obj.errorDetail.message;
      } catch {
        // not JSON: progress noise
      }
    };
    const onAbort = () => {
      const err = new Error("pull aborted");
      err.name = "AbortError";
      settle(err);
    };
    if (signal.aborted) return onAbort();
    signal.addEventListener("abort", onAbort, { once: true });
    stream.on("data", (chunk: Buffer | string) => {
      for (const line of splitter.push(chunk)) onLine(line);
    });
    stream.on("error", (err: unknown) => settle(err));
    stream.on("aborted", () => settle(new Error("pull stream aborted by the engine")));
    const done = () => {
      const last = splitter.end();
      if (last !== undefined) onLine(last);
      settle();
    };
    stream.on("end", done);
    stream.on("close", done);
  });
}
