# The seed's demo app server: tests/lib/origin.py (stdlib Python) on ports
# 8080 and 8888 - a random number after 0-10 ms, HTTP 500 when it is
# divisible by 5.  Build context: the repository root.
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 \
 && rm -rf /var/lib/apt/lists/*
COPY tests/lib/origin.py /usr/local/bin/httpmon-origin
USER nobody
ENTRYPOINT ["python3", "/usr/local/bin/httpmon-origin"]
CMD ["--listen", "0.0.0.0:8080", "--listen", "0.0.0.0:8888"]
