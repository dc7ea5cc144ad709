# RabbitMQ from Debian's packages on the locally debootstrapped Debian image: the stand-in for
# rabbitmq:3-alpine where no image registry is reachable (scripts/docker-smoke builds it).
# It honours what the compose file uses of the official image: RABBITMQ_DEFAULT_USER,
# RABBITMQ_DEFAULT_PASS and rabbitmq-diagnostics.
ARG DEBIAN_IMAGE=taskmanager-local/debian:bookworm
FROM ${DEBIAN_IMAGE}

RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends rabbitmq-server \
    && rm -rf /var/lib/apt/lists/*
COPY rabbitmq-entrypoint.sh /usr/local/bin/rabbitmq-entrypoint
RUN chmod 0755 /usr/local/bin/rabbitmq-entrypoint

# The configuration is written at start, where the rabbitmq user may write.
ENV RABBITMQ_CONFIG_FILE=/var/lib/rabbitmq/rabbitmq.conf \
    HOME=/var/lib/rabbitmq \
    LANG=C.UTF-8
USER rabbitmq
EXPOSE 5672
ENTRYPOINT ["rabbitmq-entrypoint"]
