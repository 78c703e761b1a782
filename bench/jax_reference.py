#!/usr/bin/env python3
"""The egc MLP in JAX: same widths, activation, initial weights, batches and optimizer (PyTorch's
SGD-momentum and Adam formulas, written out), trained without checkpointing (--segments 0) or with
jax.checkpoint on S segments split as egc splits them. One jitted step (parameters and optimizer
state donated), timed with block_until_ready. See README.md, "Side by side with PyTorch and JAX".
"""
from __future__ import annotations

import os

import egc_modules
import reference_common as common


def parse_args():
    return common.make_parser(" ".join(__doc__.split("\n\n")[0].split())).parse_args()


def configure_environment(args) -> None:
    """Before jax is imported: pick the platform and let XLA's allocator grow on demand (by
    default it takes 75% of the GPU at start, which would make device memory say nothing)."""
    os.environ["JAX_PLATFORMS"] = "cuda" if args.device == "cuda" else "cpu"
    os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")


def activation_fn(jax, name: str):
    return {"relu": jax.nn.relu, "tanh": jax.numpy.tanh,
            "gelu": lambda x: jax.nn.gelu(x, approximate=True)}[name]  # PyTorch's approximate='tanh'


def make_forward(jax, config: common.ModelConfig, segment_lengths: list[int], checkpoint: bool):
    """forward(params, x): the chain, each segment but the last wrapped in jax.checkpoint (the
    last one's activations are needed at once by the backward pass, as in checkpoint_sequential)."""
    act = activation_fn(jax, config.activation)
    last = config.layers - 1

    def run_layers(first: int, count: int):
        def segment(params, x):
            for i in range(first, first + count):
                weight, bias = params[i]
                x = x @ weight.T + bias  # PyTorch's layout: weight is [out, in]
                if i != last:
                    x = act(x)
            return x
        return segment

    segments, first = [], 0
    for index, count in enumerate(segment_lengths):
        segment = run_layers(first, count)
        segments.append(jax.checkpoint(segment) if checkpoint and index + 1 < len(segment_lengths) else segment)
        first += count

    def forward(params, x):
        for segment in segments:
            x = segment(params, x)
        return x

    return forward


def make_update(jax, config: common.ModelConfig):
    """PyTorch's SGD (momentum, no dampening; the buffer starts at the first gradient, which is what
    0 * momentum + grad gives) and Adam (bias corrections as torch.optim.Adam computes them)."""
    jnp = jax.numpy
    tree = jax.tree_util

    def init(params):
        zeros = tree.tree_map(jnp.zeros_like, params)
        if config.optimizer == "sgd":
            return {"velocity": zeros} if config.momentum else {}
        return {"m": zeros, "v": tree.tree_map(jnp.zeros_like, params)}

    def update(params, state, grads, step):  # step counts from 1
        if config.optimizer == "sgd":
            if not config.momentum:
                return tree.tree_map(lambda p, g: p - config.lr * g, params, grads), state
            velocity = tree.tree_map(lambda b, g: config.momentum * b + g, state["velocity"], grads)
            return tree.tree_map(lambda p, b: p - config.lr * b, params, velocity), {"velocity": velocity}
        b1, b2 = config.beta1, config.beta2
        m = tree.tree_map(lambda m, g: b1 * m + (1 - b1) * g, state["m"], grads)
        v = tree.tree_map(lambda v, g: b2 * v + (1 - b2) * g * g, state["v"], grads)
        t = step.astype(jnp.float32)
        step_size = config.lr / (1 - b1 ** t)
        sqrt_bc2 = jnp.sqrt(1 - b2 ** t)
        params = tree.tree_map(lambda p, m, v: p - step_size * m / (jnp.sqrt(v) / sqrt_bc2 + config.eps), params, m, v)
        return params, {"m": m, "v": v}

    return init, update


def make_step(jax, config: common.ModelConfig, forward, update):
    """step(params, state, index, step, inputs, targets, rows) -> (params, state, mean loss).

    Exported step `index` picks its micro-batches' rows from `rows` on the device; each micro-batch
    loss is scaled by 1/K before its gradient (as egc and the PyTorch reference do)."""
    jnp = jax.numpy
    scale = 1.0 / config.accumulate

    def scaled_loss(params, x, y):
        loss = jnp.mean((forward(params, x) - y) ** 2)
        return loss * scale, loss

    gradient = jax.grad(scaled_loss, has_aux=True)

    def step(params, state, index, step_number, inputs, targets, rows):
        grads, loss_sum = None, 0.0
        for micro in range(config.accumulate):
            batch_rows = jax.lax.dynamic_index_in_dim(rows, index * config.accumulate + micro, keepdims=False)
            g, loss = gradient(params, jnp.take(inputs, batch_rows, axis=0), jnp.take(targets, batch_rows, axis=0))
            grads = g if grads is None else jax.tree_util.tree_map(jnp.add, grads, g)
            loss_sum = loss_sum + loss
        params, state = update(params, state, grads, step_number)
        return params, state, loss_sum * scale

    return jax.jit(step, donate_argnums=(0, 1))


