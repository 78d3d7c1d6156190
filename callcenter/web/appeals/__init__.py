"""考核申诉: the daily candidates and an appeal's materials."""
