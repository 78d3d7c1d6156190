"""Alerts to the people on duty: a rule pass raises each alert once, a sender delivers it.

``engine`` runs the rules (SQL rules in db/alerts.py plus 高发 warnings) and
schedules deliveries and reminders; ``delivery`` sends them (企业微信 / 钉钉
group robots, a generic JSON webhook, SMTP) with retry and backoff.  Both run
as tasks of their own, never on the dialer's path.
"""
