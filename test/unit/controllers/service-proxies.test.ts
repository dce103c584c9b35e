/**
 * The service controller's node proxies, on in-memory fakes (service-harness.ts): a Node that names another
 * proxy image gets a new proxy with the same configuration, and the others keep theirs. (A real engine:
 * test/integration/runtime/docker-proxy.test.ts.)
 */
import { describe, expect, it } from "vitest";
import { fakeNode, readyPod, serviceHarness } from "../../support/service-harness.js";

const WEB = `
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports:
    - {name: http, port: 80, targetPort: http}
`;

describe("the service controller's node proxies", () => {
  it("replaces a node's proxy when the Node names another proxy image, and keeps the one whose image is unchanged", async () => {
    const nodes = [
      { ...fakeNode("n1", "10.0.0.1"), proxyImage: "haproxy:2.6" },
      { ...fakeNode("n2", "10.0.0.2"), proxyImage: "haproxy:2.6" },
    ];
    const h = serviceHarness({ manifests: WEB, nodes, pods: [readyPod({ name: "web-a", node: "n1", labels: { app: "web" }, hostPort: 30500 })] });
    await h.run();
    const [first, other] = [h.proxies.get("n1")!, h.proxies.get("n2")!];
    expect(first.health().running).toBe(true);

    nodes[0]!.proxyImage = "registry.example/haproxy:2.8";
    await h.run();
    const second = h.proxies.get("n1")!;
    expect(second).not.toBe(first);
    expect(first.health().running).toBe(false); // closed
    expect(second.reloads.at(-1)).toBe(first.reloads.at(-1)); // the same configuration, on the new proxy
    expect(h.proxies.get("n2")).toBe(other);
    expect(other.health().running).toBe(true);
    expect(h.logs.filter((l) => l.includes("replacing the proxy"))).toEqual(["proxy of n1: image haproxy:2.6 → registry.example/haproxy:2.8, replacing the proxy"]);
  });
});
