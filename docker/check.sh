#!/usr/bin/env bash
# `make docker-check`: build the image and prove it works, without Discord or DashScope.
#
#   BASE_IMAGE       the image to build on (default: the Dockerfile's python:3.11-slim)
#   POSTGRES_IMAGE   a PostgreSQL image to run compose.yaml's stack with (postgres:16, or a stand-in
#                    from docker/make-base.sh); unset, the stack is not run (its file is still checked)
#   IMAGE            the tag to build (default wanbot:check)
#   BUILD_FLAGS      extra `docker build` options (default --network host)
#
# Each check prints "ok: ..."; the first that fails prints "FAIL: ..." and the script exits 1,
# leaving nothing behind (containers, volumes and folders it made are removed either way).
# See docs/docker.md.
set -euo pipefail
cd "$(dirname "$0")/.."

BASE_IMAGE=${BASE_IMAGE:-python:3.11-slim}
POSTGRES_IMAGE=${POSTGRES_IMAGE:-}
IMAGE=${IMAGE:-wanbot:check}
BUILD_FLAGS=${BUILD_FLAGS:---network host}
NAME=wanbot-check  # containers, volume and compose project
DEADLINE=90        # seconds any one wait may take

step() { printf '\n== %s\n' "$*"; }
ok() { printf 'ok: %s\n' "$*"; }
fail() {
    printf 'FAIL: %s\n' "$*" >&2
    exit 1
}
mb() { echo $((($1 + 500000) / 1000000)); } # bytes to MB as `docker image ls` counts them (10^6)
in_image() { docker run --rm "$IMAGE" "$@"; }

if docker compose version >/dev/null 2>&1; then
    compose=(docker compose)
elif command -v docker-compose >/dev/null; then
    compose=(docker-compose)
else
    compose=()
fi
compose_files=(--project-name "$NAME" -f compose.yaml -f docker/compose.check.yaml)
demo_dir=""

