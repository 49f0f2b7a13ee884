/* convert(): the arena, the memory objects, the constants in their chosen
 * layouts, and the primitives (oneDNN generates its kernels here). */
#include <stdlib.h>
#include <string.h>

#include "backends/onednn/onednn_internal.h"

#define DNNLBE_ALIGN 64

typedef struct slot {
    size_t bytes;
    int busy_until; /* last step of the buffer placed in it last */
} slot;

/* Buffers whose step intervals do not overlap share a slot: best fit among
 * the free slots, else the largest free one grown, else a new slot. */
static int plan_arena(dnnlbe_state *s, int *slot_of, slot **out, int *n_out, calma_error *e) {
    slot *sl = calloc((size_t)s->n_bufs + 1, sizeof *sl);
    int *order = malloc(((size_t)s->n_bufs + 1) * sizeof *order);
    int n = 0, ns = 0;
    if (!sl || !order) {
        free(sl);
        free(order);
        return err_set(e, CALMA_E_NOMEM, "out of memory planning the arena");
    }
    for (int b = 0; b < s->n_bufs; b++) {
        slot_of[b] = -1;
        if (s->bufs[b].kind == DNNLBE_BUF_ARENA && s->bufs[b].first >= 0) order[n++] = b;
    }
    /* by first use (insertion sort: buffers are created nearly in order) */
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && s->bufs[order[j]].first < s->bufs[order[j - 1]].first; j--) {
            int t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    for (int i = 0; i < n; i++) {
        const dnnlbe_buf *b = &s->bufs[order[i]];
        int best = -1, largest = -1;
        for (int k = 0; k < ns; k++) {
            if (sl[k].busy_until >= b->first) continue;
            if (sl[k].bytes >= b->bytes && (best < 0 || sl[k].bytes < sl[best].bytes)) best = k;
            if (largest < 0 || sl[k].bytes > sl[largest].bytes) largest = k;
        }
        int k = best >= 0 ? best : largest >= 0 ? largest : ns++;
        if (sl[k].bytes < b->bytes) sl[k].bytes = b->bytes;
        sl[k].busy_until = b->last;
        slot_of[order[i]] = k;
    }
    free(order);
    *out = sl;
    *n_out = ns;
    return CALMA_OK;
}

static void *aligned(size_t bytes) {
    void *p = NULL;
    size_t n = (bytes + DNNLBE_ALIGN - 1) / DNNLBE_ALIGN * DNNLBE_ALIGN;
    if (posix_memalign(&p, DNNLBE_ALIGN, n ? n : DNNLBE_ALIGN)) return NULL;
    return p;
}

static int allocate(dnnlbe_state *s, calma_error *e) {
    int *slot_of = malloc(((size_t)s->n_bufs + 1) * sizeof *slot_of);
    slot *sl = NULL;
    int ns = 0;
    if (!slot_of) return err_set(e, CALMA_E_NOMEM, "out of memory");
    int rc = plan_arena(s, slot_of, &sl, &ns, e);
    if (rc) {
        free(slot_of);
        return rc;
    }
    s->slots = calloc((size_t)ns + 1, sizeof *s->slots);
    if (!s->slots) rc = err_set(e, CALMA_E_NOMEM, "out of memory");
    for (int k = 0; !rc && k < ns; k++) {
        s->slots[k] = aligned(sl[k].bytes);
        if (!s->slots[k])
            rc = err_set(e, CALMA_E_NOMEM, "out of memory for %zu bytes of activations",
                         sl[k].bytes);
        else
            s->n_slots = k + 1;
    }
    for (int b = 0; !rc && b < s->n_bufs; b++) {
        dnnlbe_buf *buf = &s->bufs[b];
        if (buf->kind == DNNLBE_BUF_ARENA) {
            buf->data = slot_of[b] >= 0 ? s->slots[slot_of[b]] : NULL;
        } else if (buf->kind == DNNLBE_BUF_OWNED && buf->bytes) {
            buf->data = aligned(buf->bytes);
            if (!buf->data)
                rc =
                    err_set(e, CALMA_E_NOMEM, "out of memory for %zu bytes of weights", buf->bytes);
        }
    }
    free(slot_of);
    free(sl);
    return rc;
}

