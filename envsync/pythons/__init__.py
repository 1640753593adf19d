"""Python interpreters: finding one for a request and probing it once for markers and wheel tags."""
