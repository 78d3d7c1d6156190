"""``callcenter demo``: the whole service on the embedded database and the simulator."""
