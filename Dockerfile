FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    FHIR_SANDBOX_DATA_DIR=/data FHIR_SANDBOX_SEED_DIR=/app/seed
WORKDIR /app
COPY pyproject.toml README.md ./
COPY src ./src
COPY seed ./seed
RUN pip install --no-cache-dir . \
    && useradd --system --uid 10001 --home-dir /app sandbox \
    && mkdir -p /data && chown sandbox /data
USER sandbox
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/fhir/metadata', timeout=4).status == 200 else 1)"
CMD ["fhir-sandbox", "serve", "--host", "0.0.0.0", "--port", "8000"]
