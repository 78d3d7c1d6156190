"""首页: the dashboard and its figures."""
