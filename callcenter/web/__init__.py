"""The admin web app (aiohttp + jinja2): sign-in, roles, CSRF, the ticket ledger pages.

Grouped by area: one package per area (``tickets``, ``calls``, ``campaigns``,
``hotline``, ``appeals``, ``urban``, ``office``, ``admin``, ``api``, ``home``),
each with its handler modules and its own ``templates/`` folder, over one
small shared ``core`` (auth, sessions, CSRF, rendering, paging, request
values).  Areas import the core and the domain, never another area's
handlers; the core imports no area.  :mod:`callcenter.web.app` lists the
page modules, so adding a page means adding a module and one line there.
"""