cleanup() {
    status=$?
    docker rm --force "$NAME-worker" >/dev/null 2>&1 || true
    docker volume rm --force "$NAME-data" >/dev/null 2>&1 || true
    if [ -n "$POSTGRES_IMAGE" ] && [ ${#compose[@]} -gt 0 ]; then
        stack down --volumes --remove-orphans >/dev/null 2>&1 || true
    fi
    if [ -n "$demo_dir" ]; then
        # The demo's files belong to the image's user: let it remove them.
        docker run --rm -v "$demo_dir:/out" "$IMAGE" sh -c 'rm -rf /out/*' >/dev/null 2>&1 || true
        rm -rf "$demo_dir"
    fi
    if [ "$status" -ne 0 ]; then
        printf '\ndocker-check FAILED\n' >&2
    fi
}
trap cleanup EXIT

stack() {
    WANBOT_CHECK_IMAGE=$IMAGE WANBOT_CHECK_POSTGRES_IMAGE=$POSTGRES_IMAGE \
        POSTGRES_PASSWORD=docker-check DISCORD_TOKEN=unused-by-docker-check \
        "${compose[@]}" "${compose_files[@]}" "$@"
}

# Waits until `$@` succeeds, once a second, for DEADLINE seconds.
wait_for() {
    local waited=0
    until "$@"; do
        waited=$((waited + 1))
        [ "$waited" -lt "$DEADLINE" ] || return 1
        sleep 1
    done
}

health_of() { docker inspect --format '{{.State.Health.Status}}' "$1"; }
is_healthy() { [ "$(health_of "$1")" = healthy ]; }
# A worker's last word on its role: "... (scheduler)", "... scheduler now ..." or "... standing by".
role_of() { docker logs "$1" 2>&1 | grep -E 'Worker running \(|scheduler now|standing by' | tail -n 1; }
logs_say() { docker logs "$1" 2>&1 | grep --quiet --fixed-strings "$2"; }

step "build $IMAGE on $BASE_IMAGE"
started=$SECONDS
# shellcheck disable=SC2086  # BUILD_FLAGS is a list of options
docker build $BUILD_FLAGS --build-arg "BASE_IMAGE=$BASE_IMAGE" --tag "$IMAGE" . >"${TMPDIR:-/tmp}/$NAME-build.log" 2>&1 ||
    fail "docker build failed; its log: ${TMPDIR:-/tmp}/$NAME-build.log"
build_seconds=$((SECONDS - started))
ok "built in $build_seconds s"

step "the image's user, volume and health check"
user=$(docker image inspect --format '{{.Config.User}}' "$IMAGE")
uid=$(in_image id -u)
[ "$uid" != 0 ] || fail "the container runs as root"
ok "runs as $user (uid $uid), not root"
docker image inspect --format '{{json .Config.Volumes}}' "$IMAGE" | grep --quiet '"/data"' ||
    fail "no /data volume"
ok "/data is a volume"
healthcheck=$(docker image inspect --format '{{join .Config.Healthcheck.Test " "}}' "$IMAGE")
[ "$healthcheck" = "CMD python -m bot health" ] || fail "the health check is '$healthcheck'"
ok "HEALTHCHECK runs python -m bot health"

step "what the app expects from its build"
catalogs=$(find bot/locales -name wanbot.po | wc -l)
compiled=$(in_image python -c "import bot, pathlib; print(len(list(pathlib.Path(bot.__file__).parent.glob('locales/*/LC_MESSAGES/wanbot.mo'))))")
[ "$compiled" = "$catalogs" ] || fail "$compiled compiled catalogs in the image, $catalogs in bot/locales"
ok "$compiled language catalogs compiled (.mo)"
# Built at build: the font list is there before matplotlib is first imported.
in_image sh -c 'ls ~/.cache/matplotlib/fontlist-*.json' >/dev/null ||
    fail "matplotlib's font list was not built at build"
ok "matplotlib's font list built at build"
# The usage chart's CJK languages draw in their own Noto Sans CJK face, regular and bold.
in_image python -c '
import sys
from bot.usage.fonts import CJK_FAMILIES, fonts_for
missing = [f"{code} ({family})" for code, family in CJK_FAMILIES.items()
           if fonts_for(code).families[:1] != (family,) or not fonts_for(code).can_draw("使用量 사용량")]
sys.exit(f"no chart font for {missing}" if missing else 0)' || fail "the usage chart's CJK fonts are missing"
ok "the usage chart's CJK fonts: $(in_image python -c 'from bot.usage.fonts import CJK_FAMILIES as f; print(", ".join(f.values()))')"

step "the demo inside the image, writing to a mounted folder"
demo_dir=$(mktemp -d)
chmod 0777 "$demo_dir" # the image's user writes here, whoever owns the folder
docker run --rm -v "$demo_dir:/out" "$IMAGE" python -m bot demo --output-dir /out >"$demo_dir.log" 2>&1 || {
    tail -n 20 "$demo_dir.log" >&2
    fail "python -m bot demo failed in the container"
}
modes=$(in_image python -c "from bot.dev.demo import MODES; print(len(MODES))")
videos=$(find "$demo_dir" -maxdepth 1 -name '*.mp4' -size +0 | wc -l)
[ "$videos" = "$modes" ] || fail "the demo wrote $videos mp4s for $modes modes"
ok "$(grep 'modes made' "$demo_dir.log")"
rm -f "$demo_dir.log"

step "the /data volume and the health check, with a worker running"
docker volume create "$NAME-data" >/dev/null
if verdict=$(docker run --rm -v "$NAME-data:/data" "$IMAGE" python -m bot health 2>&1); then
    fail "health says healthy with no process running: $verdict"
fi
ok "nothing running: health exits 1 ($verdict)"
# The image's health check, asked every 2 s instead of every 60 s.
docker run --detach --name "$NAME-worker" --health-interval 2s -v "$NAME-data:/data" "$IMAGE" \
    python -m bot worker --simulator --output-dir /data/videos >/dev/null
wait_for is_healthy "$NAME-worker" || {
    docker logs "$NAME-worker" 2>&1 | tail -n 20 >&2
    fail "the worker is $(health_of "$NAME-worker") after $DEADLINE s"
}
ok "docker inspect: the worker is healthy"
ok "python -m bot health: $(docker exec "$NAME-worker" python -m bot health)"
# With --simulator the worker keeps a database of its own beside the real one's place.
owner=$(docker exec "$NAME-worker" stat -c %u /data/wanbot-simulator.sqlite3) ||
    fail "no database in /data"
[ "$owner" = "$uid" ] || fail "the database belongs to uid $owner, not $uid"
ok "/data holds the database, written by uid $uid: $(docker exec "$NAME-worker" ls /data | tr '\n' ' ')"
started=$SECONDS
docker stop "$NAME-worker" >/dev/null
code=$(docker inspect --format '{{.State.ExitCode}}' "$NAME-worker")
[ "$code" = 0 ] || fail "the worker exited $code on SIGTERM"
ok "SIGTERM: the worker stopped in $((SECONDS - started)) s, exit 0"
docker rm "$NAME-worker" >/dev/null
chart=$(docker run --rm -v "$NAME-data:/data" -e WANBOT_DATABASE_PATH=/data/wanbot-simulator.sqlite3 \
    "$IMAGE" python -m bot usage --guild 1 --language ja --output /data/usage-ja.png 2>&1) ||
    fail "python -m bot usage could not draw from the volume's database: $chart"
ok "python -m bot usage draws a chart (in Japanese) from the volume's database"

step "compose.yaml"
if [ ${#compose[@]} -eq 0 ]; then
    fail "neither docker compose nor docker-compose is installed"
fi
POSTGRES_PASSWORD=docker-check DISCORD_TOKEN=unused-by-docker-check \
    "${compose[@]}" -f compose.yaml config --quiet || fail "${compose[*]} config: compose.yaml is not valid"
ok "${compose[*]} config: valid"
if [ -z "$POSTGRES_IMAGE" ]; then
    echo "skipped: the stack (PostgreSQL and two workers) runs with POSTGRES_IMAGE=... (docs/docker.md)"
else
    # compose.yaml's own deploy.replicas makes the two workers.
    up=$(stack up --detach --no-build postgres worker 2>&1) ||
        fail "${compose[*]} up failed: $(tail -n 3 <<<"$up")"
    mapfile -t workers < <(stack ps --quiet worker)
    [ "${#workers[@]}" = 2 ] || fail "${#workers[@]} workers running, not 2"
    for worker in "${workers[@]}"; do
        wait_for is_healthy "$worker" || {
            docker logs "$worker" 2>&1 | tail -n 20 >&2
            fail "a worker is $(health_of "$worker") after $DEADLINE s"
        }
    done
    ok "PostgreSQL ($POSTGRES_IMAGE) and two workers up, both healthy"
    scheduler=""
    standby=""
    for worker in "${workers[@]}"; do
        case $(role_of "$worker") in
        *"standing by"*) standby=$worker ;;
        *scheduler*) scheduler=$worker ;;
        esac
    done
    [ -n "$scheduler" ] && [ -n "$standby" ] || {
        for worker in "${workers[@]}"; do
            echo "worker ${worker:0:12} (restarted $(docker inspect --format '{{.RestartCount}}' "$worker") times):" >&2
            docker logs "$worker" 2>&1 | grep -E 'scheduler|standing by|ERROR|Error' >&2 || true
        done
        fail "not one scheduler and one standing by"
    }
    ok "one worker schedules, the other stands by"
    docker stop "$scheduler" >/dev/null
    wait_for logs_say "$standby" "This process is the scheduler now" ||
        fail "the standing-by worker did not take over when the scheduler stopped"
    ok "the scheduler stopped: the other worker took over"
    echo "not run: the stack's 'run' service (it needs Discord)"
fi

step "size"
size=$(docker image inspect --format '{{.Size}}' "$IMAGE")
base=$(docker image inspect --format '{{.Size}}' "$BASE_IMAGE")
echo "built in $build_seconds s"
echo "image $IMAGE: $(mb "$size") MB (its base $BASE_IMAGE: $(mb "$base") MB; wanbot adds $(mb $((size - base))) MB)"
printf '\ndocker-check passed\n'
