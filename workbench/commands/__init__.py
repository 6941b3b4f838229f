"""One module per headless command: parse nothing, compute, hand results to `Output`."""
