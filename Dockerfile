# syntax=docker/dockerfile:1
#
# netanomaly_exporter image: a static Go binary (no cgo; libpcap is loaded at
# run time) on Debian slim with libpcap for --capture.filter and
# --capture.method=pcap, running as an unprivileged user that gets
# CAP_NET_RAW from file capabilities.
#
#   docker build --build-arg REVISION=$(git rev-parse --short HEAD) -t netanomaly_exporter .

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# The same version ldflags as the Makefile; VERSION defaults to the VERSION file.
ARG VERSION=""
ARG REVISION=unknown
ARG BRANCH=unknown
RUN set -eu; \
    version="${VERSION:-$(cat VERSION)}"; \
    pkg=github.com/prometheus/common/version; \
    CGO_ENABLED=0 go build -trimpath \
      -ldflags "-s -w -X ${pkg}.Version=${version} -X ${pkg}.Revision=${REVISION} -X ${pkg}.Branch=${BRANCH} -X ${pkg}.BuildUser=docker -X ${pkg}.BuildDate=$(date -u +%Y%m%d-%H:%M:%S)" \
      -o /out/netanomaly_exporter ./cmd/netanomaly_exporter

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpcap0.8 libcap2-bin ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 65532 netanomaly \
 && useradd --system --uid 65532 --gid netanomaly --home-dir /var/lib/netanomaly --shell /usr/sbin/nologin netanomaly \
 && install -d -o netanomaly -g netanomaly /var/lib/netanomaly
COPY --from=build /out/netanomaly_exporter /usr/local/bin/netanomaly_exporter
# Live capture needs CAP_NET_RAW, which file capabilities grant to the
# non-root user within the container's capability set. Promiscuous mode
# (PACKET_MR_PROMISC on the capture socket) works with it alone, measured as
# uid 65532 with only CAP_NET_RAW in the bounding set. The file grants nothing
# more on purpose: the kernel refuses to run a binary whose file capabilities
# exceed the bounding set (EPERM at exec, even as root), so a cap_net_admin
# here would stop the image wherever only NET_RAW is granted, as in
# deploy/kubernetes/daemonset.yaml. Replaying files needs no capability.
RUN setcap cap_net_raw+ep /usr/local/bin/netanomaly_exporter
USER netanomaly:netanomaly
WORKDIR /var/lib/netanomaly
EXPOSE 9957
ENTRYPOINT ["/usr/local/bin/netanomaly_exporter"]
