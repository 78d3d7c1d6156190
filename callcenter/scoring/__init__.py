"""Three-rate scoring (三率): rule sets, assessment periods, rates, explanations, rankings.

Pure functions only — no I/O.  callcenter.db.scoring fetches the facts (and
aggregates them in SQL for big periods); everything here turns facts into
the numbers the city publishes, exactly (Fractions), rounding only at display.
"""
