"""What the package imports at run time is declared: every distribution a cached `w2s run`
loads is a run-time requirement of w2s_jax or of one of those (no extra such as `ray` or
`dev` counted). JAX's persistent cache needs `filelock` once its size limit is set, which
only the `ray` extra used to bring."""

from __future__ import annotations

import importlib.metadata as metadata
import json
import os
import subprocess
import sys

from _distributions import canonical, runtime_closure
from _sweep_cases import TINY_TOML

#: Imported when present, never needed: JAX's debugger tries pygments, a text library tries
#: charset_normalizer, and setuptools' `_distutils_hack` loads at interpreter start-up.
OPTIONAL = {"pygments", "charset-normalizer", "setuptools"}

PROBE = """
import json, sys
from w2s_jax.cli.main import main
code = main(["run", sys.argv[1], "--rows", "2"])
print(json.dumps(dict(code=code, modules=sorted({m.split(".")[0] for m in sys.modules}))))
"""


def test_every_distribution_a_cached_run_imports_is_declared(tmp_path):
    config = tmp_path / "tiny.toml"
    config.write_text(TINY_TOML)
    env = dict(os.environ, W2S_CACHE_DIR=str(tmp_path / "cache"), JAX_PLATFORMS="cpu")
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(config)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "install filelock" not in done.stderr and "Error reading persistent" not in done.stderr
    probe = json.loads(done.stdout.strip().splitlines()[-1])
    assert probe["code"] == 0
    owners = metadata.packages_distributions()
    used = {canonical(d) for m in probe["modules"] for d in owners.get(m, [])}
    declared = runtime_closure(["w2s_jax"])
    assert "filelock" in used  # the cache's size limit is what imports it
    assert used - declared - OPTIONAL == set(), "imported at run time but not declared"
    assert os.listdir(tmp_path / "cache"), "the compile cache stored nothing"
