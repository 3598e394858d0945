"""Demo assets: a local test EHR and synthetic patients."""
