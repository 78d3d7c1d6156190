"""心理疏导专线: the agent's console, the wall, repeat complainants."""
