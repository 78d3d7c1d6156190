"""人工回访 (the human callback desk): the agent console, the supervisor's queue and manual-entry checks."""
