"""Three nodes behind nginx with a shared Redis, all real processes on loopback: one image
always reaches one node, a stopped node's share moves (and only its share) with no failed
request and its renders served from Redis, and a Redis killed mid-run costs no request."""

from __future__ import annotations

import itertools
import socket
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from tests.deploy.conftest import Farm
from tests.support.http import get
from tests.support.redis_server import RedisServer

# Different windows, sizes, qualities, crops and formats of the same image: one node for all.
VARIANTS: list[dict[str, object]] = [
    {},
    {"rows": 64},
    {"columns": 100, "imageQuality": 50},
    {"windowCenter": 40, "windowWidth": 400},
    {"region": "0.25,0.25,0.75,0.75", "rows": 48},
    {"contentType": "image/png", "rows": 32},
]
LOAD_TIMEOUT = 120.0  # seconds any load loop below may run


@dataclass(frozen=True)
class Answer:
    uid: str
    status: int
    node: str
    cache: str


def ask(url: str, uid: str, **params: object) -> Answer:
    reply = get(url + "/wado", params={"requestType": "WADO", "objectUID": uid, **params})
    return Answer(
        uid,
        reply.status,
        reply.headers.get("x-wadofarm-node", ""),
        reply.headers.get("x-wadofarm-cache", ""),
    )


def load(url: str, jobs: list[tuple[str, dict[str, object]]], threads: int = 4) -> list[Answer]:
    """Every job once through `url`, several at a time; bounded in count and in time."""
    deadline = time.monotonic() + LOAD_TIMEOUT

    def one(job: tuple[str, dict[str, object]]) -> Answer:
        if time.monotonic() > deadline:
            return Answer(job[0], 0, "", "load loop timed out")
        return ask(url, job[0], **job[1])

    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(one, jobs))


def hammer(
    urls: list[str],
    jobs: list[tuple[str, dict[str, object]]],
    stop: threading.Event,
    threads: int = 3,
) -> list[Answer]:
    """The jobs round and round, each through the next of `urls`, until `stop` is set;
    bounded by LOAD_TIMEOUT and a count."""
    deadline = time.monotonic() + LOAD_TIMEOUT
    cycle = itertools.islice(zip(itertools.cycle(urls), itertools.cycle(jobs)), 20_000)
    lock = threading.Lock()

    def worker() -> list[Answer]:
        answers = []
        while not stop.is_set() and time.monotonic() < deadline:
            with lock:
                next_job = next(cycle, None)
            if next_job is None:
                break
            url, (uid, params) = next_job
            answers.append(ask(url, uid, **params))
        return answers

    with ThreadPoolExecutor(threads) as pool:
        runs = [pool.submit(worker) for _ in range(threads)]
        return [a for run in runs for a in run.result()]


def synthetic_uids(n: int) -> list[str]:
    """UIDs of no stored instance: 404 from whichever node, cheap to route by the hundred."""
    return [f"2.25.{7_000_000 + i}" for i in range(n)]


def placement(farm: Farm, uids: list[str]) -> dict[str, str]:
    answers = load(farm.url, [(uid, {}) for uid in uids])
    assert {a.status for a in answers} == {404}
    return {a.uid: a.node for a in answers}


def test_one_image_always_reaches_the_same_node(farm: Farm, farm_images) -> None:  # type: ignore[no-untyped-def]
    jobs = [(s.object_uid, v) for s in farm_images[:12] for v in VARIANTS]
    answers = load(farm.url, jobs)
    assert [a for a in answers if a.status != 200] == []
    nodes_per_uid: dict[str, set[str]] = {}
    for a in answers:
        nodes_per_uid.setdefault(a.uid, set()).add(a.node)
    assert all(len(nodes) == 1 for nodes in nodes_per_uid.values()), nodes_per_uid

    # The DICOMweb routes hash the SOP Instance UID in their path: the same node as /wado.
    dicomweb = 0
    for s in farm_images[:12]:
        (home,) = nodes_per_uid[s.object_uid]
        for tail in ("rendered", "thumbnail", "frames/1/rendered"):
            path = (
                f"/dicom-web/studies/{s.study_uid}/series/{s.series_uid}"
                f"/instances/{s.object_uid}/{tail}"
            )
            assert get(farm.url + path).headers.get("x-wadofarm-node") == home, path
            dicomweb += 1

    # nginx's log (deploy's log_format) says which node answered and from which cache.
    time.sleep(1.2)  # the log is flushed every second
    served = farm.nginx.served()
    assert sum(served.caches[c] for c in ("L1", "render")) == len(jobs) + dicomweb, served
    assert set(served.nodes) <= set(farm.nodes) | {"-"}

    # And the UIDs spread over all three nodes.
    shares = Counter(placement(farm, synthetic_uids(300)).values())
    assert set(shares) == set(farm.nodes) and min(shares.values()) >= 45, shares


