"""ETL: real published sources -> validated long observations -> the warehouse."""

from warehouse import __version__

__all__ = ["__version__"]
