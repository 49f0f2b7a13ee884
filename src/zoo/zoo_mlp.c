/* mlp: fully connected layers only, the shape of an MNIST classifier. */
#include <stdio.h>

#include "zoo/zoo_models.h"

void zoo_mlp(zb *b) {
    static const int widths[4] = {784, 512, 256, 10};
    int64_t in_dims[2] = {-1, widths[0]};
    zoo_add_input(b, 2, in_dims);
    const char *x = "input";
    for (int i = 0; i < 3; i++) {
        char fc[32], relu[32];
        snprintf(fc, sizeof fc, "fc%d", i + 1);
        snprintf(relu, sizeof relu, "/relu%d/Relu", i + 1);
        if (i == 2) b->next_out = "output";
        x = zb_gemm(b, x, fc, widths[i], widths[i + 1]);
        if (i < 2) x = zb_unary(b, "Relu", relu, x);
    }
    int64_t out_dims[2] = {-1, widths[3]};
    zoo_add_output(b, 2, out_dims);
}
