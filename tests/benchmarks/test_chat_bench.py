"""Customer chat under load (`make bench`): 300 concurrent sockets on one daphne process.

What runs. The demo help center is ingested into a fresh workspace (whose default flow is
published), then `daphne config.asgi:application` is started as a separate process against this
test's database, as a single-process install runs: no REDIS_URL, so Channels uses the in-memory
layer and Celery runs each AI reply eagerly inside the server. It runs with DEBUG=false and
CHAT_IP_RATE_LIMIT raised (every client here is 127.0.0.1; the per-conversation CHAT_RATE_LIMIT
keeps its default). The server is started as a fresh interpreter rather than forked from pytest
like tests/e2e's `DaphneProcess`: its RSS then is its own, not pytest's pages (the embedding
model the ingestion loaded among them) shared after a fork.

After a warm-up (a few conversations, so that the server has loaded its models and run every
path of the flow), 300 clients (websockets, one asyncio loop in this process) open their
sockets concurrently, at most 50 handshakes at a time, and wait for the welcome frame. Once all
are open, each sends its messages one after the other: a message frame, then it waits for the
ack, the broadcast of its own message and, unless the conversation has been handed off, the AI's
reply (a `message` frame from the AI or the system; for a handoff that is the handoff text,
followed by a `status` frame). A socket whose conversation was handed off expects acks and its
own messages only, as the AI then stays silent. Replies are matched to messages in order (the AI
answers one message at a time per conversation). A reply later than 30 s is reported as slow;
what has not arrived after 120 s (CHAT_BENCH_TIMEOUT) counts as lost, and that socket then stops
(its unsent messages count as lost too). The hard limit is not 30 s because this server needs
about 30 s to reply to 300 messages sent at once (below): at 30 s, late replies would be
counted as lost, and a client moving on would leave frames in flight that blur the accounting.
After its last message a socket listens one more second for stray frames.
The texts are the turns of knowledge/demo_content/cases.jsonl (answerable questions in en/pt/es,
out-of-corpus ones, angry ones and requests for a human), drawn at random per socket.

Messages per socket: 3 (CHAT_BENCH_MESSAGES; CHAT_BENCH_SOCKETS changes the 300). The offline
flow alone costs ~40-60 ms of CPU per message; the server measured ~100 ms per message in all
(the flow plus storing, tracing, broadcasting and the frames), on one thread (below), so
300 x 3 = 900 messages take ~1.5 minutes of server time on this 2-core machine. With the
ingestion (~30 s), the server's start and warm-up (~10 s), the run takes ~2.5 minutes; more
messages per socket would not fit the ~5 minutes this benchmark may take with any margin.

Reported: lost and duplicated frames (the assertion: both 0), reply latency p50/p95 (from
sending a message to its AI reply frame), ack latency, connection set-up time (handshake to
welcome frame), the server's RSS (VmRSS after warm-up and after the run, VmHWM) and CPU time,
errors in its log. Then, through the ORM: one stored customer message per client_id sent and no
client_id twice in a conversation, one AI or system reply per message the AI answered.

Caveats: client and server share the 2 cores, so the latencies include the clients' own work
(small next to the flow's); the clients do not send `resume` frames, nor offer compression. The
latencies are almost all queueing, not the cost of one reply: the server does all database work
(and, with eager Celery, the whole AI reply, which runs in the message's on_commit) on Channels'
one thread for synchronous code, in arrival order, at ~100 ms of CPU per message here. Channels
also passes every frame and every group event through that thread (`aclose_old_connections` in
`AsyncConsumer.dispatch`) before handling it, so the broadcast of a message and its reply wait
behind every reply queued meanwhile; the ack, sent by the posting call itself, comes first. Even
the ack follows the AI reply (the reply is computed before `_message_post` returns), so the typing
indicator arrives once the reply is already made. Measured here (2 cores, shared, 300 x 3; two
runs): no message lost or duplicated, 9-10 messages/s, reply p50 26-33 s and p95 38-51 s, a half
to four fifths of the replies over 30 s; connection set-up p50 0.2-0.3 s, p95 0.6-0.7 s; server
RSS 0.8 GB. The in-memory channel layer drops an event not received within 60 s (its `expiry`)
and then drops that socket from its groups: event delivery delayed ~50 s at worst here is close
to that, so more load on one process could start to lose frames.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.db.models import Count
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import WebSocketException
from websockets.typing import Origin

from console.services import workspace_create
from conversations.models import Message, Sender
from knowledge.models import Chunk
from knowledge.services import demo_help_center_sync
from tests.benchmarks.test_flow_bench import (
    DEMO_CASES,
    WARM_UP_EXTRA,
    one_torch_thread,
    p50_p95,
    read_jsonl,
    report,
)
from tests.knowledge.test_worker import database_url

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]
SLUG = "chat-bench"
ASGI_APP = "config.asgi:application"
SOCKETS = int(os.environ.get("CHAT_BENCH_SOCKETS", "300"))
MESSAGES_PER_SOCKET = int(os.environ.get("CHAT_BENCH_MESSAGES", "3"))
HANDSHAKE_CONCURRENCY = 50
# A reply later than this counts as slow; one that has not come after MESSAGE_TIMEOUT_S, as lost.
REPLY_TARGET_S = 30.0
MESSAGE_TIMEOUT_S = float(os.environ.get("CHAT_BENCH_TIMEOUT", "120"))
DRAIN_S = 1.0
SEED = 11
HUMAN_OWNED = ("waiting", "assigned")


# --- the server ------------------------------------------------------------------------------


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws/chat/{SLUG}/"

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def memory_mb(self) -> dict[str, float]:
        """VmRSS and VmHWM (peak RSS) of the server process, in MB."""
        figures = {}
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                figures[name] = int(value.split()[0]) / 1024
        return figures

    def cpu_s(self) -> float:
        """User + system CPU time of the server process so far, in seconds."""
        stat = Path(f"/proc/{self.process.pid}/stat").read_text()
        fields = stat.rpartition(")")[2].split()
        # utime and stime are the 14th and 15th fields; `fields` starts at the 3rd.
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def daphne_server(log: Path) -> Iterator[Server]:
    """daphne serving the project on a free port against this test's (committed) database."""
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": database_url(),
        "DEBUG": "false",
        "SECRET_KEY": "chat-bench-" + "x" * 40,
        "CHAT_IP_RATE_LIMIT": "1000000/10",
    }
    env.pop("REDIS_URL", None)  # one process: in-memory channel layer, eager Celery
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), ASGI_APP],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    server = Server(process=process, port=port, log=log)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, log.read_text()[-3000:]
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                break
            assert time.monotonic() < deadline, "daphne did not start:\n" + log.read_text()
            time.sleep(0.2)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def log_problems(log: Path) -> list[str]:
    """The lines of the server's log that report a problem."""
    markers = ("Traceback", "ERROR", "CRITICAL", "WARNING", "Exception", "Error:")
    return [line for line in log.read_text().splitlines() if any(m in line for m in markers)]


