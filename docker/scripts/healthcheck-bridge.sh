#!/bin/sh
# msgsec-bridge healthcheck: its metrics listener answers /healthz with 200 when healthy.
exec curl -fsS -o /dev/null --max-time 3 "http://127.0.0.1:${METRICS_PORT:-9464}/healthz"
