# syntax=docker/dockerfile:1
# The regate image: docker build -t ghcr.io/regate/regate:0.1.0 --build-arg REVISION=$(git rev-parse --short HEAD) .
#
# Every build step is a Makefile target, the same commands `make test` runs on a developer machine and
# in CI (sidecar/test/inject/dockerfile.test.ts keeps it so): `make tools bundle` builds the pinned opa
# and compiles rego/ to WASM, `make deps build` installs and compiles the TypeScript. The one extra step
# drops the dev dependencies. The runtime stage is a slim Node 20 with no compiler, no package manager
# run, no root.

# --- policy: the pinned opa (go install, as scripts/install-opa.sh does) and the WASM bundle ---------
# opa v1.22.2 needs Go 1.26; the golang image brings make, bash and git.
FROM golang:1.26.8-bookworm AS policy
WORKDIR /src
COPY Makefile ./
COPY scripts/install-opa.sh scripts/
RUN make tools
COPY testdata/opa/ testdata/opa/
COPY rego/ rego/
# There is no .git in the build context: the revision stamped into the bundle comes from the build arg.
ARG REVISION=dev
RUN make bundle REVISION=${REVISION}

# --- build: npm install, tsc, then production dependencies only ---------------------------------------
# The full node image has make (the slim one does not).
FROM node:20.20.2-bookworm AS build
WORKDIR /src
COPY Makefile package.json package-lock.json ./
RUN make deps
COPY tsconfig.json ./
COPY sidecar/src/ sidecar/src/
RUN make build
RUN npm prune --omit=dev

# --- runtime -----------------------------------------------------------------------------------------
FROM node:20.20.2-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
# Owned by root, run as 10001: the process cannot change its own code or policy.
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules/ node_modules/
COPY --from=build /src/dist/ dist/
# Read at run time: the decision schema validates every policy result.
COPY testdata/schemas/ testdata/schemas/
# The example policy, for trying the image without a bundle of your own.
COPY --from=policy /src/build/bundle.tar.gz build/bundle.tar.gz
USER 10001:10001
# postgres, http, admin. Listeners bind 127.0.0.1 unless regate.yaml says otherwise: in a pod the agent
# uses localhost; with `docker run -p`, set the listen hosts to 0.0.0.0 in your config.
EXPOSE 6432 8080 9187
# No curl in the slim image: Node's fetch. Port 9187 is the admin listener's default.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:9187/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["node", "dist/sidecar/src/main.js"]
CMD ["run", "--config", "/etc/regate/regate.yaml"]
