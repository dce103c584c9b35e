/**
 * The bridge network of a Docker node: made on first use with room for Service forwarders (traffic/bridge.ts),
 * or taken as it is when it exists.
 */
import { CoxError } from "../../api/errors.js";
import { bridgeNetworkPlan, SERVICE_RANGE_LABEL, type BridgeNetwork } from "../../traffic/bridge.js";
import { statusOf, type DockerEngine } from "./engine.js";
import { bridgeNetworkOf, type DockerNetworkInspect } from "./mapping.js";

/** Marks a network made only to learn which subnet the engine would give it (see ensureBridgeNetwork). */
const NETWORK_PROBE_LABEL = "io.coxswain.network-probe";

/**
 * Makes (or finds) the user-defined bridge network `name`. The default "bridge" network does not exist
 * on engines started with --bridge=none; a user-defined bridge works there, and published ports are
 * served by docker-proxy (the userland proxy) even with --iptables=false.
 *
 * coxswain creates it with room for Service forwarders (traffic/bridge.ts): Docker first makes a probe
 * network of that name (labelled io.coxswain.network-probe) in a subnet it chooses free of its other
 * networks and of the host's routes; the probe is removed and the network made again in that subnet with
 * bridgeNetworkPlan's layout (IPRange the lower half, the Service range label the upper). A probe left
 * by a crash (no containers on it) is removed and the steps run again; a network made meanwhile by someone
 * else is taken as it is. A network that exists already is used as it is, with its Service range when
 * it has a valid one (serviceRangeOf) and the problem otherwise.
 */
export async function setUpBridgeNetwork(engine: DockerEngine, name: string): Promise<BridgeNetwork> {
  for (let attempt = 1; ; attempt++) {
    const existing = await inspectNetwork(engine, name);
    if (existing !== undefined) {
      const leftProbe = existing.Labels?.[NETWORK_PROBE_LABEL] !== undefined && Object.keys(existing.Containers ?? {}).length === 0;
      if (!leftProbe) return bridgeNetworkOf(existing);
      await removeNetwork(engine, existing.Id);
    }
    let subnet: string | undefined;
    try {
      const probe = await engine.call<{ Id: string }>(`create network ${name} (probe)`, {
        method: "POST",
        path: "/networks/create",
        body: { Name: name, Driver: "bridge", CheckDuplicate: true, Labels: { [NETWORK_PROBE_LABEL]: "true" } },
      });
      const inspected = await inspectNetwork(engine, probe.Id);
      subnet = inspected?.IPAM?.Config?.find((c) => c.Subnet?.includes(".") === true)?.Subnet;
      await removeNetwork(engine, probe.Id);
      if (subnet === undefined) throw new CoxError("RuntimeCallFailed", `node ${engine.nodeName}: the engine gave network ${name} no IPv4 subnet`, { details: { node: engine.nodeName, network: name } });
      const plan = bridgeNetworkPlan(subnet);
      await engine.call(`create network ${name} in ${subnet}`, {
        method: "POST",
        path: "/networks/create",
        body: {
          Name: name,
          Driver: "bridge",
          CheckDuplicate: true,
          Labels: { [SERVICE_RANGE_LABEL]: plan.serviceRange },
          IPAM: { Driver: "default", Config: [{ Subnet: plan.subnet, IPRange: plan.ipRange, Gateway: plan.gateway }] },
        },
      });
    } catch (err) {
      // 409: made meanwhile (take it as it is); else the subnet may have been taken meanwhile: try again.
      if (statusOf(err) !== 409 && attempt >= 3) throw err;
    }
  }
}

/** A network's inspect answer; undefined when there is none (404). */
async function inspectNetwork(engine: DockerEngine, idOrName: string): Promise<DockerNetworkInspect | undefined> {
  try {
    return await engine.call<DockerNetworkInspect>(`inspect network ${idOrName}`, { method: "GET", path: `/networks/${idOrName}` });
  } catch (err) {
    if (statusOf(err) === 404) return undefined;
    throw err;
  }
}

/** Removes a network; one already gone is fine. */
async function removeNetwork(engine: DockerEngine, id: string): Promise<void> {
  try {
    await engine.call(`remove network ${id.slice(0, 12)}`, { method: "DELETE", path: `/networks/${id}` });
  } catch (err) {
    if (statusOf(err) !== 404) throw err;
  }
}
