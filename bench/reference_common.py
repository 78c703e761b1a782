"""What the PyTorch and JAX references share: flags that mirror egc_train, loading egc's
initial parameters and exported batches, segment splits, the step loop and its timing, JSON out.

No framework import here, and numpy only inside the functions that read files, so bench/compare
can use the rest with any python3.
"""
from __future__ import annotations

import argparse
import ctypes
import json
import math
import os
import platform
import re
import statistics
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass
from typing import Callable

import egc_modules

REFERENCE_VERSION = 1
ACTIVATIONS = ("relu", "gelu", "tanh")
OPTIMIZERS = ("sgd", "adam")
BLOCKS = ("plain", "residual")
NORMS = ("layernorm", "none")
LOSSES = ("mse", "cross-entropy")


class UsageError(Exception):
    """Bad input: printed as one line naming the flag, exit code 2 (as egc_train does)."""


# ---------------------------------------------------------------------------------------------
# Flags


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise ValueError(text)
    return value


def non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise ValueError(text)
    return value


def positive_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value) or value <= 0:
        raise ValueError(text)
    return value


def unit_float(text: str) -> float:
    """A coefficient in [0, 1): Adam's betas."""
    value = float(text)
    if not 0.0 <= value < 1.0:
        raise ValueError(text)
    return value


def momentum_float(text: str) -> float:
    """SGD momentum in [0, 1], as egc_train accepts."""
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise ValueError(text)
    return value


def probability(text: str) -> float:
    """Dropout in [0, 1), as egc_train accepts."""
    value = float(text)
    if not 0.0 <= value < 1.0:
        raise ValueError(text)
    return value


def widths_list(text: str) -> list[int]:
    return [positive_int(part) for part in text.split(",")]


def make_parser(description: str) -> argparse.ArgumentParser:
    """The flags both references take; names, defaults and meaning are egc_train's."""
    parser = argparse.ArgumentParser(description=description)
    model = parser.add_argument_group("model (as egc_train)")
    model.add_argument("--layers", type=positive_int, metavar="N", help="hidden layers (default 8)")
    model.add_argument("--width", type=positive_int, metavar="H", help="width of every hidden layer (default 64)")
    model.add_argument("--widths", type=widths_list, metavar="W1,W2,...", help="unequal hidden widths W1,W2,... (instead of --layers/--width)")
    model.add_argument("--in", dest="in_features", type=positive_int, metavar="D", default=1, help="input features (default 1)")
    model.add_argument("--out", dest="out_features", type=positive_int, metavar="D",
                       help="output features (default 1; --classes with cross-entropy)")
    model.add_argument("--activation", choices=ACTIVATIONS, default="relu")
    model.add_argument("--batch", type=positive_int, metavar="B", default=128, help="samples per micro-batch (default 128)")
    model.add_argument("--block", choices=BLOCKS, default="plain", help="plain layers or residual blocks (--layers of them)")
    model.add_argument("--norm", choices=NORMS, default="layernorm", help="residual blocks: LayerNorm or none")
    model.add_argument("--expand", type=positive_int, default=4, metavar="E", help="residual blocks: inner width E x width")
    model.add_argument("--dropout", type=probability, default=0.0, metavar="P", help="dropout probability (default 0)")
    model.add_argument("--loss", choices=LOSSES, default="mse")
    model.add_argument("--classes", type=positive_int, metavar="K", help="classes for --loss cross-entropy")
    train = parser.add_argument_group("training (as egc_train)")
    train.add_argument("--optimizer", choices=OPTIMIZERS, default="sgd")
    train.add_argument("--lr", type=positive_float, metavar="RATE", help="learning rate (default 0.01 for sgd, 0.001 for adam)")
    train.add_argument("--momentum", type=momentum_float, metavar="M", default=0.9, help="SGD momentum (default 0.9; 0: plain SGD)")
    train.add_argument("--beta1", type=unit_float, metavar="B", default=0.9)
    train.add_argument("--beta2", type=unit_float, metavar="B", default=0.999)
    train.add_argument("--eps", type=positive_float, metavar="EPS", default=1e-8)
    train.add_argument("--accumulate", type=positive_int, metavar="K", default=1, help="micro-batches per step, each loss scaled by 1/K")
    train.add_argument("--tf32", action="store_true", help="allow TF32 matrix products on the GPU (default: exact float32, as egc)")
    run = parser.add_argument_group("this run")
    run.add_argument("--init", required=True, metavar="FILE", help="initial parameters: egc_train --steps 0 --save FILE")
    run.add_argument("--batches", required=True, metavar="FILE", help="dataset and batch rows: egc_train --export-batches FILE")
    run.add_argument("--steps", type=positive_int, metavar="N",
                     help="steps replayed from --batches whose losses are logged (default: every exported step)")
    run.add_argument("--segments", type=non_negative_int, default=0, metavar="S",
                     help="0: no checkpointing; S >= 1: checkpoint the chain in S segments")
    run.add_argument("--device", choices=("cuda", "cpu"), default="cuda")
    run.add_argument("--warmup", type=non_negative_int, default=5, metavar="W", help="untimed steps first (default 5)")
    run.add_argument("--timed", type=positive_int, default=20, metavar="N", help="timed steps after warm-up (default 20)")
    run.add_argument("--json", metavar="OUT", help="write the results as JSON to OUT")
    return parser


