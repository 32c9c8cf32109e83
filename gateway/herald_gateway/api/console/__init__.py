"""The web console at `/console` (README "Console"): a small single page served as static
files, plus the few read endpoints under `/console/api/` the QStash API lacks.

Why a static page and not server-rendered templates: the page calls the same public `/v2`
API with the user's own token, so authorization, namespace tenancy and every check stay in
the code that already enforces them for API clients; the console adds no second copy of
them and stays a thin client. No build step and no CDN: the HTML, ES modules and CSS ship
in the wheel and work in an air-gapped cluster. `HERALD_CONSOLE=false` serves none of it.
"""
