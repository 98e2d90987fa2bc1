def run_worker(once=False):
    raise SystemExit("sitealert worker: monitoring is not built yet")
