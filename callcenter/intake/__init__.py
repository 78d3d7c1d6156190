"""7×24 intake of the city's ticket files: an inbox folder the service watches, web upload and API.

Every way in goes through :func:`callcenter.intake.take.take_file`, which uses
the ordinary importer (all or nothing, row-level errors) and files the result
into ``done/`` or ``rejected/`` with a report beside it.
"""
