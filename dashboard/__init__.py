"""crisisrisk dashboard: Dash pages and a JSON API over the warehouse and the deployed model.

Importing this package is cheap (no Dash import); call :func:`dashboard.app.create_app` to build the app.
"""

from __future__ import annotations

__all__ = ["create_app"]


def __getattr__(name: str):
    if name == "create_app":
        from dashboard.app import create_app

        return create_app
    raise AttributeError(name)
