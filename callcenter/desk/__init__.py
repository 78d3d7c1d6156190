"""The human callback desk: what the robot could not finish, called back by people (pure rules, no I/O)."""
