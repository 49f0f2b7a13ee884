"""Turning what people pass as an example input into arrays calma reads."""
from __future__ import annotations

from typing import Any, List, Sequence

import numpy as np


def _to_array(x: Any) -> np.ndarray:
    if hasattr(x, "detach") and hasattr(x, "cpu"):  # a torch.Tensor, without importing torch
        x = x.detach().cpu().numpy()
    if not isinstance(x, np.ndarray):
        raise TypeError(f"an example input must be a tensor or a numpy array, not {type(x).__name__}")
    return np.ascontiguousarray(x)


def _is_loader(x: Any) -> bool:
    """A DataLoader or any other iterable of batches that is not itself data."""
    return (hasattr(x, "__iter__") and not isinstance(x, (np.ndarray, tuple, list, dict, str, bytes))
            and not hasattr(x, "detach"))


def as_arrays(example: Any) -> List[np.ndarray]:
    """The model's inputs, in order, as C-contiguous numpy arrays.

    ``example`` is a tensor, a numpy array, a tuple or list of them, or a
    DataLoader (its first batch is used; a ``(data, label)`` batch gives its
    data, the label is ignored).
    """
    if _is_loader(example):
        try:
            batch = next(iter(example))
        except StopIteration:
            raise ValueError("the DataLoader yields no batch") from None
        if isinstance(batch, (tuple, list)) and len(batch) == 2:
            batch = batch[0]  # (data, label): the label is not an input
        example = batch
    if isinstance(example, dict):
        raise TypeError("give the inputs as a tensor or a tuple in the order forward() takes them")
    items: Sequence[Any] = example if isinstance(example, (tuple, list)) else (example,)
    if not items:
        raise ValueError("the example input is empty")
    return [_to_array(x) for x in items]


def at_batch(arrays: Sequence[np.ndarray], batch: int) -> List[np.ndarray]:
    """The arrays with their leading (batch) dimension made ``batch``: the
    example's rows repeated, so every batch size runs on the real data."""
    out = []
    for a in arrays:
        if a.ndim == 0:
            raise ValueError("a scalar input has no batch dimension")
        reps = -(-batch // a.shape[0])
        out.append(np.ascontiguousarray(np.concatenate([a] * reps, axis=0)[:batch]))
    return out
