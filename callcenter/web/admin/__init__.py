"""管理: the audit log."""
