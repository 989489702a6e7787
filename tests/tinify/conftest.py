from tests.live_web import live_web, live_web_servers  # noqa: F401 - a real gunicorn for the official client
