"""A torch.nn.Module written as an ONNX file and a TorchScript file beside it."""
from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, List, Sequence

import numpy as np


def export_module(module: Any, inputs: Sequence[np.ndarray], folder: Path) -> Path:
    """Writes ``folder/model.onnx`` (dynamic batch axis on every input and
    output, names ``input_K`` / ``output_K``) and ``folder/model.pt``
    (``torch.jit.trace``), where calma's TorchScript conversions find it.
    Returns the ONNX path. A module that cannot be traced still gets its
    ONNX file (the TorchScript conversions then say why they cannot run)."""
    import torch  # only needed for modules

    module = module.eval()
    args = tuple(torch.from_numpy(np.array(a)) for a in inputs)
    onnx_path = folder / "model.onnx"
    with torch.no_grad():
        out = module(*args)
    n_out = len(out) if isinstance(out, (tuple, list)) else 1
    in_names: List[str] = [f"input_{k}" for k in range(len(args))]
    out_names: List[str] = [f"output_{k}" for k in range(n_out)]
    axes = {name: {0: "N"} for name in in_names + out_names}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's export chatter is not the user's problem
        torch.onnx.export(module, args, str(onnx_path), input_names=in_names,
                          output_names=out_names, dynamic_axes=axes, opset_version=14,
                          do_constant_folding=True)
        try:
            with torch.no_grad():
                traced = torch.jit.trace(module, args, check_trace=False)
            traced.save(str(folder / "model.pt"))
        except Exception as e:  # noqa: BLE001 - any tracing failure only costs TorchScript
            warnings.warn(f"calma: torch.jit.trace failed ({e}); TorchScript conversions will "
                          "report why they cannot run", stacklevel=3)
    return onnx_path
