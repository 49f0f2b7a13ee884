#!/usr/bin/python3
"""Writes a PyTorch model as DIR/model.onnx and DIR/model.pt, the pair calma's
PyTorch conversions compare: TORCH_EAGER runs the ONNX graph on ATen,
TORCHSCRIPT and TORCHSCRIPT_FROZEN run the TorchScript file, and calma bench
finds model.pt beside model.onnx by itself. The files are written by the
Python package's export (python/calma/_export.py: symbolic batch axis N,
torch.jit.trace).

usage: scripts/torch_export.py NAME DIR [--seed S]
NAME: resnet18, mobilenet_v2, mobilenet_v3_small (torchvision, seeded
random weights, BatchNorm statistics randomised), tiny (a small CNN),
encoder (a 2-layer nn.TransformerEncoder).

Run with Debian's /usr/bin/python3 (python3-torch, python3-torchvision).
Importable: the tests and bench/torch_figures.py build their modules here."""
import argparse
import os
import sys
from pathlib import Path

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
from calma._export import export_module  # noqa: E402


class Tiny(torch.nn.Module):
    """Conv-BN-ReLU, a pool, a linear layer and a softmax on 3x16x16."""

    def __init__(self, classes=4):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 8, 3, padding=1)
        self.bn = torch.nn.BatchNorm2d(8)
        self.fc = torch.nn.Linear(8, classes)

    def forward(self, x):
        y = torch.relu(self.bn(self.conv(x)))
        y = torch.nn.functional.adaptive_avg_pool2d(y, 1).flatten(1)
        return torch.softmax(self.fc(y), dim=1)


def encoder():
    layer = torch.nn.TransformerEncoderLayer(d_model=32, nhead=4, dim_feedforward=64,
                                             dropout=0.0, activation="gelu", batch_first=True)
    return torch.nn.TransformerEncoder(layer, num_layers=2, enable_nested_tensor=False)


def build(name):
    """The module (eval mode) and an example input at batch 1."""
    image = torch.randn(1, 3, 224, 224)
    if name == "tiny":
        return Tiny(), torch.randn(1, 3, 16, 16)
    if name == "encoder":
        return encoder(), torch.randn(1, 10, 32)
    import torchvision
    if name in ("resnet18", "mobilenet_v2", "mobilenet_v3_small"):
        return getattr(torchvision.models, name)(weights=None), image
    raise SystemExit(f"torch_export.py: unknown model '{name}' (see --help)")


def randomise_statistics(module):
    """Running statistics a trained network would have, so BatchNorm is not
    the identity it is at initialisation."""
    for m in module.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 1.5)


def export(module, example, out_dir):
    """DIR/model.onnx and DIR/model.pt for module on example (a tensor or a
    tuple of them); returns both paths."""
    os.makedirs(out_dir, exist_ok=True)
    examples = example if isinstance(example, tuple) else (example,)
    onnx_path = export_module(module, [e.numpy() for e in examples], Path(out_dir))
    return str(onnx_path), os.path.join(out_dir, "model.pt")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("name")
    ap.add_argument("dir")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    torch.manual_seed(a.seed)
    module, example = build(a.name)
    randomise_statistics(module)
    onnx_path, pt_path = export(module, example, a.dir)
    print(onnx_path)
    print(pt_path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
