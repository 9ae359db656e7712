"""Recognise a KernelBench problem's operation from its source, on the target (where PyTorch is).

    python3 recognize.py --problem problem.py

Builds the problem's Model and inputs on the meta device (no memory, no GPU: a problem of many GB
costs nothing), traces forward with torch.fx, propagates shapes, and maps the graph to the
operation a schedule-kb template computes:
  * a product: nn.Linear on one input (gemm, layout nt, the layer's weight and bias as parameters),
    or torch.matmul / mm / bmm / @ of two inputs, either side transposed (gemm or batched_gemm);
  * followed by a chain of elementwise steps on the product (bias, add/sub/mul/div by a constant,
    relu, leaky_relu, gelu, gelu_tanh, silu, mish, sigmoid, tanh, hardtanh, clamp, hardswish).
Prints one line: SKB_RECOGNIZED {"operation": {...}}, {"unsupported": "why"} (no template computes
it), {"error": "why"} (the file does not load) or {"target": "why"} (the target cannot trace).
The service validates the operation again: this script's output is not trusted.
"""
import argparse
import importlib.util
import json
import math
import operator
import sys

PREFIX = "SKB_RECOGNIZED "


class Unsupported(Exception):
    """The problem has a part no template computes; the message names it."""


def emit(payload):
    print(PREFIX + json.dumps(payload), flush=True)


