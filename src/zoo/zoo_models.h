/* The zoo's model builders, one file each; zoo.c lists them. Each adds
 * its input, layers and output to b->g; failures stay in b->rc. */
#ifndef CALMA_ZOO_MODELS_H
#define CALMA_ZOO_MODELS_H

#include "zoo/zoo_builder.h"

void zoo_simple(zb *b);
void zoo_mlp(zb *b);
void zoo_resnet18(zb *b);
void zoo_mobilenet_v2(zb *b);
void zoo_transformer(zb *b);

/* Declares the runtime input "input" / output "output" as float32 of the
 * given shape, with dims[0] replaced by the symbolic batch "N". The output
 * is the value the model's last node wrote after b->next_out = "output". */
void zoo_add_input(zb *b, int rank, const int64_t *dims);
void zoo_add_output(zb *b, int rank, const int64_t *dims);

#endif
