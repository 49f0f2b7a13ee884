#!/usr/bin/env bash
# Seeds for the fuzz targets, generated (never committed):
#   make_corpus.sh CALMA OUT SOURCE_DIR
# onnx: built-in models (calma zoo) and the ONNX test data's small models;
# tensor_pb: the test data's input and output tensors; npy: NumPy's files
# of every dtype calma reads and some it refuses, and calma's own; report:
# the test suite's run folders and a report.json; options: flag lines.
set -euo pipefail
calma=$1 out=$2 src=$3
data=/usr/share/libonnx-testdata/data
rm -rf "$out"
mkdir -p "$out"/{onnx,npy,tensor_pb,report,options}

for m in simple transformer; do "$calma" zoo "$m" -o "$out/onnx/zoo-$m.onnx" >/dev/null; done
py=python3
[ -x /usr/bin/python3 ] && py=/usr/bin/python3 # Debian's, with NumPy
# One process copies the ONNX test data's small files (thousands of them).
"$py" - "$data" "$out" <<'PY'
import glob, os, shutil, sys
data, out = sys.argv[1], sys.argv[2]
for d in ["node", "simple", "pytorch-operator"]:
    for f in glob.glob(f"{data}/{d}/*/model.onnx"):
        if os.path.getsize(f) <= 65536:
            shutil.copyfile(f, f"{out}/onnx/{os.path.basename(os.path.dirname(f))}.onnx")
for f in glob.glob(f"{data}/node/*/test_data_set_0/*_0.pb"):
    if os.path.getsize(f) <= 16384:
        case = os.path.basename(os.path.dirname(os.path.dirname(f)))
        shutil.copyfile(f, f"{out}/tensor_pb/{case}-{os.path.basename(f)}")
PY

"$calma" zoo simple -o "$out/simple.onnx" >/dev/null
"$calma" run "$out/simple.onnx" --output "$out/npy/calma-output.npy" >/dev/null
rm -f "$out/simple.onnx"
if "$py" -c 'import numpy' 2>/dev/null; then
    "$py" - "$out/npy" <<'PY'
import sys
import numpy as np
out = sys.argv[1]
shapes = [(), (3,), (2, 3), (1, 2, 2, 2), (0, 4)]
for dt in ["<f4", "<f8", "<f2", "|i1", "<i2", "<i4", "<i8", "|u1", "<u2", "<u4", "<u8", "|b1"]:
    for i, s in enumerate(shapes):
        a = (np.arange(int(np.prod(s))) % 7).astype(dt).reshape(s)
        np.save(f"{out}/{dt[1:]}-{i}.npy", a)
a = np.arange(6, dtype="<f4").reshape(2, 3)
for v in [(2, 0), (3, 0)]:
    with open(f"{out}/v{v[0]}.npy", "wb") as f:
        np.lib.format.write_array(f, a, version=v)
np.save(f"{out}/fortran.npy", np.asfortranarray(a))
np.save(f"{out}/big-endian.npy", a.astype(">f4"))
np.save(f"{out}/objects.npy", np.array([1, "x"], dtype=object), allow_pickle=True)
np.save(f"{out}/structured.npy", np.zeros(2, dtype=[("a", "<f4"), ("b", "<i4")]))
PY
fi

for d in "$src"/tests/data/run-*; do
    { printf '\001'; cat "$d/plan.json"; printf '\000'; cat "$d/journal.jsonl"; } \
        >"$out/report/$(basename "$d")"
done
{ printf '\000'; "$calma" report "$src/tests/data/run-golden" --format json; } \
    >"$out/report/report-golden.json"

opt() { printf '%s\n' "$@" >"$out/options/$1$#"; }
opt --batch 1,8 --threads 1,2 --max-time 5s --min-time 500ms --precision 1%
opt --memory-limit 4G --max-procs 4096 --timeout 5m --load-timeout 2m
opt --samples 100 --repeats 3 --seed 42 --atol 1e-4 --rtol 1e-3
opt --tier 2 --options spin=1,ort.log=warning,fault.sleep_us=10 --baseline ORT_CPU
opt --conversions REFERENCE,ORT_CPU,XNNPACK --input x=in.npy --expected y=out.pb
opt model.onnx --inputs-dir dir --expected-dir dir --output r.json --wide --strict --quiet
opt --resume run --output r.json
opt --memory-limit=512M --timeout=90s --batch=1,2,4,8,16,32,64 --threads=1 --help
echo "fuzz seeds in $out: $(for t in onnx npy tensor_pb report options; do
    printf '%s %s  ' "$t" "$(ls "$out/$t" | wc -l)"; done)"
