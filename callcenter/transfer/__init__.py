"""Moving tickets in and out: city export files (csv/xlsx) ↔ the ledger, and sample data."""
