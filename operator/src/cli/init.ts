/**
 * `coxswain init [DIR]`: scaffolds a GitOps repository for this host — a Node manifest for its Docker engine,
 * an example app (Namespace, Deployment, Service) and a README — and prints the `coxswain run` line that
 * follows it. DIR must be empty or not exist (a lone `.git` is allowed): init never overwrites or mixes with
 * files it did not write. When DIR is not inside a Git work tree, init makes it a repository (branch main)
 * with the scaffold as its first commit; inside one (a folder of an existing repository, or a repository
 * with no commit yet) it writes the files and leaves the commit to you, since that history is yours.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { CoxError } from "../api/errors.js";
import { localDockerEndpoint } from "../sync/operator.js";
import { parse } from "./args.js";

/** Help text of `coxswain init`. */
export const INIT_USAGE = `coxswain init [DIR] [--node-name NAME]

  writes a GitOps repository for this host into DIR (default .; it must be empty or not exist):
  nodes/<node>.yaml (this host's Docker engine: $DOCKER_HOST when unix://, else /var/run/docker.sock),
  apps/hello/ (a Namespace, a Deployment of 2 replicas and a Service) and README.md; makes DIR a Git
  repository with one commit unless it is inside one already; prints the coxswain run line to start it

  --node-name <name>            the Node's name (default: this host's name as a DNS label)`;

/** This host's name as a DNS-1123 label (lowercase letters, digits, '-'), or "node-1" when nothing is left. */
function hostNodeName(): string {
  const label = os
    .hostname()
    .split(".")[0]!
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 63)
    .replace(/-+$/, "");
  return label === "" ? "node-1" : label;
}

/** The files of the scaffold by path relative to DIR (sorted by the caller). */
function scaffold(node: string, endpoint: string): Record<string, string> {
  return {
    [`nodes/${node}.yaml`]: `# This host's Docker engine: one node of the fleet. Add a file per Docker host (a unix:// socket, or
# tcp://host:2376 with spec.tls and a Secret holding the client certificate); without any Node object
# coxswain would use one default local node.
apiVersion: coxswain.io/v1alpha1
kind: Node
metadata:
  name: ${node}
spec:
  endpoint: ${endpoint}
  network: host          # containers listen on the host ports coxswain assigns ($PORT)
  address: 127.0.0.1     # where clients and probes reach this node's ports
  portRange: 30000-32767
`,
    "apps/hello/namespace.yaml": `apiVersion: v1
kind: Namespace
metadata:
  name: hello
`,
    "apps/hello/deployment.yaml": `# An example app: a few lines of Node.js run from the official node image. It listens on $PORT, the host
# port coxswain assigned from the node's portRange. Change the message and commit to watch a rolling update.
apiVersion: apps/v1
kind: Deployment
metadata:
  name: hello
  namespace: hello
  labels:
    app: hello
spec:
  replicas: 2
  selector:
    matchLabels:
      app: hello
  strategy:
    rollingUpdate:
      maxSurge: 1
      maxUnavailable: 0
  template:
    metadata:
      labels:
        app: hello
    spec:
      terminationGracePeriodSeconds: 5
      containers:
        - name: web
          image: node:20-alpine
          command: ["node", "-e"]
          args:
            - |
              const http = require("node:http");
              const server = http.createServer((req, res) => {
                if (req.url === "/healthz") return res.end("ok\\n");
                res.end(\`\${process.env.MESSAGE} (pod \${process.env.COXSWAIN_POD})\\n\`);
              });
              server.listen(Number(process.env.PORT), "127.0.0.1");
              process.on("SIGTERM", () => server.close(() => process.exit(0)));
          env:
            - name: MESSAGE
              value: Hello from coxswain
          ports:
            - name: http
              containerPort: 8080
          resources:
            requests:
              cpu: 50m
              memory: 32Mi
          readinessProbe:
            httpGet:
              path: /healthz
              port: http
            periodSeconds: 2
`,
    "apps/hello/service.yaml": `# Every node's proxy (HAProxy) serves this Service at an address of its own on port 8080 (hello.hello:8080
# inside pods) and, as a NodePort, on the node's address at a port from its portRange; the operator prints both.
apiVersion: v1
kind: Service
metadata:
  name: hello
  namespace: hello
spec:
  type: NodePort
  selector:
    app: hello
  ports:
    - name: http
      port: 8080
      targetPort: http
`,
    "README.md": `# GitOps repository for coxswain

This repository is the desired state of a fleet of Docker hosts: coxswain follows its \`main\` branch and
drives every host toward what the manifests say. Made by \`coxswain init\`.

| path | what it is |
|---|---|
| \`nodes/${node}.yaml\` | a Node: one Docker host (${endpoint}); add one file per host |
| \`apps/hello/\` | an example app: a Namespace, a Deployment of 2 replicas and a NodePort Service |

Work with it as with any Git repository:

\`\`\`sh
coxswain validate .                   # check the manifests as the operator will, before you commit
git commit -am "…"                    # coxswain applies each new commit of main
git log --notes=coxswain --oneline    # one line per processed commit
git show coxswain/status:summary.yaml # what runs now
\`\`\`

Status is written back to this repository: the \`coxswain/status\` branch and notes under
\`refs/notes/coxswain\`. Do not commit to \`coxswain/status\` yourself.
`,
  };
}

