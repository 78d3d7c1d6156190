"""What becomes of a desk call (人工回访's 拨打) per scripted party: one table for the real-PBX test and the
simulator's, so the simulator is held to what the real Asterisk 22 was seen to do.

Citizens are the numbers of tests/fixtures/real_pbx/test-extensions.conf [citizens], agents its
[desk-agent-*] contexts; the value is the desk item's ``call_status`` the console shows afterwards.
"""
from __future__ import annotations

from callcenter.sim.citizens import CitizenScript, Pickup

#: number → (the simulator's script for it, call_status once the agent answered and the Dial ended)
CITIZENS = {
    "13900000200": (CitizenScript(pickup=Pickup.BUSY, ring_seconds=0.2), "BUSY"),
    "13900000201": (CitizenScript(pickup=Pickup.CONGESTION, ring_seconds=0.2), "CONGESTION"),
    "13900000203": (CitizenScript(pickup=Pickup.REJECTED, ring_seconds=0.2), "NOANSWER"),
    "13900000204": (CitizenScript(pickup=Pickup.UNALLOCATED, ring_seconds=0.2), "NOANSWER"),
}

#: agent context → (the simulator's pickup for the agent's own phone, call_status: nobody else was called)
AGENTS = {
    "desk-agent-busy": (Pickup.BUSY, "agent-busy"),
    "desk-agent-ring": (Pickup.NO_ANSWER, "agent-noanswer"),
}
