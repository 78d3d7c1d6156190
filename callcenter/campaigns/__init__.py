"""Outbound callback campaigns: who to call, when, how often, and what to do after each outcome."""
