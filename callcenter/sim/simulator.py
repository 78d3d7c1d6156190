"""The whole simulated Asterisk in one object: AMI server + call engine + citizen book, started and stopped together."""
from __future__ import annotations

from dataclasses import dataclass, field

from .ami_server import AmiServer
from .call_engine import AgiSession, CallEngine
from .citizens import CitizenBook


@dataclass
class SimConfig:
    host: str = "127.0.0.1"
    ami_port: int = 5038             # 0 = any free port (tests)
    agi_url: str = "agi://127.0.0.1:4573/callback"
    username: str = "callcenter"
    secret: str = "callcenter"
    time_scale: float = 1.0
    noise_per_call: int = 200        # extra dialplan VarSets per call: a real call emits ~240 events, mostly VarSet
    seed: int = 12345
    book: CitizenBook | None = field(default=None)


class Simulator:
    def __init__(self, config: SimConfig, *, agi_session: AgiSession | None = None) -> None:
        self.config = config
        self.book = config.book or CitizenBook(seed=config.seed)
        self.engine = CallEngine(emit=lambda headers: None, book=self.book, agi_url=config.agi_url,
                                 time_scale=config.time_scale, noise_per_call=config.noise_per_call,
                                 agi_session=agi_session, seed=config.seed)
        self.ami = AmiServer(self.engine, username=config.username, secret=config.secret)
        self.port: int | None = None

    async def start(self) -> int:
        self.port = await self.ami.start(self.config.host, self.config.ami_port)
        return self.port

    async def close(self) -> None:
        await self.engine.close()
        await self.ami.close()

    async def __aenter__(self) -> "Simulator":
        await self.start()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()
