# syntax=docker/dockerfile:1
#
# xjp in a container: a static, pure-Go binary on distroless, running as a
# non-root user. docs/deploy.md shows how to run it on Kubernetes.
#
#   docker build -t xjp \
#     --build-arg VERSION=$(git describe --tags --always) \
#     --build-arg COMMIT=$(git rev-parse HEAD) \
#     --build-arg DATE=$(date -u +%Y-%m-%dT%H:%M:%SZ) .
#   docker run --rm -p 8080:8080 -v xjp-data:/var/lib/xjp xjp
#
# With no config the container serves the demo model on SQLite in the data
# volume and prints its first API key in the log. For replicas, give it
# Postgres and Redis through the environment (XJP_STORE_DRIVER=postgres,
# XJP_STORE_DSN, XJP_REDIS_URL, XJP_ADMIN_TOKEN) and a config file with
# XJP_CONFIG or --config.

ARG GO_VERSION=1.26

FROM golang:${GO_VERSION} AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod \
    go mod download
COPY . .
ARG VERSION=dev
ARG COMMIT=
ARG DATE=
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 go build -trimpath -buildvcs=false \
      -ldflags "-s -w \
        -X github.com/rickyjim626/xjp/internal/cli.Version=${VERSION} \
        -X github.com/rickyjim626/xjp/internal/cli.Commit=${COMMIT} \
        -X github.com/rickyjim626/xjp/internal/cli.Date=${DATE}" \
      -o /out/xjp ./cmd/xjp \
 && mkdir -p /out/data

# static: CA certificates, tzdata and /etc/passwd with the nonroot user
# (uid 65532), nothing else; no shell.
FROM gcr.io/distroless/static-debian13:nonroot
COPY --from=build /out/xjp /usr/local/bin/xjp
# The data dir (SQLite database, generated admin token) belongs to nonroot,
# so a volume mounted there starts writable.
COPY --from=build --chown=65532:65532 /out/data /var/lib/xjp
ENV XJP_DATA_DIR=/var/lib/xjp
VOLUME ["/var/lib/xjp"]
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/xjp"]
CMD ["serve", "--headless", "--listen", "0.0.0.0:8080"]
