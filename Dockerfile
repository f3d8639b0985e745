# syntax=docker/dockerfile:1
# Portcullis: a static-ish Rust binary on distroless, running as the nonroot user (65532) with
# no shell. Built per platform (linux/amd64, linux/arm64) by Buildx.

# Keep at or above `rust-version` in Cargo.toml; the lock file is honoured (--locked).
FROM rust:1.95-bookworm AS builder
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY policies ./policies
COPY tests ./tests
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/src/target,sharing=locked \
    cargo build --release --locked --bin portcullis \
    && install -D -m 0755 target/release/portcullis /out/portcullis

# glibc and libgcc for Rust's std, nothing else. Pinned by tag: pin the digest too
# (gcr.io/distroless/cc-debian12:nonroot@sha256:...) when the release pipeline resolves it.
FROM gcr.io/distroless/cc-debian12:nonroot
LABEL org.opencontainers.image.title="portcullis" \
      org.opencontainers.image.description="A Kubernetes admission policy gate that accepts Kyverno validate policies verbatim" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=builder /out/portcullis /usr/local/bin/portcullis
COPY policies /etc/portcullis/policies
USER 65532:65532
EXPOSE 8443 9090
ENTRYPOINT ["/usr/local/bin/portcullis"]
CMD ["serve", "--policies=/etc/portcullis/policies", "--tls-cert=/etc/portcullis/tls/tls.crt", "--tls-key=/etc/portcullis/tls/tls.key"]
