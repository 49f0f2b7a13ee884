/* Memory descriptors, buffers, memories and steps: the bookkeeping every op
 * function uses. Nothing here allocates tensor memory: convert does. */
#include <stdlib.h>
#include <string.h>

#include "backends/onednn/onednn_internal.h"
#include "util/mem.h"

static int md_dims(dnnlbe_ctx *c, int node, int rank, const int64_t *dims, dnnl_dims_t out) {
    if (rank > DNNL_MAX_NDIMS)
        return dnnlbe_unsupported(c, node, "a tensor of rank %d; oneDNN takes at most %d", rank,
                                  DNNL_MAX_NDIMS);
    if (rank == 0) {
        out[0] = 1;
        return 1;
    }
    for (int d = 0; d < rank; d++) {
        if (dims[d] <= 0)
            return dnnlbe_fail(c, node, dims[d] ? CALMA_E_INVALID : CALMA_E_UNSUPPORTED,
                               "a tensor with dimension %d of size %lld (oneDNN needs non-empty "
                               "shapes)",
                               d, (long long)dims[d]);
        out[d] = dims[d];
    }
    return rank;
}

int dnnlbe_plain_md(dnnlbe_ctx *c, int node, int rank, const int64_t *dims, dnnl_data_type_t dt,
                    dnnl_memory_desc_t *md) {
    dnnl_dims_t d, strides;
    int nd = md_dims(c, node, rank, dims, d);
    if (nd < 0) return c->e->status;
    dnnl_dim_t s = 1;
    for (int i = nd - 1; i >= 0; i--) {
        strides[i] = s;
        s *= d[i];
    }
    return dnnlbe_check(c, node, dnnl_memory_desc_init_by_strides(md, nd, d, dt, strides),
                        "memory descriptor");
}

int dnnlbe_any_md(dnnlbe_ctx *c, int node, int rank, const int64_t *dims, dnnl_data_type_t dt,
                  dnnl_memory_desc_t *md) {
    dnnl_dims_t d;
    int nd = md_dims(c, node, rank, dims, d);
    if (nd < 0) return c->e->status;
    return dnnlbe_check(c, node, dnnl_memory_desc_init_by_tag(md, nd, d, dt, dnnl_format_tag_any),
                        "memory descriptor");
}

int dnnlbe_md_is_plain(const dnnl_memory_desc_t *md) {
    if (md->format_kind != dnnl_blocked || md->format_desc.blocking.inner_nblks) return 0;
    dnnl_dim_t s = 1;
    for (int i = md->ndims - 1; i >= 0; i--) {
        if (md->padded_dims[i] != md->dims[i] || md->padded_offsets[i]) return 0;
        if (md->dims[i] != 1 && md->format_desc.blocking.strides[i] != s) return 0;
        s *= md->dims[i];
    }
    return md->offset0 == 0;
}

int dnnlbe_new_buf(dnnlbe_ctx *c, dnnlbe_buf_kind kind, size_t bytes) {
    dnnlbe_state *s = c->s;
    if (mem_grow((void **)&s->bufs, &s->cap_bufs, s->n_bufs + 1, sizeof *s->bufs)) {
        err_set(c->e, CALMA_E_NOMEM, "out of memory");
        return -1;
    }
    dnnlbe_buf *b = &s->bufs[s->n_bufs];
    memset(b, 0, sizeof *b);
    b->kind = kind;
    b->bytes = bytes;
    b->first = b->last = -1;
    return s->n_bufs++;
}

int dnnlbe_new_mem(dnnlbe_ctx *c, const dnnl_memory_desc_t *md_in, int buf) {
    dnnlbe_state *s = c->s;
    dnnl_memory_desc_t copy = *md_in; /* md_in may point into s->mems, which may move */
    const dnnl_memory_desc_t *md = &copy;
    if (mem_grow((void **)&s->mems, &s->cap_mems, s->n_mems + 1, sizeof *s->mems)) {
        err_set(c->e, CALMA_E_NOMEM, "out of memory");
        return -1;
    }
    dnnlbe_mem *m = &s->mems[s->n_mems];
    memset(m, 0, sizeof *m);
    m->md = *md;
    m->buf = buf;
    size_t need = dnnl_memory_desc_get_size(md);
    if (need > s->bufs[buf].bytes) s->bufs[buf].bytes = need;
    return s->n_mems++;
}

int dnnlbe_new_act(dnnlbe_ctx *c, const dnnl_memory_desc_t *md) {
    int b = dnnlbe_new_buf(c, DNNLBE_BUF_ARENA, dnnl_memory_desc_get_size(md));
    return b < 0 ? -1 : dnnlbe_new_mem(c, md, b);
}

