#!/usr/bin/env bash
# Real PyTorch exports through the XNNPACK conversion: torchvision's
# shufflenet_v2_x0_5 (channel shuffles, Slice, Concat) and a 2-layer
# nn.TransformerEncoder with GELU (Slice of the packed projection, Pow,
# ReduceMean, Erf, MatMuls of computed tensors), exported at test time with
# Debian's python3-torch (random weights; nothing is downloaded). Both must
# run on XNNPACK and validate against the oracle; XNNPACK_STRICT must be
# unsupported naming Slice. Exits 77 (skipped) without torch or XNNPACK.
# Usage: xnn_torch_exports.sh CALMA_BIN
set -euo pipefail
calma=$1
py=/usr/bin/python3
[ -x "$py" ] && "$py" -c 'import torch, torchvision' 2>/dev/null || {
  echo "skipped: /usr/bin/python3 lacks torch/torchvision (apt-get install python3-torch python3-torchvision)"
  exit 77
}
"$calma" list 2>&1 | grep -E '^XNNPACK ' | grep -q unavailable && { echo "skipped: no XNNPACK"; exit 77; }
dir=$(mktemp -d /tmp/calma-xnn-torch-XXXXXX)
trap 'rm -rf "$dir"' EXIT
"$py" - "$dir" <<'PY' 2>&1 | grep -v -i warn || true
import sys, torch, torchvision
d = sys.argv[1]
torch.manual_seed(0)
m = torchvision.models.shufflenet_v2_x0_5().eval()
torch.onnx.export(m, torch.randn(1, 3, 224, 224), d + "/shufflenet.onnx", opset_version=13,
                  input_names=["x"], output_names=["y"])
layer = torch.nn.TransformerEncoderLayer(d_model=64, nhead=4, dim_feedforward=128, dropout=0.0,
                                         activation="gelu", batch_first=True)
enc = torch.nn.TransformerEncoder(layer, num_layers=2).eval()
torch.onnx.export(enc, torch.randn(1, 16, 64), d + "/encoder.onnx", opset_version=14,
                  input_names=["x"], output_names=["y"])
PY
fail=0
for m in shufflenet encoder; do
  [ -f "$dir/$m.onnx" ] || { echo "FAIL: the $m export did not happen"; exit 1; }
  out=$("$calma" bench "$dir/$m.onnx" --conversions XNNPACK,XNNPACK_STRICT --samples 5 --verbose \
        --run-dir "$dir/run-$m" 2>&1) || { echo "$out"; echo "FAIL: calma bench $m"; exit 1; }
  echo "$out"
  echo "$out" | grep -E '^XNNPACK +1 +1 +ok .* pass$' >/dev/null || { echo "FAIL: $m did not validate on XNNPACK"; fail=1; }
  echo "$out" | grep -q "unsupported: op 'Slice'" || { echo "FAIL: XNNPACK_STRICT did not refuse $m naming Slice"; fail=1; }
  echo "$out" | grep -E 'XNNPACK-b1-t1: nodes_in_engine=[1-9][0-9]*  nodes_outside=[1-9]' >/dev/null \
    || { echo "FAIL: $m split not reported"; fail=1; }
done
exit $fail
