"""From requirements to pins: the index client, the resolver, and the PEP 751 lock files."""
