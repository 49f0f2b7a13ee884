/* mobilenet_v2: torchvision.models.mobilenet_v2 (width 1.0): inverted
 * residual blocks with depthwise 3x3 convolutions (group = channels),
 * ReLU6 exported as Clip(0, 6), linear bottlenecks, and the classifier
 * without its (inference-time no-op) Dropout: 3,504,872 parameters. */
#include <stdio.h>

#include "zoo/zoo_models.h"

/* Conv2dNormActivation: conv (no bias), BN, optional ReLU6. */
static const char *conv_bn(zb *b, const char *x, const char *p, int cin, int cout, int k,
                           int stride, int group, int relu6) {
    char n[96]; /* p is at most 63 characters */
    snprintf(n, sizeof n, "%s.0", p);
    x = zb_conv(b, x, n, cin, cout, k, stride, group, 0);
    snprintf(n, sizeof n, "%s.1", p);
    x = zb_bn(b, x, n, cout);
    if (!relu6) return x;
    snprintf(n, sizeof n, "/%s.2/Clip", p);
    return zb_relu6(b, n, x);
}

static const char *inverted_residual(zb *b, const char *x, int index, int cin, int cout, int stride,
                                     int expand) {
    int hidden = cin * expand, layer = 0;
    char p[64];
    const char *y = x;
    if (expand != 1) {
        snprintf(p, sizeof p, "features.%d.conv.%d", index, layer++);
        y = conv_bn(b, y, p, cin, hidden, 1, 1, 1, 1);
    }
    snprintf(p, sizeof p, "features.%d.conv.%d", index, layer++);
    y = conv_bn(b, y, p, hidden, hidden, 3, stride, hidden, 1);
    /* torchvision names the projection conv and its BN conv.N and conv.N+1. */
    snprintf(p, sizeof p, "features.%d.conv.%d", index, layer);
    y = zb_conv(b, y, p, hidden, cout, 1, 1, 1, 0);
    snprintf(p, sizeof p, "features.%d.conv.%d", index, layer + 1);
    y = zb_bn(b, y, p, cout);
    if (stride == 1 && cin == cout) {
        snprintf(p, sizeof p, "/features.%d/Add", index);
        y = zb_binary(b, "Add", p, x, y);
    }
    return y;
}

void zoo_mobilenet_v2(zb *b) {
    /* expansion t, output channels c, repeats n, first stride s */
    static const int settings[7][4] = {{1, 16, 1, 1}, {6, 24, 2, 2},  {6, 32, 3, 2}, {6, 64, 4, 2},
                                       {6, 96, 3, 1}, {6, 160, 3, 2}, {6, 320, 1, 1}};
    int64_t in_dims[4] = {-1, 3, 224, 224};
    zoo_add_input(b, 4, in_dims);
    const char *x = conv_bn(b, "input", "features.0", 3, 32, 3, 2, 1, 1);
    int cin = 32, index = 1;
    for (int s = 0; s < 7; s++) {
        for (int r = 0; r < settings[s][2]; r++) {
            int stride = r == 0 ? settings[s][3] : 1;
            x = inverted_residual(b, x, index++, cin, settings[s][1], stride, settings[s][0]);
            cin = settings[s][1];
        }
    }
    char p[32];
    snprintf(p, sizeof p, "features.%d", index);
    x = conv_bn(b, x, p, cin, 1280, 1, 1, 1, 1);
    x = zb_unary(b, "GlobalAveragePool", "/GlobalAveragePool", x);
    ir_node *flat = zb_node(b, "Flatten", "/Flatten", 1, &x);
    zb_int(b, flat, "axis", 1);
    x = zb_out(b, flat);
    b->next_out = "output";
    zb_gemm(b, x, "classifier.1", 1280, 1000);
    int64_t out_dims[2] = {-1, 1000};
    zoo_add_output(b, 2, out_dims);
}
