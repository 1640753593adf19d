"""`envsync init` without --from: what a project already declares for other tools, as envs.

One module per source (Hatch, tox, requirements layouts, pyproject defaults), each a pure
function from the configuration it read to `EnvDraft` values; `compose` puts them together
and `writer` turns the result into commented envs.toml text. What cannot be translated is
kept as a comment at the place it would go, and counted for the summary init prints.
"""
