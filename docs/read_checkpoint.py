#!/usr/bin/python3
"""Read a SimShop checkpoint without Go: verify it, summarise it, and run its network.

The format is specified in docs/checkpoint-format.md. This reader follows that document
alone and needs only msgpack and numpy (Debian: apt-get install python3-msgpack
python3-numpy).

    /usr/bin/python3 docs/read_checkpoint.py runs/cb/checkpoints/latest.msgpack
    /usr/bin/python3 docs/read_checkpoint.py FILE --input '[[0.5, 1.0, ...]]' --json

With --input, a JSON array of feature rows, it also computes the network's outputs by
walking graph.nodes. It exits with status 1 and a message naming the file on any error.
"""

import argparse
import hashlib
import json
import math
import sys

import msgpack
import numpy as np

MAGIC = "SIMSHOP-CHECKPOINT"
NEWEST_VERSION = 1
MAX_FILE_BYTES = 1 << 30

# The tensor groups of a version 1 file, as paths from the top-level map.
TENSOR_GROUPS = [
    ("graph", "initializers"),
    ("training", "target"),
    ("training", "adam_m"),
    ("training", "adam_v"),
]


class CheckpointError(Exception):
    """A file that is not a valid SimShop checkpoint."""


def load(path):
    """Read, decode and check the checkpoint at path; return its top-level map."""
    with open(path, "rb") as f:
        data = f.read(MAX_FILE_BYTES + 1)
    if not data:
        raise CheckpointError("the file is empty; it is not a SimShop checkpoint")
    if len(data) > MAX_FILE_BYTES:
        raise CheckpointError(f"the file is larger than {MAX_FILE_BYTES} bytes; it is not a SimShop checkpoint")
    try:
        doc = msgpack.unpackb(data, raw=False)
    except msgpack.ExtraData:
        raise CheckpointError("bytes follow the end of the msgpack map: the file is corrupted")
    except (ValueError, TypeError, msgpack.UnpackException) as e:
        raise CheckpointError(f"the file is not msgpack, or it is truncated or corrupted: {e}")
    if not isinstance(doc, dict):
        raise CheckpointError("the file is not a SimShop checkpoint: it is not a msgpack map")

    magic = doc.get("magic")
    if magic != MAGIC:
        raise CheckpointError(f"wrong magic string {str(magic)[:40]!r}, want {MAGIC!r}: the file is not a SimShop checkpoint")
    version = doc.get("format_version")
    if not isinstance(version, int) or not 1 <= version <= NEWEST_VERSION:
        raise CheckpointError(f"format version {version!r} is not supported: this reader reads versions 1 to {NEWEST_VERSION}")

    for group in TENSOR_GROUPS:
        for tensor in tensors_of(doc, group):
            check_tensor(tensor, ".".join(group))
    return doc


def section(doc, key):
    """Return the map at doc[key]; msgpack nil means an empty map."""
    value = doc.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise CheckpointError(f"field {key!r} is not a map")
    return value


def tensors_of(doc, group):
    """Return the list of tensors at a path such as ("graph", "initializers")."""
    tensors = section(doc, group[0]).get(group[1])
    if tensors is None:
        return []
    if not isinstance(tensors, list) or not all(isinstance(t, dict) for t in tensors):
        raise CheckpointError(f"{'.'.join(group)} is not an array of tensor maps")
    return tensors


def check_tensor(tensor, where):
    """Check a tensor's dtype, its byte count against its shape, and its SHA-256."""
    name = tensor.get("name")
    if tensor.get("dtype") != "float32":
        raise CheckpointError(f"{where}: tensor {name!r} has dtype {tensor.get('dtype')!r}; version 1 stores only float32")
    shape = tensor.get("shape")
    if not isinstance(shape, list) or not all(isinstance(d, int) and d >= 0 for d in shape):
        raise CheckpointError(f"{where}: tensor {name!r} has invalid shape {shape!r}")
    data = tensor.get("data")
    if not isinstance(data, bytes) or len(data) != 4 * math.prod(shape):
        size = len(data) if isinstance(data, bytes) else "no"
        raise CheckpointError(f"{where}: tensor {name!r} has {size} bytes, but its shape {shape} needs {4 * math.prod(shape)}")
    if hashlib.sha256(data).digest() != tensor.get("sha256"):
        raise CheckpointError(f"{where}: tensor {name!r} fails its SHA-256 check: the file is corrupted")


def array(tensor):
    """Decode a checked tensor: little-endian float32, row-major."""
    return np.frombuffer(tensor["data"], dtype="<f4").reshape(tensor["shape"])


