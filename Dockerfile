# The coxswain operator image: Node.js plus the built package and its production dependencies, nothing else.
#
#   docker build -t coxswain:0.1.0 .
#   docker run -d --name coxswain \
#     -v /var/run/docker.sock:/var/run/docker.sock --group-add "$(stat -c %g /var/run/docker.sock)" \
#     -v coxswain-state:/var/lib/coxswain \
#     coxswain:0.1.0 run --repo https://git.example.com/you/fleet.git --state-dir /var/lib/coxswain
#
# Two stages. "build" does what publishing the package does: `npm ci` (every dependency; its "prepare" script
# compiles operator/src to operator/dist), `npm pack` (only what package.json "files" names: operator/bin,
# operator/dist without source maps, crds, examples-repo), then `npm ci --omit=dev` beside the unpacked
# package. The image is the same base with that directory copied in, owned by root and run as an
# unprivileged user (uid 10001), so the process cannot rewrite its own code. No TypeScript source, test or
# dev dependency reaches it.
#
# Offline builds. NODE_IMAGE is the base of both stages: by default the official Node.js 20 image, and then
# `npm ci` fetches packages from the npm registry — the only step here that touches the network. A base whose
# npm cache already holds every package of package-lock.json and whose environment sets
# npm_config_offline=true builds this very file with no network at all (the build can run with
# `--network none`). That is how the project's test builds it (test/integration/packaging/image.test.ts): its
# base is imported from the host's Node.js, npm and npm cache, since no registry is reachable there; every
# instruction below runs unchanged.
#
# Written for both builders, BuildKit and the classic one (no RUN --mount, no heredocs); the test uses the
# classic one, the only one the Debian engine it runs offers without the buildx plugin.
ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json tsconfig.json tsconfig.build.json README.md ./
COPY crds/ crds/
COPY examples-repo/ examples-repo/
COPY operator/ operator/
RUN npm ci --no-audit --no-fund \
 && npm pack --ignore-scripts --pack-destination /tmp \
 && mkdir -p /tmp/unpacked /opt \
 && tar -xzf /tmp/coxswain-*.tgz -C /tmp/unpacked \
 && mv /tmp/unpacked/package /opt/coxswain \
 && cp package-lock.json /opt/coxswain/ \
 && cd /opt/coxswain \
 && npm ci --omit=dev --ignore-scripts --no-audit --no-fund

FROM ${NODE_IMAGE}
ENV NODE_ENV=production \
    HOME=/var/lib/coxswain
COPY --from=build /opt/coxswain /opt/coxswain
# /var/lib/coxswain: the state directory (Git mirrors); mount a volume there to keep mirrors across restarts.
RUN ln -s /opt/coxswain/operator/bin/coxswain.js /usr/local/bin/coxswain \
 && mkdir -p /var/lib/coxswain \
 && chown 10001:10001 /var/lib/coxswain
USER 10001:10001
WORKDIR /var/lib/coxswain
ENTRYPOINT ["coxswain"]
CMD ["--help"]
