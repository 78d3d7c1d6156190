"""城市管理: urban management cases."""
