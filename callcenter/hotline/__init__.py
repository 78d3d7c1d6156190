"""Counseling hotline (心理疏导专线): queue state from AMI, screen-pop, recordings, repeat complainants."""