@dataclass(frozen=True)
class ModelConfig:
    widths: list[int]  # [in, hidden..., out]
    activation: str
    batch: int
    optimizer: str
    lr: float
    momentum: float
    beta1: float
    beta2: float
    eps: float
    accumulate: int
    block: str = "plain"
    norm: str = "layernorm"
    expand: int = 4
    dropout: float = 0.0
    loss: str = "mse"

    @property
    def layers(self) -> int:
        """Units of the chain (egc's plan.layers): the hidden layers and the output Linear, or the
        input projection, the blocks and the head."""
        return len(self.widths) - 1 + (1 if self.block == "residual" else 0)

    @property
    def target_columns(self) -> int:
        return 1 if self.loss == "cross-entropy" else self.widths[-1]


def model_config(args: argparse.Namespace) -> ModelConfig:
    if args.widths is not None and (args.layers is not None or args.width is not None):
        raise UsageError("--widths: give either --widths or --layers/--width, not both")
    if args.block == "residual" and args.widths is not None:
        raise UsageError("--widths: residual blocks share one width (give --layers and --width)")
    hidden = args.widths if args.widths is not None else [args.width or 64] * (args.layers or 8)
    lr = args.lr if args.lr is not None else (0.01 if args.optimizer == "sgd" else 0.001)
    if args.loss == "cross-entropy":
        if args.classes is None or args.classes < 2:
            raise UsageError("--classes: --loss cross-entropy needs at least 2 classes")
        if args.out_features is not None and args.out_features != args.classes:
            raise UsageError(f"--out: {args.out_features}, but --classes {args.classes} needs {args.classes} outputs")
        out = args.classes
    else:
        if args.classes is not None:
            raise UsageError("--classes: only with --loss cross-entropy")
        out = args.out_features or 1
    return ModelConfig([args.in_features, *hidden, out], args.activation, args.batch, args.optimizer, lr,
                       args.momentum, args.beta1, args.beta2, args.eps, args.accumulate, args.block, args.norm,
                       args.expand, args.dropout, args.loss)


# ---------------------------------------------------------------------------------------------
# egc's files


def load_run(args: argparse.Namespace):
    """Everything a reference needs before its framework starts, checked flag by flag:
    (model config, initial layers, batches, replayed steps, steps to run)."""
    config = model_config(args)
    check_segments(args.segments, config.layers)
    check_writable(args.json, "--json")
    init = load_init(args.init, config)
    batches = load_batches(args.batches, config)
    replayed, total = steps_to_run(args, batches)
    return config, init, batches, replayed, total


def load_init(path: str, config: ModelConfig) -> dict[str, np.ndarray]:
    """egc's initial parameters: the state_dict {name: array}, every name and shape checked."""
    import numpy as np

    tensors = load_safetensors(path, "--init")
    shapes = egc_modules.state_shapes(config)
    state = {name: expect(tensors, name, shape, np.float32, path, "--init") for name, shape in shapes.items()}
    extra = set(tensors) - set(shapes)
    if extra:
        raise UsageError(f"--init: {path} holds tensors the model does not have: {sorted(extra)[:4]} "
                         "(check --layers/--width/--widths/--in/--out/--block/--norm/--dropout)")
    return state


