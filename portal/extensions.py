"""Flask extensions, created here and bound to the app in create_app."""

from __future__ import annotations

from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import CSRFProtect
from huey.storage import MemoryStorage

from portal.queue import PortalHuey

csrf = CSRFProtect()
babel = Babel()
limiter = Limiter(key_func=get_remote_address, default_limits=[], headers_enabled=False)
# bound to Redis or SQLite from the app's Settings in create_app (queue.configure)
huey = PortalHuey("betaalportaal", storage_class=MemoryStorage)
