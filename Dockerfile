# The localai image: Debian 12 and packages from Debian only.  One image
# for every service of etc/compose/docker-compose.yml; the command chooses
# the role (etc/compose/entrypoint.sh): postgres, nats, frontend, worker,
# standalone.
#
#   docker build -t localai:latest .
#   docker run --rm -p 8080:8080 localai:latest standalone
#
# Stage 1 builds with the project's own Makefile and installs into a
# staging directory (make install DESTDIR=/out); stage 2 carries only the
# runtime libraries, PostgreSQL, nats-server and the installed tree.

FROM debian:12 AS build
ARG DEBIAN_FRONTEND=noninteractive
RUN apt-get update && apt-get install -y --no-install-recommends \
        build-essential pkg-config python3 ca-certificates \
        libgrpc-dev protobuf-compiler protobuf-c-compiler libprotobuf-c-dev \
        libnats-dev libpq-dev libpcre2-dev \
        libmicrohttpd-dev libconfig-dev libsystemd-dev \
        libjansson-dev libcurl4-openssl-dev libssl-dev libarchive-dev \
        libcmocka-dev libespeak-ng-dev espeak-ng-data \
        libpocketsphinx-dev libsphinxbase-dev pocketsphinx-en-us \
    && rm -rf /var/lib/apt/lists/*
COPY . /src
WORKDIR /src
RUN make -j"$(nproc)" all \
    && make install DESTDIR=/out PREFIX=/usr/local SYSCONFDIR=/etc

FROM debian:12
ARG DEBIAN_FRONTEND=noninteractive
RUN apt-get update && apt-get install -y --no-install-recommends \
        libgrpc29 libprotobuf-c1 libnats3.4 libpq5 libmicrohttpd12 \
        libconfig9 libsystemd0 libjansson4 libcurl4 libssl3 libarchive13 \
        libpcre2-8-0 \
        libespeak-ng1 espeak-ng-data libpocketsphinx3 libsphinxbase3 \
        pocketsphinx-en-us \
        postgresql-15 postgresql-client-15 nats-server \
        curl ca-certificates util-linux \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --home-dir /var/lib/localai --create-home \
        --shell /usr/sbin/nologin localai
COPY --from=build /out/ /
COPY etc/compose/entrypoint.sh /usr/local/bin/localai-entrypoint
RUN chmod 755 /usr/local/bin/localai-entrypoint \
    && /usr/local/bin/localai -n -f /etc/localai/localai.conf
EXPOSE 8080 4222 5432 50050 50051
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/localai-entrypoint"]
CMD ["standalone"]
