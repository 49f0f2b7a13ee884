/* worker_: one trial in its own process (`calma worker`, started by the
 * supervisor). Loads the model, fixes the batch, allocates inputs once,
 * times load, convert, the first inference, validation against the oracle,
 * warm-up and adaptive sampling, and reports JSON lines on the protocol fd
 * (CALMA_PROTOCOL_FD; stdout when unset):
 *   {"event":"phase","phase":"load"}            probe, load, convert, first,
 *                                               validate, warmup, measure
 *   {"event":"progress","phase":"measure","n":120,"elapsed":0.4}
 *   {"event":"result","status":"ok","message":"",...}   exactly once, last
 * Inputs come from --input NAME=FILE where given, else from gen_fill (seed,
 * input index, sample 0). With --oracle it runs REFERENCE on the validation inputs and writes the
 * outputs to RUN_DIR/oracle/b<batch>/output_<k>.npy (.pb for bfloat16, which
 * .npy cannot spell) instead of measuring. */
#ifndef CALMA_BENCH_WORKER_H
#define CALMA_BENCH_WORKER_H

#include <stdint.h>

#include "calma/calma.h"

/* Where the oracle's outputs for a batch size live. */
void worker_oracle_dir(const char *run_dir, int64_t batch, char *buf, unsigned n);

/* Reads an input file: an ONNX TensorProto when path ends in .pb, else .npy. */
struct ir_tensor;
int worker_read_input(const char *path, struct ir_tensor *out, calma_error *e);

/* `calma worker` (argv[0] is "worker"). Returns the process exit status:
 * 0 once a result line was sent, 2 on bad arguments, 1 when the protocol
 * pipe is gone. */
int worker_main(int argc, char **argv);

#endif
