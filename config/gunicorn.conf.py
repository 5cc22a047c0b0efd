"""gunicorn settings for the records server.

    dmp db upgrade --db "$DMP_DATABASE_URL"
    gunicorn -c config/gunicorn.conf.py server.wsgi:app

The application's own settings (DMP_DATABASE_URL, DMP_MASTER_KEY, ...) are read by the
application from its environment; this file only shapes the process model. Each value
below can be changed through the GUNICORN_* variable named next to it, so that one file
serves every host. See docs/deployment.md.
"""

from __future__ import annotations

import os


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    return int(raw) if raw else default


def _default_workers() -> int:
    # SQLite admits one writer at a time and every request writes its trace: one process,
    # whose single connection queues requests in order, keeps the tail short (several
    # processes would wait on each other in SQLite's sleeping busy handler).
    if os.environ.get("DMP_DATABASE_URL", "sqlite").startswith("sqlite"):
        return 1
    # The usual 2 x cores + 1, capped: every worker holds its own connection pool, and
    # hosts x workers x threads must stay below PostgreSQL's max_connections.
    return min(2 * (os.cpu_count() or 1) + 1, 8)


# Loopback by default: TLS is terminated by a reverse proxy on the same host. A proxy on
# another host needs e.g. GUNICORN_BIND=10.0.0.5:8400 on a private network, and its
# address in GUNICORN_FORWARDED_ALLOW_IPS.
bind = [b.strip() for b in os.environ.get("GUNICORN_BIND", "127.0.0.1:8400").split(",")]
workers = _int("GUNICORN_WORKERS", _int("WEB_CONCURRENCY", _default_workers()))
# Threads overlap the time a request waits on the database; each thread uses at most one
# pooled connection at a time.
worker_class = "gthread"
threads = _int("GUNICORN_THREADS", 4)
# A 20 MiB deposit from a slow kiosk link must fit; a stuck worker is restarted after it.
timeout = _int("GUNICORN_TIMEOUT", 60)
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 30)
keepalive = _int("GUNICORN_KEEPALIVE", 5)
backlog = 2048

# False on purpose: the application (its SQLAlchemy engine and pool, its keyring) is built
# in each worker after the fork. A pool created in the master and inherited by forked
# workers would share database sockets between processes, interleaving their protocol
# streams (PostgreSQL) or breaking SQLite's locking, which is per process. It also means
# a HUP or a recycled worker loads fresh code and settings.
preload_app = False

# Access log: method, path without query string, status, size, duration. Never the query
# string (%(r)s and %(q)s), the referer (%(f)s, which carries the previous page's query
# string) or any header (Authorization carries the bearer token). Request bodies are
# never logged by gunicorn. Our URLs carry only internal numeric ids and document UUIDs;
# an INS goes in request bodies only (POST /dossiers/lookup).
accesslog = os.environ.get("GUNICORN_ACCESSLOG", "-") or None
access_log_format = '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms'
errorlog = os.environ.get("GUNICORN_ERRORLOG", "-")
loglevel = os.environ.get("GUNICORN_LOGLEVEL", "info")

# The proxy that terminates TLS; X-Forwarded-* headers from anyone else are ignored.
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1,::1")

# Worker heartbeat files in memory, not on a disk that may stall under I/O load (gunicorn
# creates them with mkstemp, so a shared directory is safe).
_SHM = "/dev/shm"  # noqa: S108
worker_tmp_dir = _SHM if os.path.isdir(_SHM) else None
proc_name = "dmp-records"

# Recent gunicorn versions open an admin socket under ~/.gunicorn shared by every instance
# of the same user; nothing here uses it, and two instances on one host would collide.
# (Older versions ignore unknown settings.)
control_socket_disable = True
