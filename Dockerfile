# One image, three programs: `switchyard balancer | backend | controller`.
#
#   docker build -t switchyard:local .                       official node image
#   docker build --build-arg NODE_IMAGE=... -t switchyard:local .
#
# `make up` picks NODE_IMAGE: the official image when it can be pulled, else a
# base image made from this host's own node (scripts/base-images.sh).
ARG NODE_IMAGE=node:26-bookworm-slim

# --- build: all dependencies, npm run build, then drop the dev ones ---------
FROM ${NODE_IMAGE} AS build
WORKDIR /src
# npm may reach the registry through a TLS-intercepting proxy: trust the CA
# bundle of the machine that runs the build (copied into docker/ca/ by make
# up), else the base image's own.
COPY docker/ca/ /usr/local/share/switchyard-ca/
RUN set -e; ca=/usr/local/share/switchyard-ca/ca-certificates.crt; \
    if [ ! -s "$ca" ] && [ -s /etc/ssl/certs/ca-certificates.crt ]; then cp /etc/ssl/certs/ca-certificates.crt "$ca"; fi; \
    if [ -s "$ca" ]; then npm config set cafile "$ca"; fi; \
    npm config set fund false; npm config set audit false; npm config set update-notifier false
ENV NODE_EXTRA_CA_CERTS=/usr/local/share/switchyard-ca/ca-certificates.crt
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY scripts/copy-assets.mjs scripts/copy-assets.mjs
COPY common/ common/
COPY balancer/ balancer/
COPY backend/ backend/
COPY controller/ controller/
COPY cli/ cli/
# The same build as on the host (`npm run build`: tsc, then the files tsc does
# not emit, such as the dashboard's page, script and styles, into dist/).
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

# --- runtime: production dependencies and everything the build put in dist/ --
FROM ${NODE_IMAGE}
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules/ node_modules/
COPY --from=build /src/dist/ dist/
COPY docker/healthcheck.mjs docker/healthcheck.mjs
# Code owned by root, process run as the unprivileged `node` user (uid 1000 in
# the official images and in the host-made base image).
USER node
EXPOSE 9090 9091 8081
# Fits the backend (GET /health on its port); compose sets the balancer's and
# turns it off for the controller.
HEALTHCHECK --interval=2s --timeout=2s --start-period=10s --retries=2 CMD ["node", "/app/docker/healthcheck.mjs"]
ENTRYPOINT ["node", "/app/dist/cli/switchyard.js"]
CMD ["--help"]
