#!/bin/sh
# Stand-in base images made from Debian's packages, for machines that reach Debian's mirror but
# no image registry (see docs/docker.md).
#
#   docker/make-base.sh python TAG     Debian bookworm's Python 3.11 in the shape of python:3.11-slim
#   docker/make-base.sh postgres TAG   Debian bookworm's PostgreSQL 15 in the shape of postgres:16
#                                      (POSTGRES_USER/PASSWORD/DB, /var/lib/postgresql/data, pg_isready)
#
# The python image trusts the certificate authorities in $WANBOT_EXTRA_CA_DIR (default
# /usr/local/share/ca-certificates) besides Debian's. Needs root, debootstrap and a running Docker engine. The bare bookworm tree is cached in
# $WANBOT_ROOTFS_CACHE (default /var/tmp/wanbot-rootfs) so the second image takes seconds.
set -eu

kind=${1:?usage: make-base.sh python|postgres TAG}
tag=${2:?usage: make-base.sh python|postgres TAG}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
cache=${WANBOT_ROOTFS_CACHE:-/var/tmp/wanbot-rootfs}
extra_ca=${WANBOT_EXTRA_CA_DIR:-/usr/local/share/ca-certificates}
here=$(cd "$(dirname "$0")" && pwd)

if [ ! -f "$cache/minbase.tar" ]; then
    mkdir -p "$cache"
    rm -rf "$cache/minbase"
    debootstrap --variant=minbase bookworm "$cache/minbase" "$mirror"
    # What makes Debian's own images slim (debian:bookworm-slim, under python:3.11-slim): apt
    # keeps no downloaded packages or caches, and dpkg installs no manuals, docs or translations.
    cp "$here/debian-slim/apt-docker-clean" "$cache/minbase/etc/apt/apt.conf.d/docker-clean"
    cp "$here/debian-slim/dpkg-docker" "$cache/minbase/etc/dpkg/dpkg.cfg.d/docker"
    find "$cache/minbase/usr/share/doc" -mindepth 1 ! -name copyright ! -type d -delete
    rm -rf "$cache"/minbase/usr/share/man/* "$cache"/minbase/usr/share/info/* \
        "$cache"/minbase/usr/share/locale/* "$cache"/minbase/var/cache/apt/archives/*.deb
    # The security updates too, as the official images carry them.
    echo "deb http://deb.debian.org/debian-security bookworm-security main" \
        >>"$cache/minbase/etc/apt/sources.list"
    tar -C "$cache/minbase" -cf "$cache/minbase.tar.part" . && mv "$cache/minbase.tar.part" "$cache/minbase.tar"
    rm -rf "$cache/minbase"
fi

root=$(mktemp -d "$cache/$kind.XXXXXX")
trap 'rm -rf "$root"' EXIT
tar -C "$root" -xf "$cache/minbase.tar"
cp /etc/resolv.conf "$root/etc/resolv.conf"

in_root() { chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive "$@"; }

case "$kind" in
python)
    in_root apt-get update -q
    in_root apt-get upgrade -y -q
    in_root apt-get install -y -q --no-install-recommends python3 python3-venv python3-pip ca-certificates
    # python:3.11-slim's names, and no PEP 668 marker: like the official image, pip may install
    # into the system Python (wanbot's Dockerfile installs into a venv either way).
    ln -sf python3 "$root/usr/bin/python"
    ln -sf pip3 "$root/usr/bin/pip"
    rm -f "$root"/usr/lib/python3*/EXTERNALLY-MANAGED
    # This machine's own certificate authorities (an intercepting proxy's, say), so that pip
    # reaches the package index from inside a build as it does outside.
    if ls "$extra_ca"/*.crt >/dev/null 2>&1; then
        cp "$extra_ca"/*.crt "$root/usr/local/share/ca-certificates/"
        in_root update-ca-certificates >/dev/null
    fi
    set -- --change 'ENV LANG=C.UTF-8' --change 'CMD ["python3"]'
    ;;
postgres)
    in_root apt-get update -q
    in_root apt-get upgrade -y -q
    # As postgres:16 does: no cluster made at install; the entrypoint makes one in $PGDATA.
    mkdir -p "$root/etc/postgresql-common/createcluster.d"
    echo "create_main_cluster = false" >"$root/etc/postgresql-common/createcluster.d/docker.conf"
    in_root apt-get install -y -q --no-install-recommends postgresql-15 postgresql-client-15
    install -m 0755 "$here/postgres-entrypoint.sh" "$root/usr/local/bin/docker-entrypoint.sh"
    in_root mkdir -p /var/lib/postgresql/data /var/run/postgresql
    in_root chown -R postgres:postgres /var/lib/postgresql /var/run/postgresql
    set -- --change 'ENV PATH=/usr/lib/postgresql/15/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'ENV PGDATA=/var/lib/postgresql/data' --change 'ENV LANG=C.UTF-8' \
        --change 'VOLUME /var/lib/postgresql/data' --change 'EXPOSE 5432' --change 'USER postgres' \
        --change 'ENTRYPOINT ["docker-entrypoint.sh"]' --change 'CMD ["postgres"]'
    ;;
*)
    echo "make-base.sh: unknown kind $kind (python or postgres)" >&2
    exit 2
    ;;
esac

in_root apt-get clean
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin
: >"$root/etc/resolv.conf"
tar -C "$root" -c . | docker import "$@" - "$tag" >/dev/null
docker image ls "$tag" --format "made {{.Repository}}:{{.Tag}} ({{.Size}})"