@dataclass
class Batches:
    inputs: np.ndarray  # [rows, in] float32: the whole dataset, resident on the device like egc's
    targets: np.ndarray  # [rows, out] float32
    rows: np.ndarray  # [steps * accumulate, batch] int64: the rows of every micro-batch, in order
    steps: int  # optimizer steps exported


def load_batches(path: str, config: ModelConfig) -> Batches:
    import numpy as np

    tensors = load_safetensors(path, "--batches")
    inputs = expect(tensors, "inputs", (None, config.widths[0]), np.float32, path, "--batches")
    targets = expect(tensors, "targets", (inputs.shape[0], config.target_columns), np.float32, path, "--batches")
    rows = expect(tensors, "batch_rows", (None, config.batch), np.int64, path, "--batches")
    if rows.shape[0] % config.accumulate:
        raise UsageError(f"--accumulate: {rows.shape[0]} exported micro-batches are not a multiple of {config.accumulate}")
    if rows.size and (rows.min() < 0 or rows.max() >= inputs.shape[0]):
        raise UsageError(f"--batches: {path} has batch rows outside its {inputs.shape[0]} dataset rows")
    steps = rows.shape[0] // config.accumulate
    if steps == 0:
        raise UsageError(f"--batches: {path} holds no batch (was egc_train run with --steps 0?)")
    return Batches(inputs, targets, rows, steps)


def load_safetensors(path: str, flag: str) -> dict[str, np.ndarray]:
    from safetensors.numpy import load_file

    try:
        return load_file(path)
    except FileNotFoundError:
        raise UsageError(f"{flag}: {path} does not exist") from None
    except Exception as error:  # safetensors raises its own types for corrupt files
        raise UsageError(f"{flag}: {path} is not a readable safetensors file ({error})") from None


def expect(tensors: dict[str, np.ndarray], name: str, shape: tuple, dtype, path: str, flag: str) -> np.ndarray:
    """The tensor `name`, checked for dtype and shape (None in `shape`: any size)."""
    import numpy as np

    if name not in tensors:
        raise UsageError(f"{flag}: {path} has no tensor '{name}'")
    tensor = tensors[name]
    if tensor.dtype != dtype or len(tensor.shape) != len(shape) or any(
            want is not None and want != have for want, have in zip(shape, tensor.shape)):
        want = "[" + ", ".join("*" if s is None else str(s) for s in shape) + "]"
        raise UsageError(f"{flag}: {path}: '{name}' is {tensor.dtype} {list(tensor.shape)}, the model needs "
                         f"{np.dtype(dtype).name} {want} (check the model flags)")
    return tensor


def egc_segments(report: dict) -> list[int]:
    """Segment lengths (first layer first) of the schedule in an egc_train --report.

    The backward pass first runs the final segment's layers (kept, no recompute), then, per earlier
    segment, one run of recompute ops followed by that segment's backward ops. A segment of L layers
    recomputes L - 1 of them (its last output is the kept checkpoint), so its length is the run's
    length + 1. Exact whenever every non-final segment has 2 or more layers, which sqrtn's
    longer-first split guarantees for n >= 2 (and for none there is no recompute: one segment).
    """
    ops = report["plan"]["ops"]
    lengths: list[int] = []
    final = 0
    run = 0
    for op in ops:
        if op["kind"] == "recompute":
            run += 1
        elif op["kind"] == "backward" and run:
            lengths.append(run + 1)
            run = 0
        elif op["kind"] == "backward" and not lengths:
            final += 1
    segments = list(reversed(lengths)) + [final]
    if sum(segments) != report["plan"]["layers"]:
        raise ValueError(f"segments {segments} do not add up to the plan's {report['plan']['layers']} layers")
    return segments


def egc_split(layers: int, segments: int) -> list[int]:
    """egc's split of `layers` into `segments` of nearly equal length, the longer first."""
    base, extra = divmod(layers, segments)
    return [base + 1] * extra + [base] * (segments - extra)


def checkpoint_sequential_split(layers: int, segments: int) -> list[int]:
    """torch.utils.checkpoint.checkpoint_sequential's split: S - 1 segments of floor(n / S), the rest last."""
    size = layers // segments
    return [size] * (segments - 1) + [layers - size * (segments - 1)]


