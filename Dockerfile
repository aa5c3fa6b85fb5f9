# storage_api image: a fully static, stripped binary on distroless static (nonroot, no shell).
#
# Builds with the legacy builder and with BuildKit alike: no RUN --mount, heredocs or COPY --chmod.
#   docker build -t storage-api:1.0.0 .
# BUILDER may name a Debian 12 image that already has g++, cmake and make; apt is then skipped:
#   docker build --build-arg BUILDER=container-lab/debian-build:bookworm -t storage-api:1.0.0 .
# The "traffic" stage packages generate_traffic.sh with curl for the compose traffic profile.
ARG BUILDER=debian:bookworm-slim
ARG RUNTIME=gcr.io/distroless/static-debian12:nonroot

# First, so that `--target traffic` builds nothing else (the legacy builder builds every earlier stage).
FROM ${BUILDER} AS traffic
RUN command -v curl >/dev/null \
    || (apt-get update \
      && apt-get install -y --no-install-recommends curl ca-certificates \
      && rm -rf /var/lib/apt/lists/*)
COPY generate_traffic.sh /usr/local/bin/generate_traffic.sh
USER 65534:65534
ENTRYPOINT ["bash", "/usr/local/bin/generate_traffic.sh"]

FROM ${BUILDER} AS build
RUN if command -v g++ >/dev/null && command -v cmake >/dev/null && command -v make >/dev/null; then :; \
    else apt-get update \
      && apt-get install -y --no-install-recommends g++ cmake make \
      && rm -rf /var/lib/apt/lists/*; fi
WORKDIR /src
# Only what the binary is built from: tests, docs and deployment files stay out of the cache key.
COPY CMakeLists.txt ./
COPY src ./src
# CMakeLists.txt hardens every build (static-pie, full RELRO, stack protector, stack-clash probes, CET,
# FORTIFY, libstdc++ assertions; tests/deploy/check_hardening.sh verifies it). LTO and section garbage
# collection shrink the static binary; strip drops the symbols. The build fails unless the result is a
# static-pie (type DYN, no interpreter) with BIND_NOW, within its 1.75 MiB budget, that starts.
RUN cmake -S . -B /build \
      -DCMAKE_BUILD_TYPE=Release \
      -DSTORAGE_API_STATIC=ON \
      -DSTORAGE_API_TESTS=OFF \
      -DCMAKE_INTERPROCEDURAL_OPTIMIZATION=ON \
      -DCMAKE_CXX_FLAGS="-ffunction-sections -fdata-sections" \
      -DCMAKE_EXE_LINKER_FLAGS="-Wl,--gc-sections" \
    && cmake --build /build --parallel "$(nproc)" --target storage_api \
    && strip --strip-all -o /storage_api /build/storage_api \
    && chmod 0755 /storage_api \
    && { { readelf -hW /storage_api | grep -q 'Type: *DYN' \
          && ! readelf -lW /storage_api | grep -q INTERP \
          && readelf -dW /storage_api | grep -q BIND_NOW \
          && test "$(stat -c %s /storage_api)" -le 1835008; } \
        || { echo "storage_api: not a static-pie with BIND_NOW within 1835008 bytes" >&2; \
          stat -c '%s bytes' /storage_api >&2; readelf -hlW /storage_api >&2; exit 1; }; } \
    && /storage_api --help >/dev/null
# The mount point of the durable log (DATA_DIR=/data), made here because the runtime image has no shell.
RUN mkdir -p /out/data && chown 65532:65532 /out/data && chmod 0700 /out/data

FROM ${RUNTIME} AS runtime
ARG RUNTIME
ARG VERSION=1.0.0
ARG REVISION=unknown
ARG CREATED=unknown
LABEL org.opencontainers.image.title="storage_api" \
      org.opencontainers.image.description="Object store over HTTP with an optional durable log and Prometheus metrics" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.base.name="${RUNTIME}"
COPY --from=build /storage_api /storage_api
# An empty /data owned by the service's user, mode 0700: a named volume mounted there starts as a copy of
# it (Docker copies an image directory's ownership and mode into an empty named volume), so
# `-v storage-data:/data -e DATA_DIR=/data` works without a chown. DATA_DIR is deliberately not set here:
# without it the service keeps everything in memory, so `docker run --read-only` with no volume still runs.
# (A bind mount or a Kubernetes volume keeps its own ownership: use fsGroup 65532, or chown it.)
# /out/ rather than /out/data: both builders give a directory they create as a COPY destination mode
# 0755, while one inside the copied tree keeps its 0700; the layer holds data/ alone ("/" is not touched).
COPY --from=build --chown=65532:65532 /out/ /
# Numeric, so that Kubernetes' runAsNonRoot can verify it without reading /etc/passwd.
USER 65532:65532
ENV PORT=5000
EXPOSE 5000
# No curl in distroless: the binary probes its own /healthz on 127.0.0.1:$PORT. With DATA_DIR the service
# replays its log before it listens, so failures in the first 60 s do not count (a success ends that
# period at once; a longer recovery shows "unhealthy" until it is done, and plain Docker restarts nothing).
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \
  CMD ["/storage_api", "--healthcheck"]
ENTRYPOINT ["/storage_api"]
