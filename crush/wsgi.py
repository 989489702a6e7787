import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crush.settings")
django_application = get_wsgi_application()

from crush.request_body import ChunkedBodyMiddleware  # noqa: E402 - after Django is set up

# gunicorn (make run, docker) serves this; ChunkedBodyMiddleware gives Django chunked request bodies.
application = ChunkedBodyMiddleware(django_application)
