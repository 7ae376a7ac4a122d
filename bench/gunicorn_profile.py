"""gunicorn settings for profiling a live worker with pyinstrument (docs/scale.md, "Profiles").

    BENCH_PROFILE_OUT=/tmp/profile GUNICORN_BIND=127.0.0.1:8017 \\
      DJANGO_SETTINGS_MODULE=config.settings.bench python -m gunicorn -c bench/gunicorn_profile.py

One sync worker (so every request of the load lands in the one profile), the usual settings
otherwise; the profiler starts when the worker forks and writes `<out>.txt` (the call tree)
and `<out>.pyisession` when the worker stops (SIGTERM to the master). Drive it with wrk meanwhile.
"""

import os
from pathlib import Path

# The usual settings (gunicorn.conf.py is not an importable module name), then one worker.
_BASE = Path(__file__).resolve().parent.parent / "gunicorn.conf.py"
exec(compile(_BASE.read_text(), str(_BASE), "exec"))  # noqa: S102 - our own settings file

workers = 1
graceful_timeout = 300  # writing the profile takes a while; the master must not kill the worker meanwhile
_profiler = None


def post_fork(server, worker):  # noqa: ANN001, ANN201, ARG001 - gunicorn's hook signature
    global _profiler
    from pyinstrument import Profiler

    _profiler = Profiler(interval=0.001)
    _profiler.start()


def worker_exit(server, worker):  # noqa: ANN001, ANN201, ARG001
    if _profiler is None:
        return
    _profiler.stop()
    out = os.environ.get("BENCH_PROFILE_OUT") or str(Path(__file__).resolve().parent / "profile")
    Path(f"{out}.txt").write_text(_profiler.output_text(unicode=True, show_all=False))
    _profiler.last_session.save(f"{out}.pyisession")  # pyinstrument --load=<file> renders it again
