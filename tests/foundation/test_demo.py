"""The README's first command ends in `bngsync demo`: it must finish on its own, exit 0, and say
what happened to every order — in BNG exactly once with its shipment back, or held with a reason.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys


def test_demo_runs_end_to_end_and_accounts_for_every_order(tmp_path):
    env = {**os.environ, "BNGSYNC_DATA_DIR": str(tmp_path / "data"), "BNGSYNC_CONFIG": str(tmp_path / "c.toml"),
           "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}     # no keyring needed for the demo
    done = subprocess.run([sys.executable, "-m", "agent.cli", "demo", "--orders", "12", "--timeout", "150"],
                          capture_output=True, text=True, env=env, timeout=200)
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "demo finished: every order is in BNG exactly once or held with a reason" in out

    def figure(label: str) -> int:
        return int(re.search(rf"{re.escape(label)}\s+(\d+)", out).group(1))

    assert figure("orders placed") == 12
    assert figure("duplicates in BNG") == 0
    assert figure("reached BNG (exactly once)") + figure("held for a person (bngsync errors list)") >= 12
    assert figure("shipments back in the store") >= figure("reached BNG (exactly once)") - \
        figure("held for a person (bngsync errors list)")
    data_dir = re.search(r"data dir: (\S+)", out).group(1)
    assert not os.path.exists(data_dir), "the demo's temporary data dir is removed unless --keep is given"
