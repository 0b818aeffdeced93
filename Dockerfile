# Builds the operator and the STS as static binaries and ships them in a
# distroless image that runs as a non-root user. The pkcs11 target
# (`docker build --target pkcs11`) is the variant whose STS signs through a
# PKCS#11 module: it needs cgo, so it runs on a glibc base, with SoftHSM2's
# module at /usr/lib/softhsm/libsofthsm2.so; mount a vendor's module instead.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY api/ api/
COPY config/crd/ config/crd/
COPY cmd/ cmd/
COPY controllers/ controllers/
COPY internal/ internal/
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/ ./cmd/...

FROM gcr.io/distroless/static:nonroot AS static
COPY --from=build /out/ /
USER 65532:65532
ENTRYPOINT ["/operator"]

FROM build AS build-pkcs11
RUN CGO_ENABLED=1 go build -trimpath -ldflags="-s -w" -tags pkcs11 -o /out/sts ./cmd/sts

FROM debian:bookworm-slim AS pkcs11
RUN apt-get update && apt-get install -y --no-install-recommends softhsm2 ca-certificates \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build-pkcs11 /out/ /
USER 65532:65532
ENTRYPOINT ["/sts"]

# The default target: the static image.
FROM static
