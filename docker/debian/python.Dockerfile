# Python 3.11 on the locally debootstrapped Debian image: the stand-in for python:3.11-slim
# where no image registry is reachable (scripts/docker-smoke builds it).
# `python` and `pip` are those of a virtual environment on PATH, because Debian's own Python
# refuses system-wide pip installs (PEP 668); the project's Dockerfile then works unchanged.
ARG DEBIAN_IMAGE=taskmanager-local/debian:bookworm
FROM ${DEBIAN_IMAGE}

# Certificates the build machine trusts beyond Debian's (an HTTPS proxy in front of PyPI, say);
# the folder may hold nothing but its README.
COPY extra-ca-certificates/ /usr/local/share/ca-certificates/
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        python3 python3-venv ca-certificates \
    && rm -f /usr/local/share/ca-certificates/README \
    && update-ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && python3 -m venv /usr/local/python \
    && ln -s /usr/local/python/bin/python /usr/local/bin/python

# The venv's pip bundles certifi's list; have it trust the system's list instead.
ENV PATH=/usr/local/python/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    PIP_CERT=/etc/ssl/certs/ca-certificates.crt \
    LANG=C.UTF-8
CMD ["python3"]
