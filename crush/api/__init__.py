"""The plumbing of the API surfaces; it imports no app (authentication classes are named by dotted path).

- `surface.Surface`: a surface's prefix, authentication, error shape and link builder; `errors.classify` turns
  any exception into (status, message, code, headers) for every surface alike.
- `views.SurfaceApi`: the base view; DRF asks it for its exception handler, which is its surface's.
- `surfaces/<name>.py`: one module per surface: the `Surface` instance, its base views, its pagination
  class, its error schema (`error_responses`) and its link builders.

Adding a surface (Tinify, Kraken): write `surfaces/<name>.py` on the model of `imagerecycle.py` and list
its instance in `surfaces.SURFACES`; its views go in `<app>/api/<name>/` (views, serializers, urls) of each
app whose services it calls, subclass its base view, and their urls are included under its prefix in
crush/urls.py. Error rendering, 405s before authentication, rate limits, JSON 404/500 on its paths,
HTTPS enforcement and the CSRF exemption then follow from the prefix and the base view.
"""
