# httpmon itself: hm-load, hm-stat, hm-reset and httpmon-ctl, built from this
# repository with Debian's toolchain and installed with `make install`.
# Run it privileged, in the host's network namespace, with the host's
# /sys/fs/bpf mounted (docker/docker-compose.yml does).
# Build context: the repository root.
FROM debian:bookworm-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      clang llvm bpftool libbpf-dev libxdp-dev libelf-dev zlib1g-dev gcc libc6-dev make \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN make PREFIX=/usr \
 && make install PREFIX=/usr DESTDIR=/out

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends libbpf1 libxdp1 libelf1 zlib1g iproute2 \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/ /
COPY docker/monitor.sh /usr/local/bin/httpmon-monitor
ENTRYPOINT ["/usr/local/bin/httpmon-monitor"]
