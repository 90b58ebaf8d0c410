"""One-time offline conversion of MediaPipe's blendshape network (tflite) to ONNX for ONNX Runtime.

    python scripts/convert_face_blendshapes.py [models/mediapipe/face_landmarker.task] [OUT.onnx]

Reads ``face_blendshapes.tflite`` from the Face Landmarker bundle (a zip) and writes an equivalent ONNX
graph: float16 weights are dequantised to float32, 1×1 NHWC convolutions become MatMuls, the layer
norms (ten tflite ops each) become one LayerNormalization, the rest map op for op. Only the ops this network uses are supported; anything else stops the conversion with its name.
Needs the ``tflite`` flatbuffer parser (``pip install tflite==2.18.0 onnx``), not at run time.
``tests/test_blendshapes.py`` checks the result against MediaPipe's own FaceLandmarker.
"""

from __future__ import annotations

import hashlib
import sys
import zipfile
from pathlib import Path

import numpy as np
import onnx
import tflite
from onnx import TensorProto, helper, numpy_helper

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_TASK = ROOT / "models" / "mediapipe" / "face_landmarker.task"
DEFAULT_OUT = ROOT / "models" / "mediapipe" / "face_blendshapes.onnx"
OPS = {v: k for k, v in tflite.BuiltinOperator.__dict__.items() if not k.startswith("_")}
DTYPES = {tflite.TensorType.FLOAT32: np.float32, tflite.TensorType.FLOAT16: np.float16,
          tflite.TensorType.INT32: np.int32}
BINARY = {"ADD": "Add", "SUB": "Sub", "MUL": "Mul", "DIV": "Div"}
UNARY = {"SQRT": "Sqrt", "NEG": "Neg", "LOGISTIC": "Sigmoid"}


