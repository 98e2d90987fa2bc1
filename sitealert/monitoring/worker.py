"""`sitealert worker`: the probe loop, and the scheduled maintenance of `sitealert.core.maintenance`.

The main thread talks to the database (sync, claim, write results); a bounded thread pool runs
the probes, which never touch the database. On SIGTERM or SIGINT the worker stops claiming,
lets the probes already running finish, writes their results, gives back the claims it had not
started and exits 0.
"""

import collections
import datetime
import logging
import os
import random
import secrets
import signal
import socket
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

from django.db import close_old_connections, connection
from django.utils import timezone

from sitealert.core.maintenance import run_due_tasks
from sitealert.monitoring import conf
from sitealert.monitoring.probe import Prober
from sitealert.monitoring.recording import record_results
from sitealert.monitoring.schedule import claim_due, release, seconds_until_due, sync_targets

logger = logging.getLogger("sitealert.monitoring")

SYNC_SECONDS = 30.0
FLUSH_SECONDS = 0.5
FLUSH_SIZE = 200
WRITE_PREFIXES = ("INSERT", "UPDATE", "DELETE")


class Worker:
    def __init__(self, config=None, worker_id=None, maintenance=True):
        self.config = config or conf.load()
        self.maintenance = maintenance  # also run core.maintenance's scheduled tasks when they are due
        self.id = worker_id or f"{socket.gethostname()[:60]}:{os.getpid()}:{secrets.token_hex(3)}"
        self.prober = Prober(self.config)
        self.stopping = threading.Event()
        self.stats = collections.Counter()
        self.rng = random.Random()

    def stop(self, *_args):
        self.stopping.set()

    def _count_writes(self, execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if sql.lstrip()[:6].upper() in WRITE_PREFIXES:
            self.stats["db_writes"] += 1
            self.stats["db_rows"] += max(context["cursor"].rowcount, 0)
        return result

    def run(self, once=False):
        """Probe what is due until stopped (or, with `once`, until nothing is due)."""
        started = time.monotonic()
        # Claim in batches of up to 4 x concurrency, whenever no more than 2 x are still queued or
        # running: the pool never runs dry, and claims stay few (each is three statements).
        limit = self.config.concurrency * 4
        in_flight, done = {}, []
        last_sync = last_flush = 0.0
        pool = ThreadPoolExecutor(self.config.concurrency, thread_name_prefix="probe")
        with connection.execute_wrapper(self._count_writes):
            try:
                while not self.stopping.is_set():
                    if time.monotonic() - last_sync > SYNC_SECONDS:
                        if not connection.in_atomic_block:  # (tests run the worker inside a transaction)
                            close_old_connections()
                        sync_targets()
                        if self.maintenance:
                            run_due_tasks()
                        last_sync = time.monotonic()
                    claimed = []
                    if len(in_flight) <= self.config.concurrency * 2:
                        claimed = claim_due(self.id, limit - len(in_flight), self.config.claim_seconds)
                    for claim in claimed:
                        in_flight[pool.submit(self.prober.probe, claim["target"])] = claim
                    if not in_flight:
                        self._flush(done)
                        if once:
                            break
                        self.stopping.wait(self._idle_seconds())
                        continue
                    finished, _ = wait(in_flight, timeout=FLUSH_SECONDS, return_when=FIRST_COMPLETED)
                    self._collect(finished, in_flight, done)
                    if len(done) >= FLUSH_SIZE or time.monotonic() - last_flush > FLUSH_SECONDS:
                        self._flush(done)
                        last_flush = time.monotonic()
            finally:
                self._shut_down(pool, in_flight, done)
        self.stats["seconds"] = round(time.monotonic() - started, 3)
        return self.stats

    def _idle_seconds(self):
        due = seconds_until_due()
        return self.config.idle_seconds if due is None else min(max(due, 0.5), self.config.idle_seconds)

    def _collect(self, finished, in_flight, done):
        for future in finished:
            claim = in_flight.pop(future)
            try:
                done.append((claim, future.result()))
            except Exception:
                logger.exception("probe of %s failed", claim["target"])
                self.stats["errors"] += 1
                release(self.id, [claim["pk"]], timezone.now() + datetime.timedelta(seconds=self.config.retry))

    def _flush(self, done):
        if not done:
            return
        written = record_results(self.id, done, self.config, timezone.now(), self.rng)
        for _, result in done:
            self.stats["deferred" if result.defer > 0 else "online" if result.online else "offline"] += 1
        self.stats["probes"] += written
        done.clear()

    def _shut_down(self, pool, in_flight, done):
        unstarted = [claim for future, claim in in_flight.items() if future.cancel()]
        running = {future: claim for future, claim in in_flight.items() if not future.cancelled()}
        if running:
            wait(running)
            self._collect(list(running), running, done)
        pool.shutdown(wait=True)
        try:
            self._flush(done)
        finally:
            release(self.id, [claim["pk"] for claim in unstarted])
            self.stats["released"] += len(unstarted)


def run_worker(once=False):
    """Entry point of `sitealert worker`."""
    worker = Worker()
    handlers = {}
    if threading.current_thread() is threading.main_thread():
        handlers = {sig: signal.signal(sig, worker.stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    print(f"sitealert worker {worker.id}: started"
          f"{' (once)' if once else ''}, {worker.config.concurrency} probes at a time", flush=True)
    try:
        stats = worker.run(once=once)
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
    print(f"sitealert worker {worker.id}: {stats['probes']} probes ({stats['online']} online, "
          f"{stats['offline']} offline, {stats['deferred']} deferred) in {stats['seconds']:.1f} s; "
          f"{stats['db_writes']} database writes ({stats['db_rows']} rows); "
          f"{stats['released']} claims released", flush=True)
    return 0