# --- the clients -----------------------------------------------------------------------------


@dataclass
class Sent:
    """One message a client sent, and what came back for it."""

    client_id: str
    text: str
    sent_at: float
    acks: int = 0
    message_id: int | None = None
    own_frames: int = 0
    typing: bool = False
    expects_reply: bool | None = None  # decided at the ack: not if the conversation is handed off
    reply_frames: int = 0
    ack_ms: float | None = None
    reply_ms: float | None = None
    timed_out: bool = False

    @property
    def done(self) -> bool:
        replied = not self.expects_reply or self.reply_frames >= 1
        return self.acks >= 1 and self.own_frames >= 1 and replied


@dataclass
class Session:
    """One customer's socket."""

    index: int
    texts: list[str]
    connection: ClientConnection | None = None
    connect_ms: float | None = None
    conversation_id: int | None = None
    human_owned: bool = False
    sent: dict[str, Sent] = field(default_factory=dict)
    awaiting_reply: list[Sent] = field(default_factory=list)  # acked, oldest first
    seen_ids: set[int] = field(default_factory=set)
    repeated_frames: int = 0  # a message frame whose id this socket already received
    stray_replies: int = 0  # an AI/system message frame with no message waiting for one
    stray_frames: int = 0  # an ack or own message for a client_id this socket never sent
    handoffs: int = 0
    errors: list[str] = field(default_factory=list)

    def handle(self, raw: str | bytes, now: float) -> None:
        frame = json.loads(raw)
        kind = frame.get("type")
        if kind == "ack":
            sent = self.sent.get(frame.get("client_id", ""))
            if sent is None:
                self.stray_frames += 1
                return
            sent.acks += 1
            if sent.acks == 1:
                sent.message_id = frame.get("message_id")
                sent.ack_ms = (now - sent.sent_at) * 1000
                # The AI answers in order, and not at all once a handoff's status has come.
                sent.expects_reply = not self.human_owned
                if sent.expects_reply:
                    self.awaiting_reply.append(sent)
        elif kind == "typing":
            if self.sent:
                list(self.sent.values())[-1].typing = True  # it follows the ack it belongs to
        elif kind == "message":
            message = frame["message"]
            if message["id"] in self.seen_ids:
                self.repeated_frames += 1
                return
            self.seen_ids.add(message["id"])
            if message["sender"] == Sender.CUSTOMER:
                sent = self.sent.get(message.get("client_id") or "")
                if sent is None:
                    self.stray_frames += 1
                else:
                    sent.own_frames += 1
            elif self.awaiting_reply:
                sent = self.awaiting_reply.pop(0)
                sent.reply_frames = 1
                sent.reply_ms = (now - sent.sent_at) * 1000
            else:
                self.stray_replies += 1
        elif kind == "status":
            if frame.get("status") in HUMAN_OWNED and not self.human_owned:
                self.human_owned = True
                self.handoffs += 1
        elif kind == "error":
            self.errors.append(str(frame.get("code")))


