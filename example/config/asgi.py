import os

# Django's ASGI handler, except that /healthz and /readyz are answered on the event loop
# without a thread per probe (docs/health.md, "Probe storms").
from django_lantern.health.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_asgi_application()
