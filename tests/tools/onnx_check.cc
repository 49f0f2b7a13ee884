// onnx_check DIR: the official ONNX checker and strict type and shape
// inference (Debian's libonnx) over every .onnx file in DIR, and DIR's
// optable.txt (written by test_xform: "Op f16 bf16" per line, the first
// opset with a float16 / bfloat16 form) held against the ONNX schemas of
// opsets 1..17. Exit 0 when every model is valid and every row agrees.
// C++ only because libonnx has no C API.
#include <dirent.h>

#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include <onnx/checker.h>
#include <onnx/defs/schema.h>
#include <onnx/shape_inference/implementation.h>

namespace {

int check_model(const std::string &path) {
    onnx::ModelProto m;
    std::ifstream f(path, std::ios::binary);
    if (!m.ParseFromIstream(&f)) {
        std::cerr << path << ": not a ModelProto\n";
        return 1;
    }
    try {
        onnx::checker::check_model(m);
        onnx::ShapeInferenceOptions opts{true, 1, false}; // check types, fail on errors
        onnx::shape_inference::InferShapes(m, onnx::OpSchemaRegistry::Instance(), opts);
    } catch (const std::exception &e) {
        std::cerr << path << ": " << e.what() << "\n";
        return 1;
    }
    return 0;
}

// 1 when every type constraint of s that admits float also admits type t.
int admits(const onnx::OpSchema *s, const char *t) {
    bool any = false;
    for (const auto &tc : s->typeConstraintParams()) {
        bool f = false, x = false;
        for (const auto &ty : tc.allowed_type_strs) {
            if (ty == "tensor(float)") f = true;
            if (ty == t) x = true;
        }
        if (f) {
            any = true;
            if (!x) return 0;
        }
    }
    return any ? 1 : 0;
}

// The first opset from which every later one (to 17) admits t; 0 if 17 does not.
int first_opset(const std::string &op, const char *t) {
    int since = 0;
    for (int v = 17; v >= 1; v--) {
        const onnx::OpSchema *s = onnx::OpSchemaRegistry::Schema(op, v);
        if (!s || !admits(s, t)) break;
        since = v;
    }
    return since;
}

int check_optable(const std::string &path) {
    std::ifstream f(path);
    if (!f) return 0;
    std::string line;
    int bad = 0, rows = 0;
    while (std::getline(f, line)) {
        std::istringstream in(line);
        std::string op;
        int f16 = 0, bf16 = 0;
        if (!(in >> op >> f16 >> bf16)) continue;
        rows++;
        int want16 = first_opset(op, "tensor(float16)"),
            wantbf = first_opset(op, "tensor(bfloat16)");
        if (!onnx::OpSchemaRegistry::Schema(op, 17)) continue; // newer than this ONNX
        if (f16 != want16 || bf16 != wantbf) {
            std::cerr << path << ": " << op << " says float16 from opset " << f16
                      << ", bfloat16 from " << bf16 << "; ONNX's schemas say " << want16 << " and "
                      << wantbf << "\n";
            bad++;
        }
    }
    std::cout << path << ": " << rows << " ops, " << bad << " disagree\n";
    return bad ? 1 : 0;
}

} // namespace

int main(int argc, char **argv) {
    if (argc != 2) {
        std::cerr << "usage: onnx_check DIR\n";
        return 2;
    }
    std::string dir = argv[1];
    DIR *d = opendir(dir.c_str());
    if (!d) {
        std::cerr << dir << ": cannot open (test_xform writes it)\n";
        return 2;
    }
    std::vector<std::string> models;
    while (struct dirent *e = readdir(d)) {
        std::string n = e->d_name;
        if (n.size() > 5 && n.compare(n.size() - 5, 5, ".onnx") == 0)
            models.push_back(dir + "/" + n);
    }
    closedir(d);
    int bad = 0;
    for (const auto &m : models) bad += check_model(m);
    std::cout << models.size() << " models checked, " << bad << " invalid\n";
    int table = check_optable(dir + "/optable.txt");
    return models.empty() || bad || table ? 1 : 0;
}