def test_a_stopped_node_hands_over_only_its_share_and_its_renders_come_from_redis(
    farm: Farm, farm_images
) -> None:  # type: ignore[no-untyped-def]
    uids = [s.object_uid for s in farm_images]
    warm = load(farm.url, [(uid, v) for uid in uids for v in ({"rows": 96}, {"rows": 40})])
    assert {(a.status, a.cache) for a in warm} == {(200, "render")}
    home = {a.uid: a.node for a in warm}
    others = placement(farm, synthetic_uids(150))
    victim = Counter(home.values()).most_common(1)[0][0]
    moved = {uid for uid, node in home.items() if node == victim}
    assert moved and len(moved) < len(uids)

    # Traffic over every image while the victim shuts down, then while nginx learns it is gone.
    stop = threading.Event()
    with ThreadPoolExecutor(1) as background:
        during = background.submit(hammer, [farm.url], [(uid, {"rows": 96}) for uid in uids], stop)
        time.sleep(0.5)
        farm.nodes[victim].stop()
        time.sleep(1.5)
        stop.set()
        answers = during.result(timeout=LOAD_TIMEOUT + 10)
    assert [a for a in answers if a.status != 200] == []
    assert len(answers) > 2 * len(uids)

    # Only the victim's share moved; the other nodes keep theirs (and their warm caches).
    after = {a.uid: a.node for a in load(farm.url, [(uid, {"rows": 96}) for uid in uids])}
    assert {u: n for u, n in after.items() if u not in moved} == {
        u: n for u, n in home.items() if u not in moved
    }
    assert all(after[uid] != victim for uid in moved)
    synthetic_after = placement(farm, list(others))
    assert {u: n for u, n in synthetic_after.items() if others[u] != victim} == {
        u: n for u, n in others.items() if n != victim
    }
    assert victim not in synthetic_after.values()

    # The victim's other renders (rows=40, not asked since) come from Redis on their new node.
    second = load(farm.url, [(uid, {"rows": 40}) for uid in sorted(moved)])
    assert {(a.status, a.cache) for a in second} == {(200, "L2")}


def test_redis_killed_mid_run_costs_no_request(farm: Farm, farm_images) -> None:  # type: ignore[no-untyped-def]
    uids = [s.object_uid for s in farm_images]
    warm = [(uid, {"rows": 64}) for uid in uids]
    assert {a.cache for a in load(farm.url, warm)} == {"render"}
    # Warm images (read from Redis by the nodes they are not homed on) and new renders
    # (written to it), through nginx and straight to each node.
    jobs = [
        job
        for size in range(30, 60)
        for i, uid in enumerate(uids)
        for job in (warm[i], (uid, {"rows": size}))
    ]
    urls = [farm.url, *(node.url for node in farm.nodes.values())]
    port = farm.redis.port
    stop = threading.Event()
    with ThreadPoolExecutor(1) as background:
        during = background.submit(hammer, urls, jobs, stop)
        time.sleep(1.0)
        farm.redis.kill()
        time.sleep(2.0)
        stop.set()
        answers = during.result(timeout=LOAD_TIMEOUT + 10)
    assert [a for a in answers if a.status != 200] == []
    assert {"render", "L1", "L2"} <= {a.cache for a in answers}
    logs = "".join(node.log_tail() for node in farm.nodes.values())
    assert "Redis L2 cache" in logs and "failed" in logs, logs

    # Redis comes back (empty): the nodes write to it again once their back-off ends.
    farm.redis = RedisServer(farm.redis.workdir, port=port).start()
    deadline = time.monotonic() + 20
    size = itertools.count(20)
    while farm.redis.client().dbsize() == 0 and time.monotonic() < deadline:
        assert {a.status for a in load(farm.url, [(u, {"rows": next(size)}) for u in uids])} == {
            200
        }
        time.sleep(0.2)
    assert farm.redis.client().dbsize() > 0


def test_every_response_names_its_node(wadofarm_folder) -> None:  # type: ignore[no-untyped-def]
    """Without --node-name a node is hostname:port, on errors too."""
    for params in ({"requestType": "WADO", "objectUID": "1.2.3"}, {}):
        reply = get(wadofarm_folder.url + "/wado", params=params)
        assert reply.status in (400, 404)
        assert reply.headers["x-wadofarm-node"] == f"{socket.gethostname()}:{wadofarm_folder.port}"
