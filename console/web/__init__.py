"""The operator console: server-rendered pages (Django templates + HTMX) over `fleet`.

Django app label "console". A new page goes in the module of its area under `views/`
(`views/fleet.py`, `views/health.py`, ...; a new area gets a new module), is named in
`urls.py`, and renders `templates/console/<area>/<page>.html`, which extends
`console/base.html`. Forms go in `forms/<area>.py`; the console's WebSocket consumer goes
in `consumers.py`, routed from `console/routing.py`. Business rules stay in
`fleet.services`: views only read requests, call services and render.
"""
