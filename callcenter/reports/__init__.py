"""Reports built on the scoring engine: per-period scorecards and the monthly .xlsx workbook.

scorecard.py gathers the figures (repositories + pure scoring); monthly_xlsx.py
lays them out the way a 分中心 asks for them.  Every report names the period
convention, the rule set and the as-of instant for 核减.
"""