async def session_open(session: Session, server: Server, handshakes: asyncio.Semaphore) -> None:
    async with handshakes:
        started = time.perf_counter()
        try:
            connection = await connect(
                server.url,
                origin=Origin(server.origin),
                open_timeout=MESSAGE_TIMEOUT_S,
                ping_interval=None,
                compression=None,
            )
            welcome = json.loads(await asyncio.wait_for(connection.recv(), MESSAGE_TIMEOUT_S))
        except (OSError, TimeoutError, WebSocketException) as error:
            session.errors.append(f"connect: {error!r}")
            return
        assert welcome["type"] == "welcome", welcome
        session.connect_ms = (time.perf_counter() - started) * 1000
        session.connection = connection
        session.conversation_id = welcome["conversation_id"]


async def session_talk(session: Session, prefix: str) -> None:
    """Send the session's messages one after the other, each waiting for what it should get.
    After a timeout the socket sends no more (what it did not send counts as lost)."""
    connection = session.connection
    if connection is None:
        return
    try:
        for number, text in enumerate(session.texts):
            client_id = f"{prefix}{session.index}-{number}"
            sent = Sent(client_id=client_id, text=text, sent_at=time.perf_counter())
            session.sent[client_id] = sent
            await connection.send(
                json.dumps({"type": "message", "client_id": client_id, "text": text})
            )
            deadline = sent.sent_at + MESSAGE_TIMEOUT_S
            while not sent.done:
                remaining = deadline - time.perf_counter()
                try:
                    raw = await asyncio.wait_for(connection.recv(), max(0.0, remaining))
                except TimeoutError:
                    sent.timed_out = True
                    break
                session.handle(raw, time.perf_counter())
            if sent.timed_out:
                break
        with contextlib.suppress(TimeoutError):
            while True:  # stray frames: duplicates, late replies
                raw = await asyncio.wait_for(connection.recv(), DRAIN_S)
                session.handle(raw, time.perf_counter())
    except WebSocketException as error:
        session.errors.append(f"socket: {error!r}")


