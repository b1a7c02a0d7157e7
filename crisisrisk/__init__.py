"""crisisrisk: one command-line program over the ETL, model and dashboard packages."""
