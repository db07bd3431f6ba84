"""The real evaluator's data-set handling (uploads pass their path and options through)."""

import numpy as np

from search_engine.search.evaluate import _dataset


def test_upload_options_reach_the_loader(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "mine.npz"
    np.savez(path, x_train=rng.integers(0, 255, (60, 6, 6), dtype=np.uint8),
             y_train=np.arange(60) % 3, x_test=rng.integers(0, 255, (30, 6, 6), dtype=np.uint8),
             y_test=np.arange(30) % 3)
    dataset = _dataset("npz", None, None, 0, (("path", str(path)),))
    assert dataset.input_shape == (6, 6, 1) and dataset.num_classes == 3
    assert len(dataset.y_test) == 30