def load_problem(path):
    spec = importlib.util.spec_from_file_location("skb_problem", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for name in ("Model", "get_inputs"):
        if not hasattr(module, name):
            raise Unsupported(f"the problem defines no {name}")
    return module


def dtype_name(torch, dtype):
    names = {torch.float32: "f32", torch.bfloat16: "bf16", torch.float16: "f16"}
    if dtype not in names:
        raise Unsupported(f"its inputs are {dtype}; the templates take float32, bfloat16 or float16")
    return names[dtype]


def number(value, what):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise Unsupported(f"{what} is not a constant number ({value!r})")
    return repr(float(value))


class Graph:
    """The traced forward with what the mapping asks of it."""

    def __init__(self, torch, gm):
        self.torch = torch
        self.gm = gm
        self.modules = dict(gm.named_modules())
        self.nodes = [n for n in gm.graph.nodes]
        self.placeholders = [n for n in self.nodes if n.op == "placeholder"]

    def shape(self, node):
        meta = node.meta.get("tensor_meta")
        if meta is None:
            raise Unsupported(f"the value {node.name} is not a single tensor")
        return list(meta.shape)

    def param(self, node):
        """The state_dict name and tensor of a get_attr node, else None."""
        if getattr(node, "op", None) != "get_attr":
            return None
        value = self.gm
        for part in node.target.split("."):
            value = getattr(value, part)
        return node.target, value

    def module(self, node):
        return self.modules.get(node.target) if node.op == "call_module" else None


def is_call(node, functions=(), methods=(), modules=(), graph=None):
    if node.op == "call_function" and node.target in functions:
        return True
    if node.op == "call_method" and node.target in methods:
        return True
    if node.op == "call_module" and graph is not None:
        return isinstance(graph.module(node), modules)
    return False


def transposed_input(graph, node):
    """(placeholder, transposed) for an input or its 2-D transpose (.T, .t(), .transpose(-2, -1))."""
    torch = graph.torch
    if node.op == "placeholder":
        return node, False
    if node.op == "call_function" and node.target is getattr and node.args[1] in ("T", "mT"):
        inner = node.args[0]
    elif is_call(node, functions=(torch.t,), methods=("t",)):
        inner = node.args[0]
    elif is_call(node, functions=(torch.transpose,), methods=("transpose",)):
        inner = node.args[0]
        rank = len(graph.shape(inner))
        dims = sorted(d % rank for d in node.args[1:3])
        if dims != [rank - 2, rank - 1]:
            raise Unsupported("a transpose of other than the last two dimensions")
    else:
        raise Unsupported(f"a product operand computed by {node.name} ({node.target}); the templates read inputs as given")
    if inner.op != "placeholder":
        raise Unsupported("a product operand that is not an input of forward")
    return inner, True


def product(graph, node):
    """The operation of the product `node` (the chain is added after), or Unsupported."""
    torch = graph.torch
    F = torch.nn.functional
    linear = graph.module(node)
    if isinstance(linear, torch.nn.Linear) or is_call(node, functions=(F.linear,)):
        if isinstance(linear, torch.nn.Linear):
            weight, bias = f"{node.target}.weight", f"{node.target}.bias" if linear.bias is not None else None
            x = node.args[0]
        else:
            x, w = node.args[0], node.args[1]
            b = node.args[2] if len(node.args) > 2 else node.kwargs.get("bias")
            weight = (graph.param(w) or (None,))[0]
            bias = (graph.param(b) or (None,))[0] if b is not None else None
            if weight is None or (b is not None and bias is None):
                raise Unsupported("F.linear with a weight or bias that is not a parameter of the module")
        if x.op != "placeholder":
            raise Unsupported("a linear layer whose input is computed in forward")
        shape = graph.shape(x)
        if len(shape) != 2:
            raise Unsupported(f"a linear layer on a {len(shape)}-D input; the template takes batch x features")
        out = graph.shape(node)
        op = {"kind": "gemm", "dims": {"M": shape[0], "N": out[-1], "K": shape[1]}, "layout": "nt",
              "dtype": dtype_name(torch, x.meta["tensor_meta"].dtype), "epilogue": [], "attrs": {"weight": weight}}
        if bias is not None:
            op["epilogue"].append("bias")
            op["attrs"]["e1"] = bias
        return op
    if is_call(node, functions=(torch.matmul, torch.mm, torch.bmm, operator.matmul), methods=("matmul", "mm", "bmm")):
        a, ta = transposed_input(graph, node.args[0])
        b, tb = transposed_input(graph, node.args[1])
        sa, sb = graph.shape(a), graph.shape(b)
        if len(sa) != len(sb) or len(sa) not in (2, 3):
            raise Unsupported(f"a product of {len(sa)}-D and {len(sb)}-D inputs; the templates take 2-D or batched 3-D of both")
        m, k = (sa[-1], sa[-2]) if ta else (sa[-2], sa[-1])
        n = sb[-2] if tb else sb[-1]
        dtype = dtype_name(torch, a.meta["tensor_meta"].dtype)
        if b.meta["tensor_meta"].dtype != a.meta["tensor_meta"].dtype:
            raise Unsupported("a product of inputs of two dtypes")
        dims = {"M": m, "N": n, "K": k}
        kind = "gemm"
        if len(sa) == 3:
            if sa[0] != sb[0]:
                raise Unsupported("a batched product whose inputs have different batch sizes")
            dims = {"B": sa[0], **dims}
            kind = "batched_gemm"
        op = {"kind": kind, "dims": dims, "dtype": dtype, "epilogue": [], "attrs": {}}
        layout = ("t" if ta else "n") + ("t" if tb else "n")
        if layout != "nn":
            op["layout"] = layout
        if [a.name, b.name] != [p.name for p in graph.placeholders[:2]] or len(graph.placeholders) != 2:
            raise Unsupported("a product whose operands are not forward's two inputs in order")
        return op
    raise Unsupported(f"forward starts with {node.target}, which no template computes")


def users(node):
    return list(node.users)


def is_sigmoid(graph, node):
    torch = graph.torch
    return is_call(node, functions=(torch.sigmoid, torch.nn.functional.sigmoid), methods=("sigmoid",),
                   modules=(torch.nn.Sigmoid,), graph=graph)


def other_arg(node, cur):
    """The argument of a binary node besides `cur`, and whether `cur` came first."""
    args = list(node.args[:2])
    if len(args) != 2 or cur not in args:
        raise Unsupported(f"{node.name} does not combine the product with one other value")
    if args[0] is cur and args[1] is cur:
        raise Unsupported(f"{node.name} combines the product with itself")
    return (args[1], True) if args[0] is cur else (args[0], False)


def chain_step(graph, node, cur, n_cols):
    """(names, args, last node) of the elementwise step(s) starting at `node`, applied to `cur`."""
    torch = graph.torch
    F = torch.nn.functional
    nn = torch.nn
    mod = graph.module(node)
    kw = node.kwargs

    def arg(i, name, default=None):
        if len(node.args) > i:
            return node.args[i]
        return kw.get(name, default)

    # silu written out: x * sigmoid(x), in either order.
    if is_sigmoid(graph, node):
        after = users(node)
        user = after[0] if len(after) == 1 else None
        if (user is not None and is_call(user, functions=(operator.mul, torch.mul), methods=("mul",))
                and set(user.args[:2]) == {cur, node} and set(users(cur)) == {node, user}):
            return ["silu"], [None], user
        if len(users(cur)) == 1:
            return ["sigmoid"], [None], node
    if len(users(cur)) != 1:
        raise Unsupported(f"the value {cur.name} is used twice ({', '.join(u.name for u in users(cur))}); the templates fuse a single chain")
    if is_call(node, functions=(operator.add, torch.add, operator.sub, torch.sub, operator.mul, torch.mul, operator.truediv, torch.div), methods=("add", "sub", "mul", "div"), graph=graph):
        name = {operator.add: "add", torch.add: "add", operator.sub: "sub", torch.sub: "sub", operator.mul: "mul",
                torch.mul: "mul", operator.truediv: "div", torch.div: "div"}.get(node.target, node.target)
        if kw.get("alpha", 1) != 1 or kw.get("rounding_mode") is not None:
            raise Unsupported(f"{node.name} passes alpha or rounding_mode")
        other, cur_first = other_arg(node, cur)
        param = graph.param(other)
        if param is not None:
            pname, tensor = param
            if name == "add" and list(tensor.shape) in ([n_cols], [1, n_cols]):
                return ["bias"], [pname], node
            raise Unsupported(f"{node.name} {name}s the parameter {pname} of shape {list(tensor.shape)}; the templates fuse a bias of shape ({n_cols},)")
        if hasattr(other, "op"):
            raise Unsupported(f"{node.name} combines the product with another computed value ({other.name})")
        if not cur_first and name in ("sub", "div"):
            raise Unsupported(f"{node.name} computes a constant {name} the product (the templates take product {name} constant)")
        return [name], [number(other, f"the operand of {node.name}")], node
    if is_call(node, functions=(torch.relu, F.relu), methods=("relu",), modules=(nn.ReLU,), graph=graph):
        return ["relu"], [None], node
    if is_call(node, functions=(F.leaky_relu,), modules=(nn.LeakyReLU,), graph=graph):
        slope = mod.negative_slope if mod is not None else arg(1, "negative_slope", 0.01)
        return ["leaky_relu"], [number(slope, "leaky_relu's negative_slope")], node
    if is_call(node, functions=(F.gelu,), modules=(nn.GELU,), graph=graph):
        approximate = mod.approximate if mod is not None else kw.get("approximate", "none")
        return ["gelu_tanh" if approximate == "tanh" else "gelu"], [None], node
    if is_call(node, functions=(F.silu,), modules=(nn.SiLU,), graph=graph):
        return ["silu"], [None], node
    if is_call(node, functions=(F.mish,), modules=(nn.Mish,), graph=graph):
        return ["mish"], [None], node
    if is_call(node, functions=(torch.tanh, F.tanh), methods=("tanh",), modules=(nn.Tanh,), graph=graph):
        return ["tanh"], [None], node
    if is_call(node, functions=(F.hardswish,), modules=(nn.Hardswish,), graph=graph):
        return ["hardswish"], [None], node
    if is_call(node, functions=(F.hardtanh,), modules=(nn.Hardtanh,), graph=graph):
        lo = mod.min_val if mod is not None else arg(1, "min_val", -1.0)
        hi = mod.max_val if mod is not None else arg(2, "max_val", 1.0)
        return ["hardtanh"], [f"{number(lo, 'hardtanh min_val')},{number(hi, 'hardtanh max_val')}"], node
    if is_call(node, functions=(torch.clamp, torch.clip), methods=("clamp", "clip")):
        lo, hi = arg(1, "min"), arg(2, "max")
        if lo is None and hi is None:
            raise Unsupported(f"{node.name} clamps with no bound")
        text = ("" if lo is None else number(lo, "clamp min")) + "," + ("" if hi is None else number(hi, "clamp max"))
        return ["clamp"], [text], node
    if is_call(node, methods=("clamp_min",)):
        return ["clamp"], [number(arg(1, "min"), "clamp_min") + ","], node
    if is_call(node, methods=("clamp_max",)):
        return ["clamp"], ["," + number(arg(1, "max"), "clamp_max")], node
    if is_call(node, methods=("contiguous",)):
        return [], [], node
    raise Unsupported(f"{node.name} ({getattr(node.target, '__name__', node.target)}) after the product is not an elementwise step the templates fuse")


def recognize(torch, problem):
    import torch.fx as fx
    from torch.fx.passes.shape_prop import ShapeProp

    with torch.device("meta"):
        init = problem.get_init_inputs() if hasattr(problem, "get_init_inputs") else []
        model = problem.Model(*init)
        inputs = problem.get_inputs()
    if not all(isinstance(t, torch.Tensor) for t in inputs):
        raise Unsupported("get_inputs returns values that are not tensors")
    try:
        gm = fx.symbolic_trace(model)
    except Exception as exc:  # noqa: BLE001 - data-dependent control flow and the like
        raise Unsupported(f"torch.fx cannot trace forward ({type(exc).__name__}: {str(exc)[:200]})") from None
    ShapeProp(gm).propagate(*inputs)
    graph = Graph(torch, gm)
    compute = [n for n in graph.nodes if n.op not in ("placeholder", "output", "get_attr")]
    # Operand views (transposes) are read with the product.
    first = next((n for n in compute if not (n.op == "call_function" and n.target is getattr) and not is_call(n, functions=(torch.t, torch.transpose), methods=("t", "transpose"))), None)
    if first is None:
        raise Unsupported("forward computes nothing")
    op = product(graph, first)
    n_cols = op["dims"]["N"]
    cur = first
    output = next(n for n in graph.nodes if n.op == "output")
    while users(cur) != [output]:
        following = users(cur)
        if output in following:
            raise Unsupported("forward returns the product and also computes more from it")
        # Two users are only silu written out (sigmoid(x) * x), which chain_step reads from its sigmoid.
        start = following[0] if len(following) == 1 else next((u for u in following if is_sigmoid(graph, u)), None)
        if start is None:
            raise Unsupported(f"the value {cur.name} is used twice ({', '.join(u.name for u in following)}); the templates fuse a single chain")
        names, values, cur = chain_step(graph, start, cur, n_cols)
        for name, value in zip(names, values):
            op["epilogue"].append(name)
            if value is not None:
                op["attrs"][f"e{len(op['epilogue'])}"] = value
    if output.args[0] is not cur:
        raise Unsupported("forward returns something other than the product's chain")
    if graph.shape(cur) != graph.shape(first):
        raise Unsupported("the chain changes the product's shape")
    if len(op["epilogue"]) > 8:
        raise Unsupported(f"a chain of {len(op['epilogue'])} steps; the templates fuse up to 8")
    return op


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--problem", required=True)
    args = parser.parse_args()
    try:
        import torch
    except ImportError as exc:
        emit({"target": f"PyTorch cannot be imported by the target's Python ({exc})"})
        return 0
    try:
        problem = load_problem(args.problem)
    except Unsupported as exc:
        emit({"error": str(exc)})
        return 0
    except Exception as exc:  # noqa: BLE001 - the user's file: its failure is the answer
        emit({"error": f"the problem file fails to load: {type(exc).__name__}: {str(exc)[:300]}"})
        return 0
    try:
        emit({"operation": recognize(torch, problem)})
    except Unsupported as exc:
        emit({"unsupported": str(exc)})
    except Exception as exc:  # noqa: BLE001 - e.g. a problem that cannot be built on the meta device
        emit({"unsupported": f"{type(exc).__name__}: {str(exc)[:300]}"})
    return 0


if __name__ == "__main__":
    sys.exit(main())
