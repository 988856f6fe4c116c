"""The production server's configuration: `gunicorn -c gunicorn.conf.py` (SPEC §16).

Every value can be set from the environment; the access log goes to stdout through a logger
that redacts the Notify URL key (`key=***`) from every line.
"""

import multiprocessing
import os

wsgi_app = "trepstar.wsgi:application"

# Where to listen: BIND (`0.0.0.0:8000`, `unix:/run/trepstar.sock`) or PORT on all interfaces.
bind = [os.environ.get("BIND") or f"0.0.0.0:{os.environ.get('PORT', '8000')}"]

# Processes: WEB_CONCURRENCY, else 2 x cores + 1, capped (each one holds database connections).
MAX_WORKERS = 12
workers = int(
    os.environ.get("WEB_CONCURRENCY") or min(2 * multiprocessing.cpu_count() + 1, MAX_WORKERS)
)

# A request running longer than this is killed (the Notify URL answers in milliseconds); on a
# restart, workers finish their requests within graceful_timeout.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "30"))
# Seconds an idle keep-alive connection stays open; behind a load balancer, set it above the
# balancer's idle timeout so the server never closes a connection the balancer is reusing.
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "5"))
# Recycle a worker after about 50,000 requests (staggered by up to 10 %), 0 for never. Measured
# (issue 21, BENCHMARKS.md "Worker memory and recycling"): with recycling off a worker's memory
# stops growing once warm (+3.6 % from 903 to 100,112 charged notifications, flat after
# 20,000), while each restart costs a fresh worker's boot (0.65 s of CPU to import the app,
# ~2 s to its first answer under load). The old 2,000 restarted a worker every few seconds at
# 370 req/s; 50,000 keeps a safety net against a leak in a dependency at a cost per request
# near zero.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "50000"))
max_requests_jitter = max_requests // 10

# Logs to stdout/stderr for the process manager; the key never reaches a line.
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-")
errorlog = os.environ.get("GUNICORN_ERROR_LOG", "-")
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms "%(f)s" "%(a)s"'
logger_class = "fulfillment.logging.GunicornLogger"

# No runtime control socket (gunicornc): signals manage the server.
control_socket_disable = True


def post_worker_init(worker: object) -> None:
    """Replay what the Notify URL spooled while the database was away (a killed or restarted
    server's bodies too); each worker may start it, a file lock keeps every body to one."""
    from fulfillment.services.replay import replayer_start_if_spooled

    replayer_start_if_spooled()
