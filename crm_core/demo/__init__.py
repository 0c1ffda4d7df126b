"""Sample data for newcomers, docs and benchmarks: a deterministic generator and its loader."""
