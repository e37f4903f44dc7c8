# The demo's load client: curl in a loop (docker/client.sh).
# Build context: the repository root.
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends curl \
 && rm -rf /var/lib/apt/lists/*
COPY docker/client.sh /usr/local/bin/httpmon-client
USER nobody
ENTRYPOINT ["/usr/local/bin/httpmon-client"]
