# syntax=docker/dockerfile:1
#
# One image for the three Eric services; the command picks the service:
#   node services/aggregator/dist/start.cjs    (StatefulSet; port 6070; sizes libuv's thread pool, runs main.js)
#   node services/aggregator/dist/provision.js (the chart's topic Job: creates and scales the topics)
#   node services/gateway/dist/main.js      (Deployment; port 6066; the default command)
#   node services/producer/dist/main.js     (Deployment; port 6060)
#   node services/producer/dist/cli.js      (the `produce` command of the original app)
# docs/kubernetes.md, "Images", says why it is one image. Build from the repository root:
#   docker build -t eric:dev .
ARG NODE_IMAGE=node:20.19-bookworm-slim
# The runtime stage: the same Debian release, with only the node binary of NODE_IMAGE (no npm, no
# headers: ~70 MB less).
ARG BASE_IMAGE=debian:bookworm-slim

# --- build: compile the native Kafka client and the TypeScript sources ----------------------
FROM ${NODE_IMAGE} AS build
# What librdkafka is built and linked against (CKJS_LINKING=dynamic), as in scripts/install.sh.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      build-essential python3 ca-certificates \
      zlib1g-dev libssl-dev libzstd-dev liblz4-dev libsasl2-dev libcurl4-openssl-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
# Manifests first: the dependency layer (and its ~90 s native build) is reused until they change.
COPY package.json package-lock.json ./
COPY services/shared/package.json services/shared/
COPY services/aggregator/package.json services/aggregator/
COPY services/gateway/package.json services/gateway/
COPY services/producer/package.json services/producer/
ENV CKJS_LINKING=dynamic
# The native client is compiled against the headers that come with Node.js, never downloaded.
ENV npm_config_nodedir=/usr/local
# Behind a TLS proxy with its own CA, pass that CA as the optional secret "extra-ca"
# (docker build --secret id=extra-ca,src=ca.pem .): it is mounted for this step only and never
# stored in a layer. Without it npm trusts Node's own CAs, as usual.
RUN --mount=type=cache,target=/root/.npm \
    --mount=type=secret,id=extra-ca \
    if [ -s /run/secrets/extra-ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/extra-ca; fi \
 && npm ci --no-audit --no-fund \
 && node -e "require('@confluentinc/kafka-javascript')"
COPY tsconfig.base.json ./
# What tsc compiles. The dashboard page (services/gateway/public) goes straight into the runtime
# stage instead: an edit of it rebuilds one small layer, not the code (skaffold dev).
COPY services/shared/ services/shared/
COPY services/aggregator/ services/aggregator/
COPY services/producer/ services/producer/
COPY services/gateway/tsconfig.json services/gateway/
COPY services/gateway/src/ services/gateway/src/
# The three services (and, through their references, the shared package); the repository's other
# TypeScript projects (benchmarks) are not part of the image.
RUN npx tsc --build services/aggregator services/gateway services/producer \
 # Production dependencies only; the compiled native client stays where it is.
 && npm prune --omit=dev --no-audit --no-fund \
 && node -e "require('@confluentinc/kafka-javascript')" \
 # The native client keeps only what it loads: its addon and librdkafka's shared libraries
 # (build/deps, found through the addon's rpath). Sources, objects and static archives go:
 # ~280 MB down to ~5 MB.
 && cd node_modules/@confluentinc/kafka-javascript \
 && rm -rf deps src build/Release/obj.target build/Release/.deps \
           build/deps/*.a build/deps/include build/deps/pkgconfig \
 && strip --strip-unneeded build/deps/*.so.1 build/Release/*.node \
 && cd /app && node -e "require('@confluentinc/kafka-javascript')" \
 # Type declarations and source maps are for editors and debuggers, not for node: ~35 MB,
 # most of it @kubernetes/client-node's.
 && find node_modules \( -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' -o -name '*.map' \) -type f -delete

# --- runtime: Node.js, the shared libraries librdkafka links to, the built app --------------
FROM ${BASE_IMAGE} AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      ca-certificates libssl3 zlib1g libzstd1 liblz4-1 libsasl2-2 libcurl4 \
 && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production
COPY --from=build /usr/local/bin/node /usr/local/bin/node
WORKDIR /app
COPY --from=build --chown=root:root /app/package.json ./
COPY --from=build --chown=root:root /app/node_modules/ node_modules/
COPY --from=build --chown=root:root /app/services/shared/package.json services/shared/
COPY --from=build --chown=root:root /app/services/shared/dist/ services/shared/dist/
COPY --from=build --chown=root:root /app/services/aggregator/package.json services/aggregator/
COPY --from=build --chown=root:root /app/services/aggregator/dist/ services/aggregator/dist/
COPY --from=build --chown=root:root /app/services/gateway/package.json services/gateway/
COPY --from=build --chown=root:root /app/services/gateway/dist/ services/gateway/dist/
COPY --from=build --chown=root:root /app/services/producer/package.json services/producer/
COPY --from=build --chown=root:root /app/services/producer/dist/ services/producer/dist/
# Last, from the build context: the dashboard page, the file most often edited.
COPY --chown=root:root services/gateway/public/ services/gateway/public/
# The files belong to root and are read-only for the service, which runs as uid 1000 (numeric so
# that runAsNonRoot can check it; the node user of the official image has that uid).
USER 1000:1000
EXPOSE 6060 6066 6070
CMD ["node", "services/gateway/dist/main.js"]
