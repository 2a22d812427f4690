"""A training run killed with SIGKILL mid-epoch resumes from its last checkpoint to the same bits."""

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import jax
import numpy as np
import pytest

CHILD = textwrap.dedent(
    """
    import os, signal, sys
    sys.path.insert(0, {here!r})
    import jax
    jax.config.update("jax_enable_x64", True)
    import jax.random as jr
    import numpy as np
    from _train_tiny import TinyNet, tiny_dataset
    from metagrad.train import TrainConfig, train

    run_dir, out, kill_at = sys.argv[1], sys.argv[2], int(sys.argv[3])
    cfg = TrainConfig(method="mtl", n_way=3, n_shot=1, n_query=2, meta_batch=2, steps_per_epoch=3,
                      max_epochs=4, patience=10, val_tasks=6, val_query=2)

    def cb(epoch, step):
        if epoch == kill_at and step == 1:  # mid-epoch, after the checkpoint of epoch kill_at - 1
            os.kill(os.getpid(), signal.SIGKILL)

    key = jr.PRNGKey({seed})
    res = train(cfg, tiny_dataset(), key=key, model=TinyNet(3, key=jr.fold_in(key, 1)),
                run_dir=run_dir, progress=False, callback=cb)
    leaves = jax.tree.leaves(res.params)
    np.savez(out, resumed=res.resumed_from, *[np.asarray(x) for x in leaves])
    """
)


def _child(tmp_path: Path, run_dir: str, out: str, kill_at: int, seed: int) -> int:
    script = tmp_path / "child.py"
    script.write_text(CHILD.format(here=str(Path(__file__).parent), seed=seed))
    return subprocess.run(
        [sys.executable, str(script), run_dir, out, str(kill_at)], env=dict(os.environ)
    ).returncode


@pytest.mark.slow
def test_sigkill_mid_epoch_then_resume_gives_the_uninterrupted_bits(tmp_path, getkey):
    seed = int(jax.random.randint(getkey(), (), 0, 2**16))
    assert _child(tmp_path, str(tmp_path / "a"), str(tmp_path / "a.npz"), -1, seed) == 0
    rc = _child(tmp_path, str(tmp_path / "b"), str(tmp_path / "b.npz"), 2, seed)
    assert rc == -signal.SIGKILL and not (tmp_path / "b.npz").exists()
    lines = (tmp_path / "b" / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 2  # epochs 0 and 1 were checkpointed before the kill
    assert _child(tmp_path, str(tmp_path / "b"), str(tmp_path / "b.npz"), -1, seed) == 0
    a, b = np.load(tmp_path / "a.npz"), np.load(tmp_path / "b.npz")
    assert int(b["resumed"]) == 2 and int(a["resumed"]) == 0
    keys = [k for k in a.files if k.startswith("arr_")]
    assert keys and keys == [k for k in b.files if k.startswith("arr_")]
    for k in keys:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)
    assert len((tmp_path / "b" / "metrics.jsonl").read_text().splitlines()) == 4
