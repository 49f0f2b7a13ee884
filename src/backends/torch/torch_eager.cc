// TORCH_EAGER: runs a torchbe_program (torch_abi.h) one ATen call per step,
// NCHW, in inference mode, the way PyTorch eager runs the same network:
// no graph, no fusion, PyTorch's own kernels and threads. Intermediate
// tensors are released after their last reader.
#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include <cmath>
#include <limits>
#include <vector>

#include "backends/torch/torch_common.hh"
#include "backends/torch/torch_eager.hh"

namespace {

using at::Tensor;
using torchbe::Step;

struct Eager {
    std::vector<Step> steps;
    std::vector<Tensor> slots;
    std::vector<int> const_slot, input_slot, output_slot;
    std::vector<char> is_const;
};

// ---- building ----

Step copy_step(const torchbe_step &s) {
    Step st;
    st.s = s;
    st.s.in = st.s.out = st.s.drop = nullptr;
    st.s.p = nullptr;
    st.s.node = nullptr;
    st.node = s.node ? s.node : "?";
    st.in.assign(s.in, s.in + s.n_in);
    st.out.assign(s.out, s.out + s.n_out);
    st.drop.assign(s.drop, s.drop + s.n_drop);
    st.p.assign(s.p, s.p + s.n_p);
    return st;
}

bool bad_slot(const Eager &g, int v) {
    return v < -1 || v >= (int)g.slots.size();
}

int check_slots(const Eager &g, calma_error *e) {
    for (const Step &st : g.steps)
        for (const std::vector<int> *list : {&st.in, &st.out, &st.drop})
            for (int v : *list)
                if (bad_slot(g, v) || (list == &st.drop && v < 0))
                    return err_set(e, CALMA_E_INTERNAL, "%s: slot %d is outside 0..%zu",
                                   st.node.c_str(), v, g.slots.size());
    for (const std::vector<int> *list : {&g.input_slot, &g.output_slot, &g.const_slot})
        for (int v : *list)
            if (v < 0 || v >= (int)g.slots.size())
                return err_set(e, CALMA_E_INTERNAL, "graph slot %d is outside 0..%zu", v,
                               g.slots.size());
    return CALMA_OK;
}

} // namespace

extern "C" int torchbe_eager_create(const torchbe_program *p, int threads, void **h,
                                    calma_error *e) {
    *h = nullptr;
    return torchbe::guarded(e, "TORCH_EAGER load", [&]() -> int {
        auto g = std::make_unique<Eager>();
        g->slots.resize((size_t)p->n_slots);
        g->is_const.assign((size_t)p->n_slots, 0);
        for (int i = 0; i < p->n_steps; i++) g->steps.push_back(copy_step(p->steps[i]));
        g->input_slot.assign(p->input_slot, p->input_slot + p->n_inputs);
        g->output_slot.assign(p->output_slot, p->output_slot + p->n_outputs);
        g->const_slot.assign(p->const_slot, p->const_slot + p->n_consts);
        int rc = check_slots(*g, e);
        if (rc) return rc;
        for (int c = 0; c < p->n_consts; c++) {
            int v = p->const_slot[c];
            g->slots[v] = torchbe::view(p->consts[c]); // zero-copy until convert
            g->is_const[v] = 1;
        }
        torchbe::set_threads(threads);
        *h = g.release();
        return CALMA_OK;
    });
}

// The constants become libtorch's own contiguous tensors, as a module's
// parameters are; Gather's constant indices are wrapped and flattened once.
extern "C" int torchbe_eager_convert(void *h, calma_error *e) {
    Eager *g = static_cast<Eager *>(h);
    return torchbe::guarded(e, "TORCH_EAGER convert", [&]() -> int {
        for (int v : g->const_slot) g->slots[v] = g->slots[v].clone(at::MemoryFormat::Contiguous);
        for (Step &st : g->steps)
            if (st.s.kind == TORCHBE_GATHER && !st.s.f0 && st.in.size() > 1 && st.in[1] >= 0 &&
                g->is_const[st.in[1]])
                st.aux = torchbe::wrap_indices(g->slots[st.in[1]], st.s.i1);
        return CALMA_OK;
    });
}

extern "C" int torchbe_eager_run(void *h, const calma_tensor *in, int n_in, calma_tensor *out,
                                 int n_out, calma_error *e) {
    Eager *g = static_cast<Eager *>(h);
    if (n_in != (int)g->input_slot.size() || n_out != (int)g->output_slot.size())
        return err_set(e, CALMA_E_INTERNAL,
                       "TORCH_EAGER run: %d inputs and %d outputs for "
                       "a program of %zu and %zu",
                       n_in, n_out, g->input_slot.size(), g->output_slot.size());
    c10::InferenceMode guard;
    const Step *cur = nullptr;
    int rc = torchbe::guarded(e, "TORCH_EAGER", [&]() -> int {
        for (int i = 0; i < n_in; i++) g->slots[g->input_slot[i]] = torchbe::view(in[i]);
        for (const Step &st : g->steps) {
            cur = &st;
            torchbe::run_step(st, g->slots);
        }
        cur = nullptr;
        for (int k = 0; k < n_out; k++) {
            const Tensor &r = g->slots[g->output_slot[k]];
            TORCH_CHECK(r.defined(), "graph output ", k, " was never computed");
            std::string what =
                "output " + std::to_string(k) + " ('" + (out[k].name ? out[k].name : "?") + "')";
            int orc = torchbe::copy_out(r, out[k], what, e);
            if (orc) return orc;
        }
        return CALMA_OK;
    });
    if (rc && cur) { // name the node whose ATen call failed
        std::string msg = e->msg;
        std::string prefix = "TORCH_EAGER: ";
        if (msg.compare(0, prefix.size(), prefix) == 0) msg = msg.substr(prefix.size());
        err_set(e, rc, "%s: %s", cur->node.c_str(), msg.c_str());
    }
    for (size_t v = 0; v < g->slots.size(); v++)
        if (!g->is_const[v]) g->slots[v].reset();
    return rc;
}

extern "C" void torchbe_eager_free(void *h) {
    delete static_cast<Eager *>(h);
}
