#!/usr/bin/env bash
# Everything seqkit checks on a CUDA machine, in one run of about 9 minutes on an H200:
#   1. the module speeds (benchmarks/gpu.py), while the GPU is otherwise idle;
#   2. in the background, the transfer experiment (benchmarks/transfer.py: a forward and a
#      backward language model on WikiText-2 + SST-2's text, 6 epochs each, then 12 SST-2
#      classifiers in parallel processes: the one-way LSTM from the forward model, and a
#      BiLSTM from random weights, from the forward model, and from both);
#   3. meanwhile the `gpu` tests, and one short training of each recipe family on the GPU
#      (with no code change: only --trainer.accelerator gpu), one of them in bf16-mixed.
#
#   SEQKIT_DATA=/path/to/data OUT=/tmp/gpu bash benchmarks/on_gpu.sh
#
# ACCELERATOR=cpu PRECISION=32 TRANSFER_ARGS=--smoke runs it on a CPU, to check the script.
# SPEEDS=0 skips step 1. Each stage has its own time limit, so one that fails or hangs does
# not cost the others their output. $OUT gets gpu.log (with the gpu tests' log at its end),
# transfer.log, transfer_runs.tgz, and the two language models as compact copies
# (lm_forward.ckpt, lm_backward.ckpt: pass them to benchmarks/transfer.py --lm-ckpt and
# --lm-bwd-ckpt to train more classifiers without stage 1).
set -u
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/seqkit-gpu}
mkdir -p "$OUT"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 OMP_NUM_THREADS=1
LOG=$OUT/gpu.log
{
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
  python3 -c "import torch, lightning, pandas; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'lightning', lightning.__version__, 'pandas', pandas.__version__, torch.cuda.get_device_name())"
  echo "== 1. module speeds"
  if [ "${SPEEDS:-1}" = 1 ]; then timeout 80 python3 benchmarks/gpu.py --steps 15; else echo "   skipped (SPEEDS=0)"; fi
} >"$LOG" 2>&1

echo "== 2. transfer (background)" >>"$LOG"
(timeout 480 python3 benchmarks/transfer.py --out /tmp/transfer --jobs 12 --lm-batch-size 32 --lm-epochs 6 --settings lm,bi_random,bi_lm,bilm --export "$OUT" ${TRANSFER_ARGS:-} \
   >"$OUT/transfer.log" 2>&1; echo "transfer exit $?" >>"$OUT/transfer.log") &
TRANSFER=$!

{
  echo "== 3a. gpu tests"
  timeout 180 python3 -m pytest -q -rfE --tb=short -m gpu tests/test_gpu.py -p no:cacheprovider >"$OUT/tests.log" 2>&1
  echo "   exit $?: $(tail -1 "$OUT/tests.log")"
  echo "== 3b. one short training per recipe on the GPU"
  short="--trainer.accelerator ${ACCELERATOR:-gpu} --trainer.devices 1 --trainer.max_epochs 1 --trainer.limit_train_batches 100 --trainer.limit_val_batches 20 --trainer.enable_progress_bar false"
  for recipe in next_word/lstm_ptb_small sentiment/lstm forecasting/lstm_airline memory/adding seq2seq/dates; do
    echo "-- $recipe"
    start=$(date +%s.%N)
    timeout 90 python3 -m seqkit.cli fit -c $recipe $short \
      --trainer.default_root_dir /tmp/recipes/$recipe 2>&1 | grep -E "seqkit:|best|Error|error|Traceback" | head -12
    echo "   exit ${PIPESTATUS[0]}, $(python3 -c "import time; print(round(time.time() - $start, 1))") s"
  done
  echo "-- sentiment/lstm in bf16-mixed"
  timeout 90 python3 -m seqkit.cli fit -c sentiment/lstm $short --trainer.precision ${PRECISION:-bf16-mixed} \
    --trainer.default_root_dir /tmp/recipes/bf16 2>&1 | grep -E "seqkit:|best|Error|error|Traceback|precision" | head -12
  echo "   exit ${PIPESTATUS[0]}"
} >>"$LOG" 2>&1

wait $TRANSFER
(cd /tmp && find transfer -name metrics.csv -o -name log.txt | tar czf "$OUT/transfer_runs.tgz" -T -)
{ echo "== the gpu tests' log"; cat "$OUT/tests.log"; } >>"$LOG" && rm "$OUT/tests.log"
echo "== done" >>"$LOG"