def check_segments(segments: int, layers: int) -> None:
    if segments > layers:
        raise UsageError(f"--segments: {segments} is more than the chain's {layers} layers")


# ---------------------------------------------------------------------------------------------
# The step loop and its timing


class WallTimer:
    """perf_counter around each step; `sync` waits for the step's device work (JAX, CPU)."""

    name = "perf_counter"

    def __init__(self, sync: Callable[[], None] = lambda: None):
        self.sync = sync
        self.times_ms: list[float] = []
        self._start = 0.0

    def start(self) -> None:
        self._start = time.perf_counter()

    def stop(self) -> None:
        self.sync()
        self.times_ms.append((time.perf_counter() - self._start) * 1e3)

    def elapsed_ms(self) -> list[float]:
        return self.times_ms


def run_steps(step: Callable[[int], object], total: int, exported: int, timer) -> list[object]:
    """Runs `total` steps; step i replays exported batch i mod `exported` (cyclic past the export).

    Returns what each step returned (its loss, left on the device so no timed step reads it back).
    """
    losses = []
    for i in range(total):
        timer.start()
        losses.append(step(i % exported))
        timer.stop()
    return losses


def steps_to_run(args: argparse.Namespace, batches: Batches) -> tuple[int, int]:
    """(replayed steps whose losses are compared, steps run in all)."""
    replayed = args.steps if args.steps is not None else batches.steps
    if replayed > batches.steps:
        raise UsageError(f"--steps: {replayed} steps asked for, {args.batches} holds {batches.steps} "
                         f"(run egc_train with --steps {replayed} or more)")
    return replayed, max(replayed, args.warmup + args.timed)


def timing_summary(times_ms: list[float], warmup: int, timer_name: str) -> dict:
    timed = times_ms[warmup:]
    return {"timer": timer_name, "warmup": warmup, "timed": len(timed),
            "step_ms": statistics.median(timed), "step_ms_min": min(timed), "step_ms_all": timed}


def loss_log(losses: list[float], replayed: int) -> list[dict]:
    return [{"step": i + 1, "loss": float(loss)} for i, loss in enumerate(losses[:replayed])]


# ---------------------------------------------------------------------------------------------
# Kernel profiles (PyTorch's profiler in torch_reference, Nsight Compute on egc in compare)

# Kernel names of matrix products in cuBLAS, cuBLASLt and CUTLASS builds (sm80/sm90 variants).
GEMM_KERNEL = re.compile(r"gemm|cutlass|xmma|sm90_|sm80_|ampere_|cublas", re.IGNORECASE)


def kernel_summary(kernels: dict[str, tuple[float, float]], steps: float, wall_ms: float | None) -> dict:
    """Per step: kernel time, its GEMM share, launches, the time no kernel ran, the top kernels.

    `kernels` maps a kernel name to (total ms, calls) over `steps` steps; `wall_ms` is the steps'
    total wall time (None: unknown), so wall - kernel time is what launches, host work and
    synchronisation cost (kernels of one stream do not overlap)."""
    kernel_ms = sum(ms for ms, _ in kernels.values())
    gemm_ms = sum(ms for name, (ms, _) in kernels.items() if GEMM_KERNEL.search(name))
    top = sorted(kernels.items(), key=lambda item: item[1][0], reverse=True)[:8]
    return {
        "steps": steps,
        "wall_ms_per_step": wall_ms / steps if wall_ms is not None else None,
        "kernel_ms_per_step": kernel_ms / steps,
        "gemm_ms_per_step": gemm_ms / steps,
        "gemm_share_of_kernel_time": gemm_ms / kernel_ms if kernel_ms else None,
        "idle_ms_per_step": (wall_ms - kernel_ms) / steps if wall_ms is not None else None,
        "kernel_launches_per_step": sum(calls for _, calls in kernels.values()) / steps,
        "top_kernels": [{"name": name[:160], "ms_per_step": ms / steps, "calls_per_step": calls / steps}
                        for name, (ms, calls) in top],
    }


# ---------------------------------------------------------------------------------------------
# Device memory through the CUDA driver (for JAX, which has no mem_get_info of its own)


