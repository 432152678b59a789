"""kill -9 of a real server in the middle of a large explanation leaves nothing behind.

The server explains 100 rows (over the 64 from which the library fans rows out
to a process pool); it used to leave its pool processes and their /dev/shm
files alive long after the server was gone. The service now works on threads.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
httpx = pytest.importorskip("httpx")
psutil = pytest.importorskip("psutil")

from pellucid.datasets import credit  # noqa: E402
from pellucid.serve import free_port  # noqa: E402

SHM = Path("/dev/shm")

SERVER = textwrap.dedent(
    """
    import sys
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline, make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler
    from pellucid.datasets import credit
    from pellucid.serve import create_app, run_server

    X, y = credit(n_rows=300, random_state=0)
    cats = ["employment", "housing", "sex"]
    num = [c for c in X.columns if c not in cats]
    pre = ColumnTransformer(
        [("num", make_pipeline(SimpleImputer(), StandardScaler()), num),
         ("cat", OneHotEncoder(), cats)]
    )
    model = Pipeline([("pre", pre), ("lr", LogisticRegression(max_iter=1000))]).fit(X, y)
    app = create_app(model, X, explainer="exact_shap", n_background=20, max_cost=None)
    run_server(app, host="127.0.0.1", port=int(sys.argv[1]))
    """
)


def _shm_entries() -> set[str]:
    return set(os.listdir(SHM)) if SHM.is_dir() else set()


def _shm_in_use(procs: list) -> set[str]:
    """/dev/shm files mapped or open by these processes."""
    used: set[str] = set()
    for p in procs:
        try:
            paths = [m.path for m in p.memory_maps()] + [f.path for f in p.open_files()]
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        used |= {path for path in paths if path.startswith(str(SHM))}
    return used


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/dev/shm and kill -9: Linux")
def test_kill_9_mid_explanation_leaves_no_process_and_no_shared_memory(tmp_path):
    script = tmp_path / "server.py"
    script.write_text(SERVER)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    shm_before = _shm_entries()
    server = subprocess.Popen(
        [sys.executable, str(script), str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 90
        while True:
            assert server.poll() is None, server.stderr.read().decode()[-2000:]
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.2)
        X, _ = credit(n_rows=100, random_state=1)
        rows = X.to_json(orient="records")
        request = threading.Thread(
            target=lambda: _post_quietly(f"{url}/explain", '{"rows": ' + rows + "}"), daemon=True
        )
        request.start()
        time.sleep(3)  # well into the work (about 10 s of it)
        assert request.is_alive(), "the request finished before the kill: nothing was tested"
        process = psutil.Process(server.pid)
        family = [process, *process.children(recursive=True)]
        shm_used = _shm_in_use(family)
        os.kill(server.pid, signal.SIGKILL)
        server.wait(10)
        _, alive = psutil.wait_procs(family[1:], timeout=5)
        assert not alive, f"{len(alive)} child processes outlived the killed server: {alive}"
        leftovers = {
            name
            for name in _shm_entries() - shm_before
            if str(server.pid) in name or str(SHM / name) in shm_used
        }
        leftovers |= {path for path in shm_used if Path(path).exists()}
        assert not leftovers, f"/dev/shm entries left behind: {sorted(leftovers)[:10]}"
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(10)
        server.stderr.close()


def _post_quietly(url: str, body: str) -> None:
    try:
        httpx.post(url, content=body, headers={"Content-Type": "application/json"}, timeout=60)
    except httpx.TransportError:
        pass  # the server is killed under it
