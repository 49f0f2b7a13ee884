/* Attribute reading shared by the op families. */
#include "ref/ref_op.h"

int ref_attr_ints(ref_call *c, const char *name, size_t want, int64_t dflt, int64_t lo, int64_t hi,
                  int64_t *dst, size_t dst_n) {
    char lab[256];
    size_t n;
    const int64_t *v = ir_node_ints(c->node, name, &n);
    if (!v) {
        for (size_t i = 0; i < want; i++) dst[dst_n - want + i] = dflt;
        return CALMA_OK;
    }
    if (n != want)
        return err_set(c->err, CALMA_E_INVALID, "%s: attribute %s has %zu values, expected %zu",
                       ir_node_label(c->node, lab, sizeof lab), name, n, want);
    for (size_t i = 0; i < n; i++) {
        if (v[i] < lo || v[i] > hi)
            return err_set(c->err, CALMA_E_INVALID, "%s: attribute %s[%zu] = %lld is out of range",
                           ir_node_label(c->node, lab, sizeof lab), name, i, (long long)v[i]);
        dst[dst_n - want + i] = v[i];
    }
    return CALMA_OK;
}
