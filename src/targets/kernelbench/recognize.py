"""Recognise a KernelBench problem's operation from its source, on the target (where PyTorch is).

    python3 recognize.py --problem problem.py

Builds the problem's Model and inputs on the meta device (no memory, no GPU: a problem of many GB
costs nothing), traces forward with torch.fx, propagates shapes, and maps the graph to the
operation a schedule-kb template computes:
  * a product: nn.Linear on one input (gemm, layout nt, the layer's weight and bias as parameters),
    or torch.matmul / mm / bmm / @ of two inputs, either side transposed (gemm or batched_gemm);
    a product with a one-column right side is a matrix-vector product (matvec);
  * followed by a chain of elementwise steps on the product (bias, add/sub/mul/div by a constant,
    relu, leaky_relu, gelu, gelu_tanh, silu, mish, sigmoid, tanh, hardtanh, clamp, hardswish,
    hardsigmoid, elu, selu, softplus, softsign, the last also written out as x / (1 + abs(x)));
  * or such a chain on the one input alone (elementwise);
  * or one reduction of the one input over one dimension (sum, mean, amax / max(...)[0], amin /
    min(...)[0], argmax, argmin: reduce), or its softmax / log_softmax over the last dimension;
  * or its normalisation (layernorm): nn.LayerNorm / F.layer_norm and nn.RMSNorm / F.rms_norm over
    the trailing dimensions (with their parameters), or RMS normalisation written out,
    x / torch.sqrt(torch.mean(x ** 2, dim, keepdim=True) + eps) (or x * torch.rsqrt(...)), over
    the trailing dimensions or one axis.
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


def is_product(graph, node):
    torch = graph.torch
    return (isinstance(graph.module(node), torch.nn.Linear)
            or is_call(node, functions=(torch.nn.functional.linear, torch.matmul, torch.mm, torch.bmm, operator.matmul),
                       methods=("matmul", "mm", "bmm")))


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


def prod(values):
    out = 1
    for v in values:
        out *= v
    return out


def only_input(graph, node):
    """The one input of forward that `node` reads first, or Unsupported."""
    if len(graph.placeholders) != 1:
        raise Unsupported(f"forward takes {len(graph.placeholders)} inputs; a reduction or an elementwise chain takes one")
    x = node.args[0] if node.args else None
    if x is not graph.placeholders[0]:
        raise Unsupported(f"{node.name} reads a computed value; the templates read the input as given")
    return x


REDUCTIONS = ("sum", "mean", "amax", "amin", "argmax", "argmin")


def reduction(graph, node, output):
    """The reduce or softmax operation of `node` when it is one and forward returns it, else None."""
    torch = graph.torch
    F = torch.nn.functional
    kw = node.kwargs

    def arg(i, name, default=None):
        return node.args[i] if len(node.args) > i else kw.get(name, default)

    softmax = is_call(node, functions=(torch.softmax, F.softmax), methods=("softmax",), modules=(torch.nn.Softmax,), graph=graph)
    log_softmax = is_call(node, functions=(torch.log_softmax, F.log_softmax), methods=("log_softmax",), modules=(torch.nn.LogSoftmax,), graph=graph)
    named = next((r for r in REDUCTIONS if is_call(node, functions=(getattr(torch, r),), methods=(r,))), None)
    # torch.max(x, dim) / torch.min(x, dim) return (values, indices): forward takes [0].
    pair = next((r for r in ("max", "min") if is_call(node, functions=(getattr(torch, r),), methods=(r,))), None)
    if not (softmax or log_softmax or named or pair):
        return None
    x = only_input(graph, node)
    shape = graph.shape(x)
    rank = len(shape)
    dtype = dtype_name(torch, x.meta["tensor_meta"].dtype)
    mod = graph.module(node)
    dim = mod.dim if mod is not None else arg(1, "dim")
    if isinstance(dim, (list, tuple)) and len(dim) == 1:
        dim = dim[0]
    if isinstance(dim, bool) or not isinstance(dim, int) or not -rank <= dim < rank:
        raise Unsupported(f"{node.name} reduces over {dim!r}; the templates reduce over one given dimension")
    dim %= rank
    last = node
    if pair is not None:
        after = users(node)
        if len(after) != 1 or after[0].op != "call_function" or after[0].target is not operator.getitem or after[0].args[1] != 0:
            raise Unsupported(f"forward uses torch.{pair}(x, dim)'s indices or both results; the templates return its values")
        last = after[0]
        named = "a" + pair
    if users(last) != [output]:
        raise Unsupported(f"forward computes more after {node.name}; a reduction is searched on its own")
    if softmax or log_softmax:
        if dim != rank - 1:
            raise Unsupported("a softmax over other than the last dimension")
        op = {"kind": "softmax", "dims": {"M": prod(shape[:-1]), "N": shape[-1]}, "dtype": dtype, "epilogue": [], "attrs": {}}
        if log_softmax:
            op["attrs"]["log"] = 1
        return op
    keepdim = bool(kw.get("keepdim", node.args[2] if len(node.args) > 2 else False))
    op = {"kind": "reduce", "dims": {"B": prod(shape[:dim]), "R": shape[dim], "I": prod(shape[dim + 1:])},
          "dtype": dtype, "epilogue": [], "attrs": {"reduce": named.replace("amax", "max").replace("amin", "min"), "dim": dim}}
    if keepdim:
        op["attrs"]["keepdim"] = 1
    return op


def normalization_op(graph, x, dims, rms, eps, weight=None, bias=None):
    """The layernorm operation normalising the input x over the axes `dims` (weight and bias by state_dict name)."""
    torch = graph.torch
    shape = graph.shape(x)
    rank = len(shape)
    if not dims or not all(isinstance(d, int) and not isinstance(d, bool) and -rank <= d < rank for d in dims):
        raise Unsupported(f"a normalisation over {dims!r}, which are not axes of its {rank}-D input")
    dims = sorted(d % rank for d in dims)
    if len(set(dims)) != len(dims):
        raise Unsupported(f"a normalisation over the axes {dims}, one of them twice")
    op = {"kind": "layernorm", "dtype": dtype_name(torch, x.meta["tensor_meta"].dtype), "epilogue": [], "attrs": {}}
    attrs = op["attrs"]
    if rms:
        attrs["rms"] = 1
    if weight is None:
        attrs["affine"] = 0
    eps_text = number(eps, "the normalisation's eps")
    if float(eps_text) != 1e-5:
        attrs["eps"] = eps_text
    k = len(dims)
    if dims == list(range(rank - k, rank)):
        normalized = shape[rank - k:]
        op["dims"] = {"M": prod(shape[:rank - k]), "N": prod(normalized)}
        if k > 1:
            attrs["shape"] = ",".join(str(n) for n in normalized)
        for name, role in ((weight, "weight"), (bias, "bias")):
            if name is not None:
                attrs[role] = name
        return op
    if k == 1 and weight is None and bias is None:
        d = dims[0]
        op["dims"] = {"B": prod(shape[:d]), "R": shape[d], "I": prod(shape[d + 1:])}
        attrs["dim"] = d
        return op
    raise Unsupported(f"a normalisation over the axes {dims} of a {rank}-D input; the template normalises the trailing axes, or one axis without a weight")


def norm_param(graph, node, shape, what):
    """The state_dict name of a weight or bias argument (None when None), checked to have the normalised shape."""
    if node is None:
        return None
    param = graph.param(node)
    if param is None:
        raise Unsupported(f"a normalisation whose {what} is not a parameter of the module")
    name, tensor = param
    if list(tensor.shape) != list(shape):
        raise Unsupported(f"a normalisation whose {what} {name} has shape {list(tensor.shape)}, not the normalised {list(shape)}")
    return name


def is_square(graph, node, x):
    """Whether node computes x ** 2 (x.pow(2), torch.square(x), x * x)."""
    torch = graph.torch
    if is_call(node, functions=(operator.pow, torch.pow), methods=("pow",)):
        return list(node.args[:2]) == [x, 2] and not node.kwargs
    if is_call(node, functions=(torch.square,), methods=("square",)):
        return list(node.args[:1]) == [x]
    if is_call(node, functions=(operator.mul, torch.mul), methods=("mul",)):
        return list(node.args[:2]) == [x, x] and not node.kwargs
    return False


def only_user(node):
    after = users(node)
    return after[0] if len(after) == 1 else None


def written_rms(graph, node, output):
    """The RMS normalisation written out from the square `node` of the input, else None."""
    torch = graph.torch
    x = graph.placeholders[0] if len(graph.placeholders) == 1 else None
    if x is None or not is_square(graph, node, x):
        return None
    mean = only_user(node)
    if mean is None or not is_call(mean, functions=(torch.mean,), methods=("mean",)):
        return None
    dims = mean.args[1] if len(mean.args) > 1 else mean.kwargs.get("dim")
    keepdim = mean.args[2] if len(mean.args) > 2 else mean.kwargs.get("keepdim", False)
    if dims is None or keepdim is not True:
        raise Unsupported("an RMS normalisation whose mean is not taken over given axes with keepdim=True")
    dims = list(dims) if isinstance(dims, (list, tuple)) else [dims]
    plus = only_user(mean)
    if plus is None or not is_call(plus, functions=(operator.add, torch.add), methods=("add",)) or plus.kwargs or mean not in plus.args[:2]:
        return None
    eps = next((a for a in plus.args[:2] if a is not mean), None)
    root = only_user(plus)
    if root is None:
        return None
    if is_call(root, functions=(torch.sqrt,), methods=("sqrt",)):
        final = only_user(root)
        ok = final is not None and is_call(final, functions=(operator.truediv, torch.div), methods=("div",)) and list(final.args[:2]) == [x, root] and not final.kwargs
    elif is_call(root, functions=(torch.rsqrt,), methods=("rsqrt",)):
        final = only_user(root)
        ok = final is not None and is_call(final, functions=(operator.mul, torch.mul), methods=("mul",)) and set(final.args[:2]) == {x, root} and not final.kwargs
    else:
        return None
    if not ok or set(users(x)) != {node, final}:
        return None
    if users(final) != [output]:
        raise Unsupported("forward computes more after the RMS normalisation; it is searched on its own")
    return normalization_op(graph, x, dims, True, eps)


def normalization(graph, node, output):
    """The layernorm operation of `node` (a normalisation of the one input that forward returns), else None."""
    torch = graph.torch
    F = torch.nn.functional
    rms_module = getattr(torch.nn, "RMSNorm", None)
    rms_function = getattr(F, "rms_norm", None)
    layer = is_call(node, functions=(F.layer_norm,), modules=(torch.nn.LayerNorm,), graph=graph)
    rms = (rms_module is not None and isinstance(graph.module(node), rms_module)) or (
        rms_function is not None and is_call(node, functions=(rms_function,)))
    if not (layer or rms):
        return written_rms(graph, node, output)
    x = only_input(graph, node)
    if users(node) != [output]:
        raise Unsupported(f"forward computes more after {node.name}; a normalisation is searched on its own")
    dtype = x.meta["tensor_meta"].dtype
    mod = graph.module(node)
    if mod is not None:
        shape = list(mod.normalized_shape)
        eps = mod.eps if mod.eps is not None else torch.finfo(dtype).eps
        affine = mod.elementwise_affine
        weight = f"{node.target}.weight" if affine else None
        bias = None
        if layer and affine:
            if mod.bias is None:
                raise Unsupported("nn.LayerNorm without a bias (bias=False); the template's layer norm has weight and bias or neither")
            bias = f"{node.target}.bias"
    else:
        def arg(i, name, default=None):
            return node.args[i] if len(node.args) > i else node.kwargs.get(name, default)

        shape = arg(1, "normalized_shape")
        shape = [shape] if isinstance(shape, int) else list(shape)
        weight = norm_param(graph, arg(2, "weight"), shape, "weight")
        bias = norm_param(graph, arg(3, "bias"), shape, "bias") if layer else None
        eps = arg(4 if layer else 3, "eps", 1e-5 if layer else None)
        if eps is None:
            eps = torch.finfo(dtype).eps
        if layer and (weight is None) != (bias is None):
            raise Unsupported("F.layer_norm with a weight or a bias alone; the template's layer norm has weight and bias or neither")
    in_shape = graph.shape(x)
    if len(in_shape) < len(shape) or in_shape[len(in_shape) - len(shape):] != shape:
        raise Unsupported(f"a normalisation of shape {shape} on an input of shape {in_shape}")
    return normalization_op(graph, x, list(range(len(in_shape) - len(shape), len(in_shape))), rms, eps, weight, bias)


def is_sigmoid(graph, node):
    torch = graph.torch
    return is_call(node, functions=(torch.sigmoid, torch.nn.functional.sigmoid), methods=("sigmoid",),
                   modules=(torch.nn.Sigmoid,), graph=graph)


def is_abs(graph, node):
    return is_call(node, functions=(graph.torch.abs,), methods=("abs",))


def written_softsign(graph, abs_node, cur):
    """The division node of softsign written out, cur / (1 + abs(cur)) (either order of the sum), or None."""
    torch = graph.torch
    after = users(abs_node)
    plus = after[0] if len(after) == 1 else None
    if plus is None or not is_call(plus, functions=(operator.add, torch.add), methods=("add",)) or plus.kwargs:
        return None
    if abs_node not in plus.args[:2] or next((a for a in plus.args[:2] if a is not abs_node), None) != 1:
        return None
    after = users(plus)
    div = after[0] if len(after) == 1 else None
    if (div is None or not is_call(div, functions=(operator.truediv, torch.div), methods=("div",)) or div.kwargs
            or tuple(div.args[:2]) != (cur, plus) or set(users(cur)) != {abs_node, div}):
        return None
    return div


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
    if is_abs(graph, node):
        div = written_softsign(graph, node, cur)
        if div is not None:
            return ["softsign"], [None], div
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
    if is_call(node, functions=(F.hardsigmoid,), modules=(nn.Hardsigmoid,), graph=graph):
        return ["hardsigmoid"], [None], node
    if is_call(node, functions=(torch.selu, F.selu), methods=("selu",), modules=(nn.SELU,), graph=graph):
        return ["selu"], [None], node
    if is_call(node, functions=(F.elu,), modules=(nn.ELU,), graph=graph):
        alpha = mod.alpha if mod is not None else arg(1, "alpha", 1.0)
        return ["elu"], [number(alpha, "elu's alpha")], node
    if is_call(node, functions=(F.softplus,), modules=(nn.Softplus,), graph=graph):
        beta = mod.beta if mod is not None else arg(1, "beta", 1.0)
        threshold = mod.threshold if mod is not None else arg(2, "threshold", 20.0)
        if beta != 1 or threshold != 20:
            raise Unsupported(f"{node.name} is softplus with beta {beta} and threshold {threshold}; the templates fuse softplus at its defaults (beta 1, threshold 20)")
        return ["softplus"], [None], node
    if is_call(node, functions=(F.softsign,), modules=(nn.Softsign,), graph=graph):
        return ["softsign"], [None], node
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
    output = next(n for n in graph.nodes if n.op == "output")
    normalized = normalization(graph, first, output)
    if normalized is not None:
        return normalized
    reduced = reduction(graph, first, output)
    if reduced is not None:
        return reduced
    if is_product(graph, first):
        op = product(graph, first)
        cur = first
    else:
        # A chain on the input alone: the operation is the chain.
        x = only_input(graph, first)
        shape = graph.shape(x)
        op = {"kind": "elementwise", "dims": {"M": prod(shape[:-1]) if len(shape) > 1 else 1, "N": shape[-1] if shape else 1},
              "dtype": dtype_name(torch, x.meta["tensor_meta"].dtype), "epilogue": [], "attrs": {}}
        cur = x
    n_cols = op["dims"]["N"]
    start_node = cur
    while users(cur) != [output]:
        following = users(cur)
        if output in following:
            raise Unsupported("forward returns the product and also computes more from it")
        # Two users are only silu (sigmoid(x) * x) or softsign (x / (1 + abs(x))) written out, which
        # chain_step reads from their sigmoid or abs.
        start = following[0] if len(following) == 1 else next((u for u in following if is_sigmoid(graph, u) or is_abs(graph, u)), None)
        if start is None:
            raise Unsupported(f"the value {cur.name} is used twice ({', '.join(u.name for u in following)}); the templates fuse a single chain")
        names, values, cur = chain_step(graph, start, cur, n_cols)
        for name, value in zip(names, values):
            op["epilogue"].append(name)
            if value is not None:
                op["attrs"][f"e{len(op['epilogue'])}"] = value
    if output.args[0] is not cur:
        raise Unsupported("forward returns something other than the product's chain")
    if graph.shape(cur) != graph.shape(start_node):
        raise Unsupported("the chain changes the product's shape")
    if len(op["epilogue"]) > 8:
        raise Unsupported(f"a chain of {len(op['epilogue'])} steps; the templates fuse up to 8")
    if op["kind"] == "elementwise":
        if not op["epilogue"]:
            raise Unsupported("forward returns its input")
        if "bias" in op["epilogue"]:
            raise Unsupported("an elementwise chain that adds a parameter; the elementwise template takes constants")
    if op["kind"] == "gemm" and op["dims"]["N"] == 1 and op.get("layout") is None and not op["attrs"]:
        if op["epilogue"]:
            raise Unsupported("a matrix-vector product followed by a chain; the matvec template computes the product alone")
        return {"kind": "matvec", "dims": {"M": op["dims"]["M"], "K": op["dims"]["K"]}, "dtype": op["dtype"], "epilogue": [], "attrs": {}}
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
    # Tracing on the meta device uses torch.device as a context manager, which PyTorch 2.0 added:
    # an older PyTorch would read every problem as one no template computes.
    major = torch.__version__.split(".")[0]
    if not major.isdigit() or int(major) < 2:
        emit({"target": f"the target's PyTorch is {torch.__version__}; recognising problems needs PyTorch 2.0 or later"})
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
