"""工单台账: the ledger list, a ticket's page and flow steps, the export, deadline warnings and deadline policies."""
