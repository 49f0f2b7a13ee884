/* resnet18: torchvision.models.resnet18 layer for layer (BasicBlock, 1x1
 * conv + BN downsample), with parameter names from its state_dict, so the
 * trainable parameter count is exactly torchvision's 11,689,512. */
#include <stdio.h>

#include "zoo/zoo_models.h"

static const char *basic_block(zb *b, const char *x, const char *p, int cin, int cout, int stride) {
    char n[64], relu[64];
    snprintf(n, sizeof n, "%s.conv1", p);
    const char *y = zb_conv(b, x, n, cin, cout, 3, stride, 1, 0);
    snprintf(n, sizeof n, "%s.bn1", p);
    y = zb_bn(b, y, n, cout);
    snprintf(relu, sizeof relu, "/%s/relu/Relu", p);
    y = zb_unary(b, "Relu", relu, y);
    snprintf(n, sizeof n, "%s.conv2", p);
    y = zb_conv(b, y, n, cout, cout, 3, 1, 1, 0);
    snprintf(n, sizeof n, "%s.bn2", p);
    y = zb_bn(b, y, n, cout);
    const char *identity = x;
    if (stride != 1 || cin != cout) {
        snprintf(n, sizeof n, "%s.downsample.0", p);
        identity = zb_conv(b, x, n, cin, cout, 1, stride, 1, 0);
        snprintf(n, sizeof n, "%s.downsample.1", p);
        identity = zb_bn(b, identity, n, cout);
    }
    snprintf(n, sizeof n, "/%s/Add", p);
    y = zb_binary(b, "Add", n, y, identity);
    snprintf(relu, sizeof relu, "/%s/relu_1/Relu", p);
    return zb_unary(b, "Relu", relu, y);
}

void zoo_resnet18(zb *b) {
    int64_t in_dims[4] = {-1, 3, 224, 224};
    zoo_add_input(b, 4, in_dims);
    const char *x = zb_conv(b, "input", "conv1", 3, 64, 7, 2, 1, 0);
    x = zb_bn(b, x, "bn1", 64);
    x = zb_unary(b, "Relu", "/relu/Relu", x);
    ir_node *pool = zb_node(b, "MaxPool", "/maxpool/MaxPool", 1, &x);
    int64_t k[2] = {3, 3}, s[2] = {2, 2}, pads[4] = {1, 1, 1, 1};
    zb_int(b, pool, "ceil_mode", 0);
    zb_ints(b, pool, "kernel_shape", k, 2);
    zb_ints(b, pool, "pads", pads, 4);
    zb_ints(b, pool, "strides", s, 2);
    const char *before = x;
    x = zb_out(b, pool);
    zb_copy_moments(b, before, x);
    int cin = 64;
    for (int layer = 0; layer < 4; layer++) {
        int cout = 64 << layer;
        for (int blk = 0; blk < 2; blk++) {
            char p[32];
            snprintf(p, sizeof p, "layer%d.%d", layer + 1, blk);
            x = basic_block(b, x, p, cin, cout, blk == 0 && layer > 0 ? 2 : 1);
            cin = cout;
        }
    }
    x = zb_unary(b, "GlobalAveragePool", "/avgpool/GlobalAveragePool", x);
    ir_node *flat = zb_node(b, "Flatten", "/Flatten", 1, &x);
    zb_int(b, flat, "axis", 1);
    x = zb_out(b, flat);
    b->next_out = "output";
    zb_gemm(b, x, "fc", 512, 1000);
    int64_t out_dims[2] = {-1, 1000};
    zoo_add_output(b, 2, out_dims);
}
