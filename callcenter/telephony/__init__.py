"""Telephony transport: the AMI link (ami.py) and the FastAGI server (agi.py) that connect us to Asterisk."""
