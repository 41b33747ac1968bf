# syntax=docker/dockerfile:1.7
#
# schemagate image: one static-ish binary plus pg_dump/pg_restore for PostgreSQL 14 to 18.
#
#   docker buildx build --platform linux/amd64,linux/arm64 \
#     --build-arg VERSION=1.4.0 --build-arg REVISION="$(git rev-parse HEAD)" -t schemagate:1.4.0 .
#
# Where only Debian's mirrors are reachable, --build-arg PG_CLIENTS=debian installs Debian's
# client of one major instead (see below). .ci/image-smoke builds this file with podman,
# unchanged but for build arguments, and runs the image (deploy/README.md, "Smoke test").
#
# Both platforms build natively with the same steps (QEMU emulates arm64 on an amd64
# builder): no cross-compilation toolchain, nothing that depends on TARGETARCH except
# the name of the cache mount. The migrations and compat.toml are embedded in the binary
# (embed_catalogue!, include_str!), so the runtime stage needs no copy of them.

ARG RUST_VERSION=1.95
ARG DEBIAN_RELEASE=bookworm

# ---------------------------------------------------------------------------- build
FROM rust:${RUST_VERSION}-${DEBIAN_RELEASE} AS build
ARG TARGETARCH
WORKDIR /src

# pg_query (libpg_query, PostgreSQL's own parser) compiles C and runs bindgen: clang and
# libclang, from Debian.
RUN apt-get update \
 && apt-get install -y --no-install-recommends clang libclang-dev \
 && rm -rf /var/lib/apt/lists/*

# Everything build.rs and cargo read; see .dockerignore for what stays out.
COPY Cargo.toml Cargo.lock build.rs ./
COPY macros ./macros
COPY src ./src
COPY migrations ./migrations
COPY compat.toml ./
# The manifest names this example and the workspace's test-support crate; cargo wants
# their files even when it builds only the binary.
COPY examples/embedded ./examples/embedded
COPY testing ./testing

# The registry and target directories are BuildKit cache mounts: a rebuild after a
# source change recompiles only schemagate, not its dependencies. target/ is a cache
# mount, so the binary is copied out of it within the same step.
RUN --mount=type=cache,id=schemagate-cargo-registry,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,id=schemagate-cargo-git,target=/usr/local/cargo/git,sharing=locked \
    --mount=type=cache,id=schemagate-target-${TARGETARCH},target=/src/target,sharing=locked \
    cargo build --release --locked --bin schemagate \
 && install -D -m 0755 target/release/schemagate /out/schemagate

# -------------------------------------------------------------------------- runtime
FROM debian:${DEBIAN_RELEASE}-slim AS runtime
ARG DEBIAN_RELEASE

# PG_CLIENTS=pgdg (the default): PostgreSQL's own apt repository (PGDG) ships every
# supported client major side by side under /usr/lib/postgresql/<major>/bin/, where
# schemagate picks the pg_dump whose major equals the server's (DESIGN §6). Its signing key
# comes from Debian's postgresql-common package, so nothing is fetched outside an apt
# repository.
# PG_CLIENTS=debian: Debian's own client, one major (15 on bookworm), at the same path: for
# networks that reach only Debian's mirrors (DESIGN §15, .ci/image-smoke). Such an image
# backs up servers of that major only; any other refuses the change (exit 5).
# The client packages are unpacked (dpkg-deb -x), not installed: each depends on
# postgresql-client-common, whose /usr/bin wrappers are Perl and bring 47 MB of it, while
# schemagate runs /usr/lib/postgresql/<major>/bin/ directly. What the programs link
# (libpq5, readline, lz4, zstd, zlib) is installed by apt as usual, so apt stays
# consistent for images built FROM this one; the build ends by running each program.
# Client versions are not pinned on purpose: each major gets its security fixes with
# every rebuild (see .hadolint.yaml).
ARG PG_CLIENTS=pgdg
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
WORKDIR /tmp/clients
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && case "${PG_CLIENTS}" in \
      pgdg) \
        apt-get download postgresql-common \
        && dpkg-deb -x postgresql-common_*.deb common \
        && install -D -m 0644 common/usr/share/postgresql-common/pgdg/apt.postgresql.org.asc \
             /usr/share/keyrings/pgdg.asc \
        && . /etc/os-release \
        && echo "deb [signed-by=/usr/share/keyrings/pgdg.asc] https://apt.postgresql.org/pub/repos/apt ${VERSION_CODENAME}-pgdg main" \
             > /etc/apt/sources.list.d/pgdg.list \
        && apt-get update \
        && clients="postgresql-client-14 postgresql-client-15 postgresql-client-16 postgresql-client-17 postgresql-client-18" ;; \
      debian) \
        clients="$(apt-cache depends postgresql-client | sed -n 's/^ *Depends: \(postgresql-client-[0-9]*\)$/\1/p')" ;; \
      *) \
        echo "PG_CLIENTS must be pgdg or debian, not '${PG_CLIENTS}'" >&2; exit 2 ;; \
    esac \
 && apt-get install -y --no-install-recommends libpq5 libreadline8 liblz4-1 libzstd1 zlib1g \
 && for client in ${clients}; do apt-get download "${client}" && dpkg-deb -x "${client}"_*.deb /; done \
 && rm -rf /tmp/clients/* /var/lib/apt/lists/* /usr/share/postgresql/*/man /usr/share/doc/postgresql-client-* \
 && for program in /usr/lib/postgresql/*/bin/pg_dump /usr/lib/postgresql/*/bin/pg_restore /usr/lib/postgresql/*/bin/psql; do \
      "${program}" --version || exit 1; \
    done

# A numeric, non-root user, so Kubernetes' runAsNonRoot can verify it without a passwd lookup.
# /data is its own too: a new volume mounted there (a SQLite database, deploy/compose/
# single-node.yaml) takes the directory's owner, so the user can create the file in it.
RUN groupadd --system --gid 10001 schemagate \
 && useradd --system --uid 10001 --gid 10001 --home-dir /app --no-create-home \
      --shell /usr/sbin/nologin schemagate \
 && install -d -o 10001 -g 10001 -m 0700 /app /app/backups /data

COPY --from=build /out/schemagate /usr/local/bin/schemagate

# VERSION is the release (e.g. 1.4.0, from the git tag); it becomes APP_VERSION, which
# overrides [app].version of the embedded compat.toml (the window still comes from
# [schema]). Release builds always pass it; a local build says plainly that it is one.
ARG VERSION=0.0.0-dev
ARG REVISION=""
ARG SOURCE="https://github.com/schemagate/schemagate"
ENV APP_VERSION=${VERSION} \
    SCHEMAGATE_BACKUP_DIR=/app/backups
RUN printf '%s\n' "${VERSION}" > /app/VERSION

LABEL org.opencontainers.image.title="schemagate" \
      org.opencontainers.image.description="Gates a PostgreSQL schema across application releases: compat window, verified backups, migrations, rollback, health and metrics." \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="docker.io/library/debian:${DEBIAN_RELEASE}-slim"

USER 10001:10001
WORKDIR /app
VOLUME ["/app/backups"]
EXPOSE 8080

# start-period covers a startup that waits for the migration lock (--lock-timeout, 300 s)
# and then migrates; failures during it do not count.
HEALTHCHECK --interval=15s --timeout=5s --start-period=360s --retries=3 \
  CMD ["schemagate", "healthcheck"]

ENTRYPOINT ["schemagate"]
CMD ["serve"]