int dnnlbe_bind(dnnlbe_ctx *c, int v, int mem) {
    dnnlbe_buf *b = &c->s->bufs[c->s->mems[mem].buf];
    if (mem_grow((void **)&b->vals, &b->cap_vals, b->n_vals + 1, sizeof *b->vals))
        return err_set(c->e, CALMA_E_NOMEM, "out of memory");
    b->vals[b->n_vals++] = v;
    c->vals[v].mem = mem;
    c->vals[v].alt_mem = -1;
    return CALMA_OK;
}

dnnl_status_t dnnlbe_pd(dnnlbe_ctx *c, const void *op_desc, dnnl_primitive_attr_t attr,
                        dnnl_primitive_desc_t *pd) {
    *pd = NULL;
    dnnl_status_t st =
        dnnl_primitive_desc_create(pd, op_desc, attr ? attr : c->s->attr, c->s->engine, NULL);
    if (st != dnnl_success) *pd = NULL;
    return st;
}

const dnnl_memory_desc_t *dnnlbe_pd_md(dnnl_primitive_desc_t pd, dnnl_query_t what, int index) {
    return dnnl_primitive_desc_query_md(pd, what, index);
}

static void touch(dnnlbe_state *s, int mem, int step) {
    dnnlbe_buf *b = &s->bufs[s->mems[mem].buf];
    if (b->first < 0 || step < b->first) b->first = step;
    if (step > b->last) b->last = step;
}

int dnnlbe_add_step(dnnlbe_ctx *c, int node, dnnl_primitive_desc_t pd, int n, const int *args,
                    const int *mems) {
    dnnlbe_state *s = c->s;
    if (n + 1 > DNNLBE_MAX_ARGS ||
        mem_grow((void **)&s->steps, &s->cap_steps, s->n_steps + 1, sizeof *s->steps)) {
        dnnl_primitive_desc_destroy(pd);
        return n + 1 > DNNLBE_MAX_ARGS
                   ? dnnlbe_fail(c, node, CALMA_E_INTERNAL, "a step with %d arguments", n)
                   : err_set(c->e, CALMA_E_NOMEM, "out of memory");
    }
    dnnlbe_step *st = &s->steps[s->n_steps];
    memset(st, 0, sizeof *st);
    st->node = node;
    st->pd = pd;
    for (int i = 0; i < n; i++) {
        st->arg[i] = args[i];
        st->mem[i] = mems[i];
        touch(s, mems[i], s->n_steps);
    }
    st->n_args = n;
    /* One scratchpad, as large as the largest any step asks for: the
     * steps run one after another. */
    const dnnl_memory_desc_t *sp = dnnlbe_pd_md(pd, dnnl_query_scratchpad_md, 0);
    if (sp && dnnl_memory_desc_get_size(sp) > 0) {
        int m = dnnlbe_new_mem(c, sp, s->scratch_buf);
        if (m < 0) {
            dnnl_primitive_desc_destroy(pd);
            return c->e->status;
        }
        st->arg[st->n_args] = DNNL_ARG_SCRATCHPAD;
        st->mem[st->n_args++] = m;
    }
    s->n_steps++;
    return CALMA_OK;
}

/* attr for a reorder from values of scale s_src to values of scale s_dst
 * (0: real values): NULL when no scaling is needed. */
static int reorder_attr(dnnlbe_ctx *c, int node, float s_src, float s_dst,
                        dnnl_primitive_attr_t *attr) {
    *attr = NULL;
    float k = (s_src > 0 ? s_src : 1.0f) / (s_dst > 0 ? s_dst : 1.0f);
    if (k == 1.0f) return CALMA_OK;
    int rc = dnnlbe_check(c, node, dnnl_primitive_attr_create(attr), "attributes");
    if (!rc)
        rc = dnnlbe_check(c, node,
                          dnnl_primitive_attr_set_scratchpad_mode(*attr, dnnl_scratchpad_mode_user),
                          "scratchpad mode");
    if (!rc)
        rc = dnnlbe_check(c, node, dnnl_primitive_attr_set_output_scales(*attr, 1, 0, &k),
                          "reorder scale");
    if (rc && *attr) {
        dnnl_primitive_attr_destroy(*attr);
        *attr = NULL;
    }
    return rc;
}

int dnnlbe_bind_view(dnnlbe_ctx *c, int node, int y, int mem) {
    const dnnlbe_val *yv = &c->vals[y];
    const dnnl_memory_desc_t *md = &c->s->mems[mem].md;
    int same = md->ndims == yv->rank;
    for (int d = 0; same && d < yv->rank; d++)
        if (md->dims[d] != yv->dims[d]) same = 0;
    int rc = same ? CALMA_OK : dnnlbe_view(c, node, mem, yv->rank, yv->dims, &mem);
    return rc ? rc : dnnlbe_bind(c, y, mem);
}

