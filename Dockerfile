# Multi-stage: build the wheel set in one stage, run from a slim image as a non-root user.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY cogs ./cogs
COPY storage ./storage
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 wanbot \
    && mkdir /data && chown wanbot:wanbot /data
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
USER wanbot
WORKDIR /data
VOLUME ["/data"]
ENV PYTHONUNBUFFERED=1
# Until the Discord bot lands, the image runs the self-contained demo into /data/output.
CMD ["python", "-m", "bot", "demo"]
