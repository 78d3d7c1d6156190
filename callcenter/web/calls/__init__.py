"""回访: callback attempts, a call's review and correction, recordings, the speech review queue."""
