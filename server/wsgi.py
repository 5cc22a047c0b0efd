"""The WSGI entry point for production: `gunicorn -c config/gunicorn.conf.py server.wsgi:app`.

Settings come from the environment (DMP_* variables, or a TOML file named by DMP_CONFIG;
see server/config.py), never from the command line, so that the master key can come from
a secret store and never shows in `ps`.

Each gunicorn worker imports this module after the fork (preload_app is False in
config/gunicorn.conf.py), so each worker builds its own engine and connection pool. The
worker refuses to start on a schema that is not at the latest migration: a deployment
runs `dmp db upgrade` first, and a forgotten upgrade fails loudly at boot instead of
failing requests one by one.
"""

from __future__ import annotations

from server.app import create_app
from server.config import load_settings
from server.migrate import require_current

require_current(load_settings()["DATABASE_URL"])
app = create_app()
