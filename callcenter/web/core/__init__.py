"""What every area shares: sign-in, roles and sessions, CSRF, rendering (templates, labels, nav), paging, request values, errors, uploads."""
