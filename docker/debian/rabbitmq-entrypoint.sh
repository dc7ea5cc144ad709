#!/bin/sh
# RabbitMQ in the foreground, its first account RABBITMQ_DEFAULT_USER / RABBITMQ_DEFAULT_PASS,
# reachable from other containers (not only from localhost, as Debian's guest is).
set -eu
: "${RABBITMQ_DEFAULT_USER:=guest}"
: "${RABBITMQ_DEFAULT_PASS:=guest}"
umask 077
cat >"$RABBITMQ_CONFIG_FILE" <<CONF
listeners.tcp.default = 5672
loopback_users = none
default_user = $RABBITMQ_DEFAULT_USER
default_pass = $RABBITMQ_DEFAULT_PASS
CONF
exec rabbitmq-server "$@"