def run_graph(graph, x):
    """Compute the graph's outputs for the rows x, an array of shape [rows, inputs].

    Values are looked up by name: the graph input, the initializers, and the outputs of
    the nodes before. Nodes come in topological order.
    """
    inputs = graph.get("inputs") or []
    if len(inputs) != 1:
        raise CheckpointError(f"graph.inputs contains {len(inputs)} values; this reader needs exactly 1")
    width = inputs[0]["shape"][1]
    if x.ndim != 2 or x.shape[1] != width:
        raise CheckpointError(f"the input has shape {list(x.shape)}, but graph.inputs[0] needs [rows, {width}]")
    values = {inputs[0]["name"]: x.astype(np.float32)}
    for t in graph.get("initializers") or []:
        values[t["name"]] = array(t)

    for i, node in enumerate(graph.get("nodes") or []):
        op = node.get("op_type")
        attrs = node.get("attributes") or {}
        try:
            args = [values[name] for name in node["inputs"]]
        except KeyError as e:
            raise CheckpointError(f"graph.nodes[{i}] ({op}) reads {e.args[0]!r}, which no earlier node or initializer defines")
        if op == "Gemm":
            # Y = alpha * A' B' + beta * C, where A' and B' are A and B transposed when
            # transA and transB are 1, and C broadcasts over the rows.
            a, b = args[0], args[1]
            if attrs.get("transA", 0):
                a = a.T
            if attrs.get("transB", 0):
                b = b.T
            y = np.float32(attrs.get("alpha", 1.0)) * (a @ b)
            if len(args) > 2:
                y = y + np.float32(attrs.get("beta", 1.0)) * args[2]
        elif op == "Relu":
            y = np.maximum(args[0], np.float32(0))
        elif op == "Tanh":
            y = np.tanh(args[0])
        else:
            raise CheckpointError(f"graph.nodes[{i}] has op_type {op!r}; version 1 uses only Gemm, Relu and Tanh")
        values[node["outputs"][0]] = y

    return {o["name"]: values[o["name"]] for o in graph.get("outputs") or []}


def summary(doc):
    """Return the facts a person checks first, as a JSON-ready dict."""
    meta = section(doc, "metadata")
    training = section(doc, "training")
    graph = section(doc, "graph")
    catalog = meta.get("catalog") or {}
    tensors = []
    for group in TENSOR_GROUPS:
        for t in tensors_of(doc, group):
            tensors.append({
                "group": ".".join(group),
                "name": t["name"],
                "dtype": t["dtype"],
                "shape": t["shape"],
                "bytes": len(t["data"]),
                "sha256": t["sha256"].hex(),
            })
    return {
        "magic": doc["magic"],
        "format_version": doc["format_version"],
        "producer": doc.get("producer"),
        "created": doc.get("created"),
        "agent": meta.get("agent"),
        "shop": meta.get("shop"),
        "catalog": {
            "source": catalog.get("source"),
            "fingerprint": catalog.get("fingerprint"),
            "items": len(catalog.get("items") or []),
        },
        "seed": meta.get("seed"),
        "metrics": meta.get("metrics") or {},
        "graph": {
            "inputs": graph.get("inputs") or [],
            "outputs": graph.get("outputs") or [],
            "nodes": [f"{n.get('op_type')}({', '.join(n.get('inputs') or [])}) -> {', '.join(n.get('outputs') or [])}"
                      for n in graph.get("nodes") or []],
        },
        "tensors": tensors,
        "training": {k: training.get(k) for k in ("env_steps", "episodes", "updates", "epsilon", "adam_step", "replay_stored")},
    }


def print_summary(s, out):
    producer = s["producer"] or {}
    print(f"{s['magic']} version {s['format_version']}, written by {producer.get('name')} {producer.get('version')} at {s['created']}", file=out)
    print(f"agent {s['agent']}, shop {s['shop']}, seed {s['seed']}", file=out)
    c = s["catalog"]
    print(f"catalog {c['source']!r}: {c['items']} items, fingerprint {c['fingerprint']}", file=out)
    for name, value in sorted(s["metrics"].items()):
        print(f"  metric {name} = {value:.6g}", file=out)
    for v in s["graph"]["inputs"]:
        print(f"input  {v['name']} {v['dtype']} {v['shape']}", file=out)
    for v in s["graph"]["outputs"]:
        print(f"output {v['name']} {v['dtype']} {v['shape']}", file=out)
    for n in s["graph"]["nodes"]:
        print(f"node   {n}", file=out)
    print(f"{'group':<22} {'name':<16} {'shape':<12} {'bytes':>8}  sha256", file=out)
    for t in s["tensors"]:
        print(f"{t['group']:<22} {t['name']:<16} {str(t['shape']):<12} {t['bytes']:>8}  {t['sha256'][:16]}", file=out)
    print("training " + ", ".join(f"{k} {v}" for k, v in s["training"].items()), file=out)
    print("all tensors pass their SHA-256 check", file=out)


def main():
    parser = argparse.ArgumentParser(description="Verify and summarise a SimShop checkpoint, and run its network.")
    parser.add_argument("checkpoint", help="checkpoint file (.msgpack)")
    parser.add_argument("--input", metavar="JSON", help="feature rows as a JSON array of arrays; prints the network's outputs")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    args = parser.parse_args()

    try:
        doc = load(args.checkpoint)
        result = summary(doc)
        if args.input is not None:
            try:
                x = np.array(json.loads(args.input), dtype=np.float32)
            except (ValueError, TypeError) as e:
                raise CheckpointError(f"--input is not a JSON array of equal-length number rows: {e}")
            outputs = run_graph(section(doc, "graph"), x)
            result["outputs"] = {name: y.tolist() for name, y in outputs.items()}
    except OSError as e:
        sys.exit(f"read_checkpoint.py: {e}")
    except CheckpointError as e:
        sys.exit(f"read_checkpoint.py: {args.checkpoint}: {e}")

    if args.json:
        json.dump(result, sys.stdout, indent=2)
        print()
        return
    print_summary(result, sys.stdout)
    for name, rows in result.get("outputs", {}).items():
        print(f"{name} = {json.dumps(rows)}")


if __name__ == "__main__":
    main()
