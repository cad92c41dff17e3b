#!/usr/bin/env python3
"""Check an ONNX model that `simshop-train export` wrote, and compute its outputs.

    python3 check_onnx.py MODEL.onnx [--input '[[0.1, ...], ...]'] [--json]

It runs onnx.checker.check_model with full shape inference, then computes the output of
the model for the input rows, given as a JSON array of rows. With onnx 1.13 or later it
uses onnx.reference.ReferenceEvaluator. Older onnx releases, such as Debian 12's 1.12,
have no evaluator, so the script then runs the graph's Gemm, Relu and Tanh nodes itself
with numpy in float32. Either way the weights come from the ONNX file as onnx decodes it.

Needs Debian's python3-onnx, which depends on python3-numpy. The exit status is 0 when
the model passes the checks, 1 when it does not, and 2 on bad arguments.
"""

import argparse
import json
import sys

import numpy as np
import onnx
import onnx.checker
import onnx.numpy_helper
import onnx.shape_inference


def attribute(node, name, default):
    """Return the value of the node's attribute name, or default when it is absent."""
    for a in node.attribute:
        if a.name == name:
            return onnx.helper.get_attribute_value(a)
    return default


def evaluate_nodes(model, rows):
    """Run the model's nodes in order with numpy, in float32, and return its outputs."""
    graph = model.graph
    values = {t.name: onnx.numpy_helper.to_array(t).astype(np.float32) for t in graph.initializer}
    values[graph.input[0].name] = rows
    for node in graph.node:
        x = [values[name] for name in node.input]
        if node.op_type == "Gemm":
            a = x[0].T if attribute(node, "transA", 0) else x[0]
            b = x[1].T if attribute(node, "transB", 0) else x[1]
            y = np.float32(attribute(node, "alpha", 1.0)) * (a @ b)
            if len(x) > 2:
                y = y + np.float32(attribute(node, "beta", 1.0)) * x[2]
        elif node.op_type == "Relu":
            y = np.maximum(x[0], np.float32(0))
        elif node.op_type == "Tanh":
            y = np.tanh(x[0])
        else:
            raise ValueError(f"operator {node.op_type} is not one that SimShop exports")
        values[node.output[0]] = y.astype(np.float32)
    return {o.name: values[o.name] for o in graph.output}


def evaluate(model, rows):
    """Return the model's outputs for rows and the name of the evaluator used."""
    try:
        from onnx.reference import ReferenceEvaluator
    except ImportError:
        return evaluate_nodes(model, rows), "numpy"
    session = ReferenceEvaluator(model)
    outputs = session.run(None, {model.graph.input[0].name: rows})
    return {o.name: v for o, v in zip(model.graph.output, outputs)}, "onnx.reference"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="ONNX file to check")
    parser.add_argument("--input", help="input rows as a JSON array of arrays of numbers")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()

    try:
        model = onnx.load(args.model)
        onnx.checker.check_model(model, full_check=True)
        inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True)
    except Exception as e:  # onnx raises several exception types for a bad file
        print(f"check_onnx: {args.model} is not a valid ONNX model: {e}", file=sys.stderr)
        return 1

    report = {
        "ir_version": model.ir_version,
        "opset": [{"domain": o.domain, "version": o.version} for o in model.opset_import],
        "producer": model.producer_name,
        "inputs": [shape_of(v) for v in inferred.graph.input],
        "outputs": [shape_of(v) for v in inferred.graph.output],
        "nodes": [n.op_type for n in model.graph.node],
        "metadata": {p.key: p.value for p in model.metadata_props},
    }
    if args.input is not None:
        try:
            rows = np.asarray(json.loads(args.input), dtype=np.float32)
        except ValueError as e:
            print(f"check_onnx: --input is not a JSON array of rows of numbers: {e}", file=sys.stderr)
            return 2
        width = report["inputs"][0]["shape"][-1]
        if rows.ndim != 2 or rows.shape[1] != width:
            print(f"check_onnx: --input has shape {list(rows.shape)}, but the model reads rows of {width} features",
                  file=sys.stderr)
            return 2
        outputs, evaluator = evaluate(model, rows)
        report["evaluator"] = evaluator
        report["outputs_values"] = {name: v.tolist() for name, v in outputs.items()}

    if args.json:
        json.dump(report, sys.stdout)
        print()
    else:
        for key, value in report.items():
            print(f"{key}: {value}")
    return 0


def shape_of(value_info):
    """Return the name and shape of a value, with symbolic dimensions as their names."""
    dims = []
    for d in value_info.type.tensor_type.shape.dim:
        dims.append(d.dim_param if d.HasField("dim_param") else d.dim_value)
    return {"name": value_info.name, "elem_type": value_info.type.tensor_type.elem_type, "shape": dims}


if __name__ == "__main__":
    sys.exit(main())
