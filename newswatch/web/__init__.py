"""The web interface: a JSON API, a search page and Atom feeds over a Store (``newswatch serve``).

``newswatch.web.app.create_app`` builds the Starlette application. The web layer
holds no search logic: it turns query parameters into a ``SearchRequest``, asks
the store, and renders the result. Starlette and uvicorn come with the ``web``
extra; nothing here imports them until the app is built.
"""
