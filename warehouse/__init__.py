"""The warehouse: typed tables, migrations, engine and settings, and the platform services (accounts, jobs,
backup).

It is the bottom layer: ``etl`` loads into it, ``models`` read and write it, ``dashboard`` serves it. It
imports
nothing else of ours.
"""

__version__ = "0.1.0"