static int check(dnnl_status_t st, const char *what, calma_error *e) {
    if (st == dnnl_success) return CALMA_OK;
    return err_set(e, st == dnnl_out_of_memory ? CALMA_E_NOMEM : CALMA_E_INTERNAL,
                   "oneDNN %s failed: %s", what, dnnlbe_status_name(st));
}

static int create_memories(dnnlbe_state *s, calma_error *e) {
    for (int i = 0; i < s->n_mems; i++) {
        dnnlbe_mem *m = &s->mems[i];
        void *h = s->bufs[m->buf].data;
        int rc = check(dnnl_memory_create(&m->mem, &m->md, s->engine, h ? h : DNNL_MEMORY_NONE),
                       "memory creation", e);
        if (rc) {
            m->mem = NULL;
            return rc;
        }
    }
    return CALMA_OK;
}

/* Each constant, once, into the layout its primitive chose. */
static int load_consts(dnnlbe_state *s, calma_error *e) {
    for (int i = 0; i < s->n_consts; i++) {
        dnnlbe_const *k = &s->consts[i];
        dnnlbe_mem *dst = &s->mems[k->mem];
        if (dnnl_memory_desc_equal(&k->src_md, &dst->md)) {
            memcpy(s->bufs[dst->buf].data, k->src, dnnl_memory_desc_get_size(&k->src_md));
            continue;
        }
        dnnl_memory_t src = NULL;
        dnnl_primitive_desc_t pd = NULL;
        dnnl_primitive_t prim = NULL;
        int rc = check(dnnl_memory_create(&src, &k->src_md, s->engine, (void *)k->src),
                       "memory creation", e);
        if (!rc)
            rc = check(dnnl_reorder_primitive_desc_create(&pd, &k->src_md, s->engine, &dst->md,
                                                          s->engine, NULL),
                       "weights reorder", e);
        if (!rc) rc = check(dnnl_primitive_create(&prim, pd), "weights reorder", e);
        if (!rc) {
            dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, src}, {DNNL_ARG_TO, dst->mem}};
            rc = check(dnnl_primitive_execute(prim, s->stream, 2, args), "weights reorder", e);
        }
        if (!rc) rc = check(dnnl_stream_wait(s->stream), "weights reorder", e);
        if (prim) dnnl_primitive_destroy(prim);
        if (pd) dnnl_primitive_desc_destroy(pd);
        if (src) dnnl_memory_destroy(src);
        if (rc) return rc;
    }
    /* The backend's own copies (folded, transposed) are not needed again. */
    for (int i = 0; i < s->n_consts; i++) {
        free(s->consts[i].owned);
        s->consts[i].owned = NULL;
        s->consts[i].src = NULL;
    }
    return CALMA_OK;
}

static int create_primitives(dnnlbe_state *s, calma_error *e) {
    for (int i = 0; i < s->n_steps; i++) {
        dnnlbe_step *st = &s->steps[i];
        int rc = check(dnnl_primitive_create(&st->prim, st->pd), "primitive creation", e);
        if (rc) {
            st->prim = NULL;
            return rc;
        }
        for (int a = 0; a < st->n_args; a++) {
            st->exec[a].arg = st->arg[a];
            st->exec[a].memory = s->mems[st->mem[a]].mem;
        }
    }
    return CALMA_OK;
}

int dnnlbe_materialize(dnnlbe_state *s, calma_error *e) {
    int rc = check(dnnl_stream_create(&s->stream, s->engine, dnnl_stream_default_flags),
                   "stream creation", e);
    if (rc) {
        s->stream = NULL;
        return rc;
    }
    rc = allocate(s, e);
    if (!rc) rc = create_memories(s, e);
    if (!rc) rc = load_consts(s, e);
    if (!rc) dnnlbe_free_folded(s);
    if (!rc) rc = create_primitives(s, e);
    return rc;
}

void dnnlbe_free_folded(dnnlbe_state *s) {
    for (int v = 0; v < s->n_folded; v++) ir_tensor_free(&s->folded[v]);
    free(s->folded);
    s->folded = NULL;
    s->n_folded = 0;
}
