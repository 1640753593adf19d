"""Files envsync reads and keeps on every path: the cache folder, sha256 digests, installed dist-info."""
