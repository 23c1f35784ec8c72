# convnet-serve container image.
#   docker build -t convnet-serve .           (add --network host on machines without a bridge)
#   docker run --rm -p 3000:3000 convnet-serve
# Three stages, all on node:20-bookworm-slim: `deps` (production node_modules and native
# binaries), `build` (every dependency, tsc) and `runtime` (what runs).
# Works with the classic builder and BuildKit alike (no BuildKit-only syntax).

# Stage 1, deps: the production node_modules, with the native packages' install scripts.
# It depends on the package files only, so source edits reuse it (and do not re-download
# libtensorflow where that download works).
FROM node:20-bookworm-slim AS deps
WORKDIR /app
# onnxruntime-node ships its CPU binaries in the npm package; its postinstall would only fetch
# CUDA parts (hundreds of MB) that this image never uses. npm 11 skips that script through
# package.json's allowScripts; npm 10, which node:20 images carry, reads this variable instead.
ENV ONNXRUNTIME_NODE_INSTALL=skip
# --ignore-scripts: `prepare` (tsc) cannot run here, and the native packages' install scripts are
# run one by one below, where a failure can be handled.
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund

# sharp ships prebuilt binaries (@img/sharp-*); its install script must succeed.
RUN npm rebuild sharp

# @tensorflow/tfjs-node (optional) downloads libtensorflow and its prebuilt addon from
# storage.googleapis.com. With internet: the native `tensorflow` backend. Without (this machine):
# the download fails (its script has no timeout, hence `timeout`), the package is removed and the
# service picks the wasm backend (src/engine/backend.ts falls through when the import fails).
# The require() check catches an install that "succeeded" without a loadable binding.
# Not `npm prune` after this: prune re-adds a removed optional package (without its binary).
RUN (timeout 600 npm rebuild @tensorflow/tfjs-node \
      && node -e "require('@tensorflow/tfjs-node')" >/dev/null 2>&1) \
    || (echo "tfjs-node: libtensorflow download failed; the service will use the wasm backend" \
        && rm -rf node_modules/@tensorflow/tfjs-node)

# Trim what can never run here: onnxruntime-node's binaries for other OSes and CPUs (~220 MB)
# and the source maps of the dependencies (~200 MB, mostly tfjs browser bundles; node reads none).
RUN cd node_modules/onnxruntime-node/bin/napi-v6 \
    && keep="./$(node -p process.platform)/$(node -p process.arch)" \
    && test -f "$keep/onnxruntime_binding.node" \
    && find . -mindepth 2 -maxdepth 2 -type d ! -path "$keep" -exec rm -rf {} + \
    && cd /app && find node_modules -type f -name '*.map' -delete


# Stage 2, build: every dependency (TypeScript), then compile src/, routes/ and models/ to dist/.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
COPY routes ./routes
COPY models ./models
COPY public ./public
COPY proto ./proto
RUN npm run build

# The default served models: every folder of models/ holding a config.json (models/ also holds the
# zoo's .ts sources, which are compiled into dist/models). Symlinks are dereferenced; one that
# dangles (e.g. it points outside the build context) fails the build rather than ship a broken model.
RUN mkdir -p /out/models \
    && for d in models/*/; do \
         if [ -f "${d}config.json" ]; then cp -rL "$d" /out/models/ || exit 1; fi; \
       done \
    && rm -f /out/models/*/*.tmp \
    && echo "default models:" && ls -l /out/models


# Stage 3, runtime: production dependencies, dist/, public/, proto/ and the default models only.
FROM node:20-bookworm-slim AS runtime

# tini as PID 1 forwards SIGTERM to node (which drains) and reaps zombies. -s (subreaper) keeps it
# correct and quiet when something else is PID 1 (docker run --init, compose `init: true`).
# The official image has a `node` user but the local stand-in may not: make our own, fixed uid.
RUN apt-get update \
    && apt-get install -y --no-install-recommends tini \
    && apt-get clean && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/log/apt /var/log/dpkg.log \
    && groupadd --gid 10001 convnet \
    && useradd --uid 10001 --gid 10001 --home-dir /nonexistent --no-create-home \
         --shell /usr/sbin/nologin convnet

# SHUTDOWN_DELAY_MS: after SIGTERM the server keeps serving (readiness already 503) for 2 s before
# it closes. Without it, under mixed load (synchronous /analyze work keeping the event loop busy),
# `docker stop` reset requests already on the wire and, when a large response was still being
# written at close(), left a keep-alive connection open until the drain deadline (exit 1).
# HEALTH_PORT: the health probes are answered on a port of their own by a thread of their own, so
# they stay prompt however busy the main event loop is (docs/deployment.md#health-probes).
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000 \
    HEALTH_PORT=3001 \
    MODELS_DIR=/models \
    SHUTDOWN_DELAY_MS=2000

WORKDIR /app
# Owned by root, read-only for the service user.
COPY --from=build /app/package.json ./package.json
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/public ./public
# The ONNX schema the importer decodes model files with.
COPY --from=build /app/proto ./proto
COPY --from=build /out/models /models
# A named volume mounted here starts as a copy of the default models; add model folders to it.
VOLUME /models

USER 10001:10001
EXPOSE 3000 3001

# Ready = every model loaded and warmed up, not draining. No curl in slim: node's fetch.
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.HEALTH_PORT||process.env.PORT||3000)+'/health/ready',{signal:AbortSignal.timeout(4000)}).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]

ENTRYPOINT ["tini", "-s", "--"]
CMD ["node", "dist/src/server.js"]
