# wanbot: build wheels in one stage, run them from a slim image as a non-root user.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY cogs ./cogs
COPY storage ./storage
# The languages' catalogs are compiled here, so the wheel carries the .mo files.
RUN pip install --no-cache-dir "Babel>=2.12" \
    && pybabel compile --directory bot/locales --domain wanbot \
    && pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
# Noto Sans CJK: the usage chart's Chinese, Japanese and Korean words and names (without it they
# fall back to English and `user <id>`).
RUN apt-get update \
    && apt-get install -y --no-install-recommends fonts-noto-cjk \
    && rm -rf /var/lib/apt/lists/*
RUN useradd --create-home --uid 10001 wanbot \
    && mkdir /data && chown wanbot:wanbot /data
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
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
# its engine runs and (for `run`) Discord is connected (bot/health.py).
HEALTHCHECK --interval=60s --timeout=10s --start-period=120s --retries=3 \
    CMD ["python", "-m", "bot", "health"]
CMD ["python", "-m", "bot", "run"]
