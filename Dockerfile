# wanbot: installed into a virtual environment in one stage; only that environment is copied into
# the image that runs it, as a non-root user. `make docker-check` builds and runs it.
#
# BASE_IMAGE: a Debian-based image whose Python 3.11 answers to `python` and can make a venv. Where
# no image registry is reachable, docs/docker.md shows how to make one from Debian's packages.
ARG BASE_IMAGE=python:3.11-slim

FROM ${BASE_IMAGE} AS build
RUN python -m venv /opt/wanbot
ENV PATH=/opt/wanbot/bin:$PATH
WORKDIR /src
# The dependencies first, in a layer of their own: a change to the code does not download them again.
COPY pyproject.toml ./
RUN python -c "import tomllib; print(*tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies'], sep='\n')" \
        >/tmp/requirements.txt \
    && pip install --no-cache-dir --requirement /tmp/requirements.txt
COPY README.md ./
COPY bot ./bot
COPY cogs ./cogs
COPY storage ./storage
# The languages' catalogs are compiled here, so the package carries the .mo files. The wheel is
# built and installed in one step (nothing of it stays behind), and pip leaves with it: the image
# never installs anything again.
RUN pybabel compile --directory bot/locales --domain wanbot \
    && pip install --no-cache-dir --no-deps . \
    && pip uninstall --yes --quiet pip setuptools

FROM ${BASE_IMAGE}
# Noto Sans CJK, regular and bold (the usage chart's two weights, bot/usage/fonts.py), for its
# Chinese, Japanese and Korean words and names (without it they fall back to English and
# `user <id>`). fonts-noto-cjk's serif faces (53 MB) are left out: the chart never uses them.
RUN echo "path-exclude /usr/share/fonts/opentype/noto/NotoSerifCJK-*" \
        >/etc/dpkg/dpkg.cfg.d/wanbot-no-serif-cjk \
    && apt-get update \
    && apt-get install -y --no-install-recommends fonts-noto-cjk \
    && apt-get clean \
    && rm -rf /var/lib/apt/lists/*
RUN useradd --create-home --uid 10001 wanbot \
    && mkdir /data && chown wanbot:wanbot /data
COPY --from=build /opt/wanbot /opt/wanbot
ENV PATH=/opt/wanbot/bin:$PATH
USER wanbot
# Matplotlib's font list, built once here rather than at the bot's first start.
RUN python -c "import matplotlib.font_manager"
WORKDIR /data
# The database, the spool of results waiting to be posted, and the heartbeat live on the volume.
VOLUME ["/data"]
ENV PYTHONUNBUFFERED=1 \
    WANBOT_DATABASE_PATH=/data/wanbot.sqlite3 \
    WANBOT_SPOOL_DIR=/data/spool \
    WANBOT_HEARTBEAT_PATH=/data/heartbeat
# Healthy while the bot can work: it touches /data/heartbeat every 30 s when its database answers,
# its engine runs and (for `run`) Discord is connected (bot/run/health.py).
HEALTHCHECK --interval=60s --timeout=10s --start-period=120s --retries=3 \
    CMD ["python", "-m", "bot", "health"]
CMD ["python", "-m", "bot", "run"]
