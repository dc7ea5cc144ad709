# PostgreSQL from Debian's packages on the locally debootstrapped Debian image: the stand-in for
# postgres:16-alpine where no image registry is reachable (scripts/docker-smoke builds it).
# It honours what the compose file uses of the official image: POSTGRES_USER, POSTGRES_PASSWORD,
# POSTGRES_DB, the data in /var/lib/postgresql/data, and pg_isready.
ARG DEBIAN_IMAGE=taskmanager-local/debian:bookworm
FROM ${DEBIAN_IMAGE}

# No default cluster: the entrypoint makes one in the volume on first start.
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql-common \
    && sed -ri 's/^#?\s*create_main_cluster\b.*/create_main_cluster = false/' \
        /etc/postgresql-common/createcluster.conf \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql-15 \
    && rm -rf /var/lib/apt/lists/* \
    && install -d -o postgres -g postgres -m 0700 /var/lib/postgresql/data
COPY postgres-entrypoint.sh /usr/local/bin/postgres-entrypoint
RUN chmod 0755 /usr/local/bin/postgres-entrypoint

ENV PATH=/usr/lib/postgresql/15/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    PGDATA=/var/lib/postgresql/data \
    LANG=C.UTF-8
USER postgres
VOLUME ["/var/lib/postgresql/data"]
EXPOSE 5432
STOPSIGNAL SIGINT
ENTRYPOINT ["postgres-entrypoint"]