int dnnlbe_emit(dnnlbe_ctx *c, int node, dnnl_primitive_desc_t pd, int n, int *args, int *mems,
                float scale, int y) {
    int dm = dnnlbe_new_act(c, dnnlbe_pd_md(pd, dnnl_query_dst_md, 0));
    if (dm < 0) {
        dnnl_primitive_desc_destroy(pd);
        return c->e->status;
    }
    c->s->mems[dm].scale = scale;
    args[n] = DNNL_ARG_DST;
    mems[n] = dm;
    int rc = dnnlbe_add_step(c, node, pd, n + 1, args, mems);
    return rc ? rc : dnnlbe_bind_view(c, node, y, dm);
}

int dnnlbe_reorder(dnnlbe_ctx *c, int node, int src, const dnnl_memory_desc_t *dst_md_in,
                   float dst_scale, int *out) {
    dnnl_memory_desc_t dst_md = *dst_md_in;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_primitive_desc_t pd = NULL;
    int is_int8 = dst_md.data_type == dnnl_u8 || dst_md.data_type == dnnl_s8;
    if (is_int8 && !(dst_scale > 0))
        return dnnlbe_fail(c, node, CALMA_E_INTERNAL, "an int8 reorder without a scale");
    int rc = reorder_attr(c, node, c->s->mems[src].scale, is_int8 ? dst_scale : 0.0f, &attr);
    if (rc) return rc;
    dnnl_status_t st = dnnl_reorder_primitive_desc_create(
        &pd, &c->s->mems[src].md, c->s->engine, &dst_md, c->s->engine, attr ? attr : c->s->attr);
    if (attr) dnnl_primitive_attr_destroy(attr);
    rc = dnnlbe_check(c, node, st, "reorder between these layouts");
    if (rc) return rc;
    int dst = dnnlbe_new_act(c, &dst_md);
    if (dst < 0) {
        dnnl_primitive_desc_destroy(pd);
        return c->e->status;
    }
    c->s->mems[dst].scale = is_int8 ? dst_scale : 0.0f;
    rc = dnnlbe_add_step(c, node, pd, 2, (const int[]){DNNL_ARG_FROM, DNNL_ARG_TO},
                         (const int[]){src, dst});
    if (rc) return rc;
    *out = dst;
    return CALMA_OK;
}

int dnnlbe_as(dnnlbe_ctx *c, int node, int v, const dnnl_memory_desc_t *want, int *out) {
    if (want->data_type == dnnl_u8 || want->data_type == dnnl_s8)
        return dnnlbe_fail(c, node, CALMA_E_INTERNAL, "as() asked for int8 without a scale");
    int m;
    int rc = dnnlbe_value_mem(c, node, v, &m);
    if (rc) return rc;
    dnnlbe_val *x = &c->vals[v];
    if (dnnl_memory_desc_equal(&c->s->mems[m].md, want)) {
        *out = m;
        return CALMA_OK;
    }
    if (x->alt_mem >= 0 && dnnl_memory_desc_equal(&c->s->mems[x->alt_mem].md, want)) {
        *out = x->alt_mem;
        return CALMA_OK;
    }
    rc = dnnlbe_reorder(c, node, m, want, 0.0f, out);
    if (rc) return rc;
    x->alt_mem = *out;
    return CALMA_OK;
}

int dnnlbe_as_q(dnnlbe_ctx *c, int node, int v, const dnnl_memory_desc_t *want, float scale,
                int *out) {
    int m;
    int rc = dnnlbe_value_mem_raw(c, node, v, &m);
    if (rc) return rc;
    dnnlbe_val *x = &c->vals[v];
    const dnnlbe_mem *mm = &c->s->mems[m];
    if (mm->scale == scale && dnnl_memory_desc_equal(&mm->md, want)) {
        *out = m;
        return CALMA_OK;
    }
    if (x->q_mem >= 0 && c->s->mems[x->q_mem].scale == scale &&
        dnnl_memory_desc_equal(&c->s->mems[x->q_mem].md, want)) {
        *out = x->q_mem;
        return CALMA_OK;
    }
    rc = dnnlbe_reorder(c, node, m, want, scale, out);
    if (rc) return rc;
    x->q_mem = *out;
    return CALMA_OK;
}