async def sessions_run(server: Server, sessions: list[Session], prefix: str) -> tuple[float, float]:
    """Open every socket, then let them all talk at once; returns both phases' wall times."""
    handshakes = asyncio.Semaphore(HANDSHAKE_CONCURRENCY)
    started = time.perf_counter()
    await asyncio.gather(*(session_open(s, server, handshakes) for s in sessions))
    opened = time.perf_counter()
    await asyncio.gather(*(session_talk(s, prefix) for s in sessions))
    talked = time.perf_counter()
    await asyncio.gather(*(s.connection.close() for s in sessions if s.connection is not None))
    return opened - started, talked - opened


def case_texts() -> list[str]:
    return [turn for case in read_jsonl(DEMO_CASES) for turn in case["turns"]]


# --- the benchmark ---------------------------------------------------------------------------


def test_300_customer_sockets_on_one_daphne_process(tmp_path):
    started = time.perf_counter()
    workspace = workspace_create(name="Chat bench", slug=SLUG)
    with one_torch_thread():
        demo_help_center_sync(workspace=workspace)
    chunks = Chunk.objects.filter(workspace=workspace).count()
    ingested = time.perf_counter()
    report(f"\nDemo help center: {chunks} chunks ingested in {ingested - started:.0f} s")

    texts = case_texts()
    rng = random.Random(SEED)
    sessions = [
        Session(index=i, texts=rng.sample(texts, MESSAGES_PER_SOCKET)) for i in range(SOCKETS)
    ]
    warm_up = [Session(index=i, texts=[text]) for i, text in enumerate(WARM_UP_EXTRA)]

    with daphne_server(tmp_path / "daphne.log") as server:
        server_started = time.perf_counter()
        for session in warm_up:  # one at a time: the first reply loads the models
            asyncio.run(sessions_run(server, [session], prefix="warm"))
        warmed = time.perf_counter()
        assert all(s.sent and all(m.done for m in s.sent.values()) for s in warm_up), [
            (s.errors, list(s.sent.values())) for s in warm_up
        ]
        memory_warm = server.memory_mb()
        cpu_before = server.cpu_s()
        open_s, talk_s = asyncio.run(sessions_run(server, sessions, prefix="c"))
        cpu_s = server.cpu_s() - cpu_before
        memory = server.memory_mb()
        alive = server.process.poll() is None
    problems = log_problems(server.log)

    # --- what the clients saw
    sent = [m for s in sessions for m in s.sent.values()]
    opened = [s for s in sessions if s.connection is not None]
    no_ack = sum(1 for m in sent if m.acks == 0)
    no_own = sum(1 for m in sent if m.own_frames == 0)
    answered = [m for m in sent if m.expects_reply]
    no_reply = sum(1 for m in answered if not m.reply_frames)
    not_sent = SOCKETS * MESSAGES_PER_SOCKET - len(sent)  # sockets not opened, or stopped
    lost = no_ack + no_own + no_reply + not_sent
    extra_acks = sum(max(0, m.acks - 1) for m in sent)
    extra_own = sum(max(0, m.own_frames - 1) for m in sent)
    repeated = sum(s.repeated_frames for s in sessions)
    stray_replies = sum(s.stray_replies for s in sessions)
    stray_frames = sum(s.stray_frames for s in sessions)
    duplicated = extra_acks + extra_own + repeated + stray_replies + stray_frames
    timed_out = sum(1 for m in sent if m.timed_out)
    typing_mismatch = sum(1 for m in sent if m.acks and m.typing != bool(m.expects_reply))
    errors = [error for s in sessions for error in s.errors]

    reply_ms = [m.reply_ms for m in sent if m.reply_ms is not None]
    ack_ms = [m.ack_ms for m in sent if m.ack_ms is not None]
    silent_ack_ms = [m.ack_ms for m in sent if m.ack_ms is not None and not m.expects_reply]
    connect_ms = [s.connect_ms for s in sessions if s.connect_ms is not None]

    def figures(samples: list[float]) -> str:
        if not samples:
            return "none"
        p50, p95 = p50_p95(samples)
        return f"p50 {p50:.0f} ms, p95 {p95:.0f} ms, max {max(samples):.0f} ms (n={len(samples)})"

    report(
        f"Server: started and warmed up ({len(warm_up)} conversations) in "
        f"{warmed - server_started:.0f} s; RSS after warm-up {memory_warm['VmRSS']:.0f} MB"
    )
    report(
        f"{SOCKETS} sockets x {MESSAGES_PER_SOCKET} messages: {len(opened)} opened in "
        f"{open_s:.1f} s, {len(sent)} messages sent in {talk_s:.1f} s "
        f"({len(sent) / talk_s:.1f} messages/s); server CPU {cpu_s:.1f} s "
        f"({cpu_s * 1000 / max(1, len(sent)):.0f} ms per message)"
    )
    report(f"  connection set-up (handshake to welcome): {figures(connect_ms)}")
    slow = sum(1 for ms in reply_ms if ms > REPLY_TARGET_S * 1000)
    report(f"  reply latency (message sent to AI reply frame): {figures(reply_ms)}")
    report(f"  replies slower than {REPLY_TARGET_S:.0f} s: {slow} of {len(reply_ms)}")
    report(f"  ack latency, all messages: {figures(ack_ms)}")
    report(f"  ack latency, handed-off conversations (no AI reply): {figures(silent_ack_ms)}")
    report(
        f"  AI replies expected {len(answered)}, received {len(reply_ms)}; handoffs "
        f"{sum(s.handoffs for s in sessions)} conversations; messages after a handoff "
        f"{len(sent) - len(answered)}"
    )
    report(
        f"  lost {lost} (no ack {no_ack}, no own message frame {no_own}, no AI reply {no_reply}, "
        f"not sent {not_sent}: {SOCKETS - len(opened)} sockets not opened, or stopped after a "
        f"timeout); timed out after {MESSAGE_TIMEOUT_S:.0f} s: {timed_out}"
    )
    report(
        f"  duplicated {duplicated} (extra acks {extra_acks}, extra own message frames "
        f"{extra_own}, repeated message ids {repeated}, replies with none awaited "
        f"{stray_replies}, frames for unknown client_ids {stray_frames})"
    )
    report(
        f"  typing indicator differing from the expected reply: {typing_mismatch}; error frames "
        f"and socket errors: {len(errors)} {sorted(set(errors))[:5]}"
    )
    report(
        f"  server RSS after the run {memory['VmRSS']:.0f} MB, peak (VmHWM) "
        f"{memory['VmHWM']:.0f} MB; still running: {alive}"
    )
    report(
        f"  server log: {len(problems)} problem lines"
        + "".join(f"\n    {p}" for p in problems[:15])
    )

    # --- what the database holds
    conversation_ids = [s.conversation_id for s in sessions if s.conversation_id is not None]
    messages = Message.objects.filter(conversation_id__in=conversation_ids)
    customer = messages.filter(sender=Sender.CUSTOMER)
    stored_client_ids = set(customer.values_list("client_id", flat=True))
    twice = (
        customer.values("conversation_id", "client_id")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .count()
    )
    replies = messages.filter(sender__in=(Sender.AI, Sender.SYSTEM))
    replied_to = replies.exclude(reply_to=None).values("reply_to").distinct().count()
    report(
        f"Database: {customer.count()} customer messages for {len(sent)} client_ids sent "
        f"({len(stored_client_ids)} distinct), {twice} client_ids stored twice; "
        f"{replies.count()} AI/system replies to {replied_to} messages, "
        f"{len(answered)} expected"
    )
    report(f"Benchmark time: {time.perf_counter() - started:.0f} s")

    assert lost == 0
    assert duplicated == 0
    assert customer.count() == len(stored_client_ids) == len({m.client_id for m in sent})
    assert stored_client_ids == {m.client_id for m in sent}
    assert twice == 0
    assert replies.count() == replied_to == len(answered)