class CudaDriverMemory:
    """cuMemGetInfo on device 0's primary context, the one PyTorch and JAX use; retained here for
    the life of the process, so it cannot be destroyed between two readings."""

    def __init__(self):
        self.lib = ctypes.CDLL("libcuda.so.1")
        self._check(self.lib.cuInit(0), "cuInit")
        device = ctypes.c_int()
        self._check(self.lib.cuDeviceGet(ctypes.byref(device), 0), "cuDeviceGet")
        self.context = ctypes.c_void_p()
        self._check(self.lib.cuDevicePrimaryCtxRetain(ctypes.byref(self.context), device), "cuDevicePrimaryCtxRetain")

    def free_and_total(self) -> tuple[int, int]:
        free, total = ctypes.c_size_t(), ctypes.c_size_t()
        self._check(self.lib.cuCtxPushCurrent_v2(self.context), "cuCtxPushCurrent")
        try:
            self._check(self.lib.cuMemGetInfo_v2(ctypes.byref(free), ctypes.byref(total)), "cuMemGetInfo")
        finally:
            self.lib.cuCtxPopCurrent_v2(ctypes.byref(ctypes.c_void_p()))
        return free.value, total.value

    @staticmethod
    def _check(status: int, call: str) -> None:
        if status != 0:
            raise RuntimeError(f"{call} failed with CUDA driver error {status}")


def device_used(baseline_free: int, free_now: int, total: int) -> dict:
    return {"device_used_bytes": baseline_free - free_now, "baseline_free_bytes": baseline_free,
            "device_total_bytes": total}


# ---------------------------------------------------------------------------------------------
# Output


def result_document(system: str, system_version: str, args: argparse.Namespace, config: ModelConfig,
                    device_name: str, segment_lengths: list[int], training: dict, memory: dict) -> dict:
    return {
        "reference_version": REFERENCE_VERSION,
        "system": system,
        "system_version": system_version,
        "device": args.device,
        "device_name": device_name,
        "config": {
            "widths": config.widths, "activation": config.activation, "batch": config.batch,
            "block": config.block, "norm": config.norm, "expand": config.expand, "dropout": config.dropout,
            "loss": config.loss,
            "optimizer": config.optimizer, "lr": config.lr, "momentum": config.momentum,
            "beta1": config.beta1, "beta2": config.beta2, "eps": config.eps, "accumulate": config.accumulate,
            "segments": args.segments, "segment_lengths": segment_lengths, "tf32": args.tf32,
            "init": args.init, "batches": args.batches, "python": sys.version.split()[0],
            "host": platform.node(),
        },
        "training": training,
        "memory": memory,
    }


def host_cpu_name() -> str:
    """The CPU's model name (Linux), else what platform knows."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "cpu"


def write_json(document: dict, path: str | None) -> None:
    """Prints a one-line summary; writes `document` to `path` through a temporary file and a rename."""
    training, memory = document["training"], document["memory"]
    last = training["loss"][-1] if training["loss"] else None
    print(f"{document['system']} {document['device']} segments={document['config']['segments']}: "
          f"step {training['step_ms']:.3f} ms (median of {training['timed']}), "
          f"loss at step {last['step'] if last else '-'} = {last['loss'] if last else '-'}, "
          f"memory {json.dumps({k: v for k, v in memory.items() if k.endswith('_bytes')})}")
    if not path:
        return
    directory = os.path.dirname(os.path.abspath(path))
    handle, temporary = tempfile.mkstemp(prefix=".tmp.", dir=directory)
    with os.fdopen(handle, "w") as out:
        json.dump(document, out, indent=2)
        out.write("\n")
    os.replace(temporary, path)


def check_writable(path: str | None, flag: str) -> None:
    if path and not os.access(os.path.dirname(os.path.abspath(path)) or ".", os.W_OK):
        raise UsageError(f"{flag}: cannot write {path} (its folder is missing or not writable)")


def run_main(main: Callable[[], None]) -> None:
    """Usage errors: one line, exit 2. Anything else: the traceback, exit 1."""
    program = os.path.basename(sys.argv[0])
    try:
        main()
    except UsageError as error:
        print(f"{program}: error: {error}", file=sys.stderr)
        sys.exit(2)
    except Exception:
        traceback.print_exc()
        sys.exit(1)