/** The top of the Git work tree holding `dir`, or undefined when it is in none (or git is not installed). */
function workTreeOf(dir: string): string | undefined {
  const r = spawnSync("git", ["rev-parse", "--show-toplevel"], { cwd: dir, encoding: "utf8" });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

/** `git init` + one commit of everything in `dir`, as the user's Git identity (or "coxswain init" when none is set). */
function commitScaffold(dir: string): void {
  const identity = spawnSync("git", ["config", "user.email"], { cwd: dir, encoding: "utf8" }).stdout?.trim();
  const fallback = identity ? {} : { GIT_AUTHOR_NAME: "coxswain init", GIT_AUTHOR_EMAIL: "init@coxswain.invalid", GIT_COMMITTER_NAME: "coxswain init", GIT_COMMITTER_EMAIL: "init@coxswain.invalid" };
  const git = (...args: string[]) => execFileSync("git", args, { cwd: dir, env: { ...process.env, ...fallback }, stdio: "pipe" });
  try {
    git("init", "-q", "-b", "main");
    git("add", "-A");
    git("commit", "-q", "-m", "Scaffold a GitOps repository for coxswain (coxswain init)");
  } catch (err) {
    throw new CoxError("RepoNotFound", `could not make ${dir} a Git repository (is git installed?): ${(err as Error).message}`);
  }
}

/** Quotes a path for the shell line printed to the user, only when it needs it. */
function shellWord(text: string): string {
  return /^[A-Za-z0-9_./:@%+=-]+$/.test(text) ? text : `'${text.replace(/'/g, "'\\''")}'`;
}

/** The flags of `coxswain init`. */
export const INIT_FLAGS = { "node-name": { type: "string" } } as const;

/** Scaffolds the repository; resolves with the exit code. InvalidArgument when DIR holds anything but `.git`. */
export async function initCommand(argv: string[], out: (line: string) => void): Promise<number> {
  const { values, positionals } = parse(argv, INIT_FLAGS, true);
  if (positionals.length > 1) throw new CoxError("InvalidArgument", `usage: ${INIT_USAGE.split("\n")[0]}`);
  const dir = path.resolve(positionals[0] ?? ".");
  const node = values["node-name"] ?? hostNodeName();
  if (!/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(node)) {
    throw new CoxError("InvalidArgument", `--node-name: expected a DNS label: up to 63 lowercase letters, digits or '-', starting and ending with a letter or digit (got ${JSON.stringify(node)})`);
  }
  if (existsSync(dir)) {
    if (!statSync(dir).isDirectory()) throw new CoxError("InvalidArgument", `${dir} is not a directory: coxswain init writes into an empty or new directory`);
    const present = readdirSync(dir)
      .filter((e) => e !== ".git")
      .sort();
    if (present.length > 0) {
      const shown = present.slice(0, 5).join(", ") + (present.length > 5 ? `, … (${present.length} entries)` : "");
      throw new CoxError("InvalidArgument", `${dir} is not empty (${shown}): coxswain init writes only into an empty or new directory, so that it overwrites nothing`);
    }
  }
  const endpoint = localDockerEndpoint();
  const files = scaffold(node, endpoint);
  const paths = Object.keys(files).sort();
  for (const file of paths) {
    mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    writeFileSync(path.join(dir, file), files[file]!, { flag: "wx" });
    out(`wrote ${path.join(dir, file)}`);
  }
  const top = workTreeOf(dir);
  let run: string;
  if (top === undefined) {
    commitScaffold(dir);
    out(`made ${dir} a Git repository (branch main) with the scaffold as its first commit`);
    run = `coxswain run --repo ${shellWord(dir)}`;
  } else {
    const sub = path.relative(top, dir);
    out(`${dir} is inside the Git work tree ${top}: nothing was committed; review and commit the files yourself`);
    run = `coxswain run --repo ${shellWord(top)}${sub ? ` --path ${shellWord(sub)}` : ""}`;
  }
  const socket = endpoint.slice("unix://".length);
  if (!existsSync(socket)) out(`note: ${socket} does not exist: start Docker on this host, or edit nodes/${node}.yaml to name its engine`);
  out(`next: ${run}`);
  return 0;
}