int dnnlbe_as_plain(dnnlbe_ctx *c, int node, int v, dnnl_data_type_t dt, int *out) {
    int m, quant = dt == dnnl_u8 || dt == dnnl_s8;
    int rc = quant ? dnnlbe_value_mem_raw(c, node, v, &m) : dnnlbe_value_mem(c, node, v, &m);
    if (rc) return rc;
    const dnnl_memory_desc_t *md = &c->s->mems[m].md;
    float scale = c->s->mems[m].scale;
    if (quant && !(scale > 0))
        return dnnlbe_fail(c, node, CALMA_E_INTERNAL, "a plain int8 copy of a float value");
    if (md->data_type == dt && dnnlbe_md_is_plain(md)) {
        *out = m;
        return CALMA_OK;
    }
    int64_t dims[DNNL_MAX_NDIMS];
    for (int d = 0; d < md->ndims; d++) dims[d] = md->dims[d];
    dnnl_memory_desc_t want;
    rc = dnnlbe_plain_md(c, node, md->ndims, dims, dt, &want);
    if (rc) return rc;
    return quant ? dnnlbe_as_q(c, node, v, &want, scale, out) : dnnlbe_as(c, node, v, &want, out);
}

int dnnlbe_view(dnnlbe_ctx *c, int node, int src, int rank, const int64_t *dims, int *out) {
    const dnnl_memory_desc_t *smd = &c->s->mems[src].md;
    dnnl_memory_desc_t md;
    int rc = dnnlbe_plain_md(c, node, rank, dims, smd->data_type, &md);
    if (rc) return rc;
    if (!dnnlbe_md_is_plain(smd) ||
        dnnl_memory_desc_get_size(&md) != dnnl_memory_desc_get_size(smd))
        return dnnlbe_fail(c, node, CALMA_E_INTERNAL, "a view of %zu bytes over %zu bytes",
                           dnnl_memory_desc_get_size(&md), dnnl_memory_desc_get_size(smd));
    *out = dnnlbe_new_mem(c, &md, c->s->mems[src].buf);
    if (*out < 0) return c->e->status;
    c->s->mems[*out].scale = c->s->mems[src].scale;
    return CALMA_OK;
}

int dnnlbe_const_mem_dt(dnnlbe_ctx *c, int node, const dnnl_memory_desc_t *want, int rank,
                        const int64_t *dims, dnnl_data_type_t dt, const void *data, void *owned,
                        int *out) {
    dnnlbe_state *s = c->s;
    dnnlbe_const k;
    memset(&k, 0, sizeof k);
    k.src = data;
    k.owned = owned;
    int rc = dnnlbe_plain_md(c, node, rank, dims, dt, &k.src_md);
    if (!rc && mem_grow((void **)&s->consts, &s->cap_consts, s->n_consts + 1, sizeof *s->consts))
        rc = err_set(c->e, CALMA_E_NOMEM, "out of memory");
    if (rc) {
        free(owned);
        return rc;
    }
    /* Registered first, so that it is freed with the state whatever fails next. */
    s->consts[s->n_consts++] = k;
    int b = dnnlbe_new_buf(c, DNNLBE_BUF_OWNED, dnnl_memory_desc_get_size(want));
    int m = b < 0 ? -1 : dnnlbe_new_mem(c, want, b);
    if (m < 0) return c->e->status;
    s->consts[s->n_consts - 1].mem = m;
    *out = m;
    return CALMA_OK;
}

int dnnlbe_const_mem(dnnlbe_ctx *c, int node, const dnnl_memory_desc_t *want, int rank,
                     const int64_t *dims, const float *data, void *owned, int *out) {
    return dnnlbe_const_mem_dt(c, node, want, rank, dims, dnnl_f32, data, owned, out);
}

/* Does any node from `from` on (other than `at`) read value w, directly or
 * through a view not yet made real? */
static int read_later(const dnnlbe_ctx *c, int w, int from, int at, int depth) {
    const ir_graph *g = c->g;
    if (dnnlbe_is_output(c, w) || depth > 16) return 1;
    for (int j = 0; j < g->n_nodes; j++) {
        const ir_node *n = &g->nodes[j];
        int reads = 0;
        for (int k = 0; k < n->n_in; k++)
            if (n->in[k] == w) reads = 1;
        if (!reads || j == at) continue;
        if (j >= from) return 1;
        for (int o = 0; o < n->n_out; o++) {
            int u = n->out[o];
            if (u >= 0 && c->vals[u].view_of == w && c->vals[u].mem < 0 &&
                read_later(c, u, from, at, depth + 1))
                return 1;
        }
    }
    return 0;
}

int dnnlbe_can_overwrite(const dnnlbe_ctx *c, int v, int from, int at) {
    if (c->vals[v].mem < 0) return 0;
    const dnnlbe_buf *b = &c->s->bufs[c->s->mems[c->vals[v].mem].buf];
    if (b->kind != DNNLBE_BUF_ARENA) return 0;
    for (int i = 0; i < b->n_vals; i++)
        if (read_later(c, b->vals[i], from, at, 0)) return 0;
    return 1;
}