def planned_bytes(compiled) -> dict:
    """XLA's own plan for one step: arguments + outputs - donated (aliased) + temporaries."""
    try:
        stats = compiled.memory_analysis()
    except Exception:  # not every backend or version provides it
        return {}
    if stats is None:
        return {}
    return {"xla_planned_bytes": stats.argument_size_in_bytes + stats.output_size_in_bytes
            - stats.alias_size_in_bytes + stats.temp_size_in_bytes,
            "xla_temp_bytes": stats.temp_size_in_bytes}


def main() -> None:
    args = parse_args()
    config, state, batches, replayed, total = common.load_run(args)
    if config.block != "plain" or config.loss != "mse" or config.dropout > 0:
        raise common.UsageError("--block/--loss/--dropout: the JAX reference covers plain MSE chains without dropout "
                                "(residual blocks and cross-entropy are compared with PyTorch)")
    init = egc_modules.linear_layers(state)

    configure_environment(args)
    cuda = args.device == "cuda"
    import jax
    import jax.numpy as jnp

    # egc computes in exact float32 unless --tf32; JAX's GPU default would use TF32.
    jax.config.update("jax_default_matmul_precision", "tensorfloat32" if args.tf32 else "highest")
    try:
        device = jax.devices()[0]
    except RuntimeError as error:
        raise common.UsageError(f"--device: {args.device} asked for, but JAX has no such device ({error})") from None
    driver, baseline_in_use = None, 0
    if cuda:
        # XLA has created its context (the device's primary one) and allocated nothing yet with
        # preallocation off: the baseline of "device used" is taken here, so the context is not
        # counted. Creating the context ourselves first could give it other flags than XLA asks for.
        # Without the driver library the run goes on and reports no "device used".
        baseline_in_use = (device.memory_stats() or {}).get("bytes_in_use", 0)
        try:
            driver = common.CudaDriverMemory()
            baseline_free, total_bytes = driver.free_and_total()
        except (OSError, RuntimeError) as error:
            print(f"jax_reference: no device memory baseline: {error}", file=common.sys.stderr)

    segment_lengths = common.egc_split(config.layers, args.segments) if args.segments else [config.layers]
    forward = make_forward(jax, config, segment_lengths, checkpoint=args.segments > 0)
    init_state, update = make_update(jax, config)
    params = [(jax.device_put(w, device), jax.device_put(b, device)) for w, b in init]
    del init
    state = init_state(params)
    data = [jax.device_put(a, device) for a in (batches.inputs, batches.targets, batches.rows)]
    jitted = make_step(jax, config, forward, update)
    # Compiled ahead, so no timed or warm-up step compiles, and XLA's plan can be read.
    compiled = jitted.lower(params, state, jnp.int32(0), jnp.int32(1), *data).compile()

    carry = {"params": params, "state": state, "count": 0}

    def step(index: int):
        carry["count"] += 1
        carry["params"], carry["state"], loss = compiled(carry["params"], carry["state"], jnp.int32(index),
                                                         jnp.int32(carry["count"]), *data)
        return loss

    timer = common.WallTimer(sync=lambda: jax.block_until_ready(carry["params"]))
    losses = common.run_steps(step, total, batches.steps, timer)
    loss_values = [float(x) for x in jax.device_get(losses)]

    memory: dict = {"allocated_peak_bytes": None, "reserved_peak_bytes": None, "device_used_bytes": None,
                    **planned_bytes(compiled)}
    if cuda:
        stats = device.memory_stats() or {}
        memory.update({
            "allocated_peak_bytes": stats.get("peak_bytes_in_use"),
            "reserved_peak_bytes": stats.get("peak_pool_bytes"),
            **(common.device_used(baseline_free, driver.free_and_total()[0], total_bytes) if driver else {}),
            "baseline_bytes_in_use": baseline_in_use,
            "methods": {
                "allocated": "memory_stats()['peak_bytes_in_use'] over the whole process (JAX cannot reset it; "
                             "includes compile-time autotuning buffers)",
                "reserved": "memory_stats()['peak_pool_bytes']: the BFC allocator's pool",
                "device": "cuMemGetInfo: free once JAX's backend is up (context created, nothing allocated) minus "
                          "free after the run",
                "xla_planned": "compiled.memory_analysis(): arguments + outputs - aliased + temporaries of one step",
            },
        })

    training = {"loss": common.loss_log(loss_values, replayed), "replayed_steps": replayed, "steps_run": total,
                **common.timing_summary(timer.elapsed_ms(), args.warmup, "perf_counter + block_until_ready")}
    document = common.result_document("jax", jax.__version__, args, config, device.device_kind if cuda else common.host_cpu_name(), segment_lengths,
                                      training, memory)
    document["config"]["checkpoint"] = "jax.checkpoint per segment, the last one not" if args.segments else "none"
    common.write_json(document, args.json)


if __name__ == "__main__":
    common.run_main(main)
