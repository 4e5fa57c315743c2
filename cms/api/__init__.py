"""One blueprint per area of the contract."""
