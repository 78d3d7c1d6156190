"""The admin web app (aiohttp + jinja2): sign-in, roles, CSRF, the ticket ledger pages.

Each page area is one module with its own ``routes`` (and optional ``NAV``
entries); :mod:`callcenter.web.app` lists the modules, so adding a page area
means adding a module and one line there.
"""
