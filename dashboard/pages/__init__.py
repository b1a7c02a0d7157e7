"""One module per page; each has ``register(app, ctx)`` that calls ``dash.register_page`` and adds callbacks."""