class Converter:
    def __init__(self, data: bytes):
        self.model = tflite.Model.GetRootAsModel(data, 0)
        self.graph = self.model.Subgraphs(0)
        self.consts: dict[int, np.ndarray] = {}
        self.nodes: list[onnx.NodeProto] = []
        self.count = 0

    # --- tensors -------------------------------------------------------------------------------------
    def shape(self, i: int) -> list[int]:
        t = self.graph.Tensors(i)
        return t.ShapeAsNumpy().tolist() if t.ShapeLength() else []

    def const(self, i: int) -> np.ndarray | None:
        if i in self.consts:
            return self.consts[i]
        t = self.graph.Tensors(i)
        buf = self.model.Buffers(t.Buffer())
        if buf.DataLength() == 0:
            return None
        arr = np.frombuffer(buf.DataAsNumpy().tobytes(), DTYPES[t.Type()]).reshape(self.shape(i))
        self.consts[i] = arr
        return arr

    def name(self, i: int) -> str:
        return f"t{i}"

    def fresh(self) -> str:
        self.count += 1
        return f"n{self.count}"

    def add(self, op: str, inputs: list[str], output: str, **attrs) -> str:
        self.nodes.append(helper.make_node(op, inputs, [output], **attrs))
        return output

    def activation(self, out_name: str, fused: int, final: str) -> None:
        if fused == tflite.ActivationFunctionType.NONE:
            self.add("Identity", [out_name], final)
        elif fused == tflite.ActivationFunctionType.RELU:
            self.add("Relu", [out_name], final)
        else:
            raise SystemExit(f"unsupported fused activation {fused}")

    # --- ops -----------------------------------------------------------------------------------------
    def convert_op(self, op) -> None:
        code = self.model.OperatorCodes(op.OpcodeIndex())
        kind = OPS[max(code.BuiltinCode(), code.DeprecatedBuiltinCode())]
        ins = op.InputsAsNumpy().tolist()
        out = op.OutputsAsNumpy()[0]
        x, y = self.name(out), None
        opts = op.BuiltinOptions()
        if kind == "DEQUANTIZE":
            src = self.const(ins[0])
            if src is None:
                raise SystemExit("DEQUANTIZE of a non-constant tensor is not supported")
            self.consts[out] = src.astype(np.float32)
        elif kind in BINARY:
            fused = 0
            if opts is not None:
                o = getattr(tflite, kind.capitalize() + "Options")()
                o.Init(opts.Bytes, opts.Pos)
                fused = o.FusedActivationFunction()
            tmp = self.fresh()
            self.add(BINARY[kind], [self.name(ins[0]), self.name(ins[1])], tmp)
            self.activation(tmp, fused, x)
        elif kind in UNARY:
            self.add(UNARY[kind], [self.name(ins[0])], x)
        elif kind == "RSQRT":
            self.add("Reciprocal", [self.add("Sqrt", [self.name(ins[0])], self.fresh())], x)
        elif kind == "SQUARED_DIFFERENCE":
            d = self.add("Sub", [self.name(ins[0]), self.name(ins[1])], self.fresh())
            self.add("Mul", [d, d], x)
        elif kind in ("MEAN", "SUM"):
            o = tflite.ReducerOptions()
            o.Init(opts.Bytes, opts.Pos)
            axes = np.atleast_1d(self.const(ins[1])).astype(np.int64)
            onnx_op = "ReduceMean" if kind == "MEAN" else "ReduceSum"
            self.add(onnx_op, [self.name(ins[0]), self.initializer(axes)], x, keepdims=int(o.KeepDims()))
        elif kind == "RESHAPE":
            self.add("Reshape", [self.name(ins[0]), self.initializer(np.array(self.shape(out), np.int64))], x)
        elif kind == "TRANSPOSE":
            self.add("Transpose", [self.name(ins[0])], x, perm=self.const(ins[1]).tolist())
        elif kind == "CONCATENATION":
            o = tflite.ConcatenationOptions()
            o.Init(opts.Bytes, opts.Pos)
            self.add("Concat", [self.name(i) for i in ins], x, axis=o.Axis())
        elif kind == "STRIDED_SLICE":
            self.strided_slice(ins, out, opts)
        elif kind == "CONV_2D":
            self.conv1x1(ins, out, opts)
        else:
            raise SystemExit(f"unsupported tflite op {kind}")

    def strided_slice(self, ins: list[int], out: int, opts) -> None:
        o = tflite.StridedSliceOptions()
        o.Init(opts.Bytes, opts.Pos)
        if o.EllipsisMask() or o.NewAxisMask():
            raise SystemExit("STRIDED_SLICE with ellipsis/new-axis masks is not supported")
        shape = self.shape(ins[0])
        begin, end, strides = (self.const(i).astype(np.int64) for i in ins[1:4])
        starts, ends = [], []
        for axis, size in enumerate(shape):
            b = 0 if o.BeginMask() >> axis & 1 else int(begin[axis])
            e = size if o.EndMask() >> axis & 1 else int(end[axis])
            if o.ShrinkAxisMask() >> axis & 1:
                e = b + 1
            starts.append(b)
            ends.append(e)
        sliced = self.add("Slice", [self.name(ins[0]), self.initializer(np.array(starts, np.int64)),
                                    self.initializer(np.array(ends, np.int64)),
                                    self.initializer(np.arange(len(shape), dtype=np.int64)),
                                    self.initializer(strides)], self.fresh())
        shrink = [a for a in range(len(shape)) if o.ShrinkAxisMask() >> a & 1]
        if shrink:
            self.add("Squeeze", [sliced, self.initializer(np.array(shrink, np.int64))], self.name(out))
        else:
            self.add("Identity", [sliced], self.name(out))

    def conv1x1(self, ins: list[int], out: int, opts) -> None:
        o = tflite.Conv2DOptions()
        o.Init(opts.Bytes, opts.Pos)
        w, b = self.const(ins[1]), self.const(ins[2])
        if w.shape[1:3] != (1, 1) or o.StrideW() != 1 or o.StrideH() != 1:
            raise SystemExit("only 1x1 stride-1 CONV_2D is supported")
        matrix = np.ascontiguousarray(w.reshape(w.shape[0], -1).T.astype(np.float32))
        mm = self.add("MatMul", [self.name(ins[0]), self.initializer(matrix)], self.fresh())
        biased = self.add("Add", [mm, self.initializer(b.astype(np.float32))], self.fresh())
        self.activation(biased, o.FusedActivationFunction(), self.name(out))

    def initializer(self, value: np.ndarray) -> str:
        name = self.fresh()
        self.extra.append(numpy_helper.from_array(value, name))
        return name

    def kind(self, op) -> str:
        code = self.model.OperatorCodes(op.OpcodeIndex())
        return OPS[max(code.BuiltinCode(), code.DeprecatedBuiltinCode())]

    def layer_norm(self, k: int, ops: list, consumers: dict[int, list[int]]) -> set[int] | None:
        """Op indices of a LayerNorm without bias starting at MEAN op ``k`` (tflite spells it
        mean, neg, squared difference, mean, add eps, rsqrt, mul gamma, mul x, mul -mean, add), after
        emitting one LayerNormalization for them; None when the ops there are something else."""
        def only(tensor: int, kind: str) -> int | None:
            found = [c for c in consumers.get(tensor, []) if self.kind(ops[c]) == kind]
            return found[0] if len(found) == 1 else None

        def out(i: int) -> int:
            return int(ops[i].OutputsAsNumpy()[0])

        x, axes = (int(t) for t in ops[k].InputsAsNumpy())
        rank = len(self.shape(x))
        if self.const(axes) is None or np.atleast_1d(self.const(axes)).tolist() not in ([rank - 1], [-1]):
            return None
        mean = out(k)
        neg, sd = only(mean, "NEG"), only(mean, "SQUARED_DIFFERENCE")
        var = only(out(sd), "MEAN") if sd is not None else None
        add = only(out(var), "ADD") if var is not None else None
        rsqrt = only(out(add), "RSQRT") if add is not None else None
        gain = only(out(rsqrt), "MUL") if rsqrt is not None else None
        if None in (neg, gain):
            return None
        eps_tensor = [int(t) for t in ops[add].InputsAsNumpy() if int(t) != out(var)][0]
        gamma_tensor = [int(t) for t in ops[gain].InputsAsNumpy() if int(t) != out(rsqrt)][0]
        scaled = consumers.get(out(gain), [])
        if len(scaled) != 2 or any(self.kind(ops[c]) != "MUL" for c in scaled):
            return None
        final = {c2 for c in scaled for c2 in consumers.get(out(c), [])}
        if len(final) != 1 or self.kind(ops[next(iter(final))]) != "ADD":
            return None
        (total,) = final
        eps, gamma = self.const(eps_tensor), self.const(gamma_tensor)
        if eps is None or gamma is None:
            return None
        self.add("LayerNormalization", [self.name(x), self.initializer(gamma.astype(np.float32)),
                                        self.initializer(np.zeros_like(gamma, np.float32))],
                 self.name(out(total)), axis=-1, epsilon=float(eps))
        return {k, neg, sd, var, add, rsqrt, gain, *scaled, total}

    def convert(self) -> onnx.ModelProto:
        self.extra: list[onnx.TensorProto] = []
        ops = [self.graph.Operators(k) for k in range(self.graph.OperatorsLength())]
        for k, op in enumerate(ops):  # constants first: the LayerNorm matcher reads eps and gamma
            if self.kind(op) == "DEQUANTIZE":
                self.convert_op(op)
        consumers: dict[int, list[int]] = {}
        for k, op in enumerate(ops):
            for t in op.InputsAsNumpy():
                consumers.setdefault(int(t), []).append(k)
        done: set[int] = set()
        for k, op in enumerate(ops):
            if k in done or self.kind(op) == "DEQUANTIZE":
                continue
            fused = self.layer_norm(k, ops, consumers) if self.kind(op) == "MEAN" else None
            if fused:
                done |= fused
            else:
                self.convert_op(op)
        used = {i for n in self.nodes for i in n.input}
        inits = [numpy_helper.from_array(v.astype(np.float32) if v.dtype == np.float16 else v, self.name(i))
                 for i, v in self.consts.items() if self.name(i) in used] + self.extra
        (inp,), (out,) = self.graph.InputsAsNumpy(), self.graph.OutputsAsNumpy()
        self.add("Identity", [self.name(out)], "scores")
        graph = helper.make_graph(
            self.nodes, "face_blendshapes",
            [helper.make_tensor_value_info(self.name(inp), TensorProto.FLOAT, self.shape(inp))],
            [helper.make_tensor_value_info("scores", TensorProto.FLOAT, self.shape(out))], inits)
        graph.input[0].name = "points"
        for n in graph.node:
            n.input[:] = ["points" if i == self.name(inp) else i for i in n.input]
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
        model.ir_version = 8
        onnx.checker.check_model(model)
        return model


def main(argv: list[str]) -> int:
    task = Path(argv[0]) if argv else DEFAULT_TASK
    out = Path(argv[1]) if len(argv) > 1 else DEFAULT_OUT
    with zipfile.ZipFile(task) as z:
        data = z.read("face_blendshapes.tflite")
    model = Converter(data).convert()
    for key, value in {
        "source": f"{task.name}:face_blendshapes.tflite",
        "source_task_sha256": hashlib.sha256(task.read_bytes()).hexdigest(),
        "source_tflite_sha256": hashlib.sha256(data).hexdigest(),
        "license": "Apache-2.0 (MediaPipe Face Landmarker model)",
        "converter": "scripts/convert_face_blendshapes.py",
    }.items():
        model.metadata_props.add(key=key, value=value)
    onnx.save(model, out)
    print(f"wrote {out} ({out.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
