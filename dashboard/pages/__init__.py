"""The dashboard's pages (Dash Pages): one module per page, each with a module-level ``dash.register_page``, a
``layout(**query)`` function and module-level ``@callback``s. ``dashboard.app.create_app`` imports every
module
here; a page reads its app's queries, geometry and settings with ``dashboard.context.current()``.

Dash accepts ``register_page`` only once an app exists, so importing a page before any app (a test reading a
page's ids) first makes one with the dashboard's settings.
"""

from dashboard.app import ensure_page_registry

ensure_page_registry()
