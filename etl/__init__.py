"""ETL: real published sources -> validated long observations -> the warehouse."""

__version__ = "0.1.0"
