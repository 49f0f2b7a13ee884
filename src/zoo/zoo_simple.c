/* simple: calma's default model, small enough that the oracle runs it in a
 * few tens of milliseconds yet with the layers every CNN engine optimises. */
#include <stdio.h>

#include "zoo/zoo_models.h"

void zoo_simple(zb *b) {
    int64_t in_dims[4] = {-1, 3, 224, 224};
    zoo_add_input(b, 4, in_dims);
    const char *x = "input";
    int cin = 3;
    static const int widths[3] = {8, 16, 32};
    for (int i = 0; i < 3; i++) {
        char conv[32], bn[32], relu[32];
        snprintf(conv, sizeof conv, "features.%d.conv", i);
        snprintf(bn, sizeof bn, "features.%d.bn", i);
        snprintf(relu, sizeof relu, "/features.%d/Relu", i);
        x = zb_conv(b, x, conv, cin, widths[i], 3, 2, 1, 0);
        x = zb_bn(b, x, bn, widths[i]);
        x = zb_unary(b, "Relu", relu, x);
        cin = widths[i];
    }
    const char *in[1] = {x};
    ir_node *pool = zb_node(b, "MaxPool", "/pool/MaxPool", 1, in);
    int64_t k[2] = {2, 2}, pads[4] = {0, 0, 0, 0};
    zb_ints(b, pool, "kernel_shape", k, 2);
    zb_ints(b, pool, "pads", pads, 4);
    zb_ints(b, pool, "strides", k, 2);
    x = zb_out(b, pool);
    x = zb_unary(b, "GlobalAveragePool", "/avgpool/GlobalAveragePool", x);
    ir_node *flat = zb_node(b, "Flatten", "/Flatten", 1, &x);
    zb_int(b, flat, "axis", 1);
    x = zb_out(b, flat);
    b->next_out = "output";
    zb_gemm(b, x, "fc", cin, 10);
    int64_t out_dims[2] = {-1, 10};
    zoo_add_output(b, 2, out_dims);
}
