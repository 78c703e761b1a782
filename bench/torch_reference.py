#!/usr/bin/env python3
"""The egc MLP in PyTorch: same widths, activation (plain layers or residual blocks), loss,
initial weights, batches, optimizer and lr, trained without checkpointing (--segments 0) or with
torch.utils.checkpoint.checkpoint_sequential over egc's units in S segments (use_reentrant=False).
Logs every replayed step's loss, times steps with CUDA events and measures peak memory three
ways. See README.md, "Side by side with PyTorch and JAX".
"""
from __future__ import annotations

import egc_modules
import reference_common as common


def parse_args():
    parser = common.make_parser(" ".join(__doc__.split("\n\n")[0].split()))
    parser.add_argument("--optim-impl", choices=("default", "foreach", "fused", "for-loop"), default="default",
                        help="torch.optim implementation (default: what torch picks, foreach on CUDA)")
    parser.add_argument("--profile", type=common.non_negative_int, default=0, metavar="N",
                        help="after the timed steps, profile N more steps with torch.profiler (GEMM share, "
                             "kernel time, gaps) into the JSON")
    return parser.parse_args()


def build_model(torch, config: common.ModelConfig, state, device):
    """egc_modules' model with egc's names, loaded from --init with load_state_dict(strict=True)."""
    if config.block == "residual":
        residual_mlp = egc_modules.residual_mlp_class(torch)
        model = residual_mlp(config.widths[0], config.widths[1], len(config.widths) - 2, config.widths[-1],
                             config.expand, config.activation, config.norm == "layernorm", config.dropout)
    else:
        model = egc_modules.plain_mlp(torch, config.widths, config.activation, config.dropout)
    model.load_state_dict({name: torch.from_numpy(value) for name, value in state.items()}, strict=True)
    return model.to(device)


def layer_blocks(torch, config: common.ModelConfig, model):
    """One module per egc unit (Linear + its activation [+ Dropout]; or the projection, each
    block, the head), sharing the model's parameters, so that checkpoint_sequential segments the
    chain at unit boundaries as egc does (segmenting the flat Sequential would split a Linear from
    its activation)."""
    if config.block == "residual":
        return torch.nn.Sequential(model.input, *model.blocks, model.head)
    children = list(model.children())
    per_layer = 3 if config.dropout > 0 else 2
    return torch.nn.Sequential(*[torch.nn.Sequential(*children[i:i + per_layer])
                                 for i in range(0, len(children), per_layer)])


def make_optimizer(torch, config: common.ModelConfig, parameters, impl: str):
    options = {"default": {}, "foreach": {"foreach": True}, "fused": {"fused": True},
               "for-loop": {"foreach": False}}[impl]
    if config.optimizer == "sgd":
        return torch.optim.SGD(parameters, lr=config.lr, momentum=config.momentum, **options)
    return torch.optim.Adam(parameters, lr=config.lr, betas=(config.beta1, config.beta2), eps=config.eps, **options)


class CudaEventTimer:
    """A CUDA event before and after each step; read once at the end, so no timed step waits."""

    name = "cuda events"

    def __init__(self, torch):
        self.torch = torch
        self.pairs = []

    def start(self) -> None:
        event = self.torch.cuda.Event(enable_timing=True)
        event.record()
        self.pairs.append([event, None])

    def stop(self) -> None:
        event = self.torch.cuda.Event(enable_timing=True)
        event.record()
        self.pairs[-1][1] = event

    def elapsed_ms(self) -> list[float]:
        self.torch.cuda.synchronize()
        return [begin.elapsed_time(end) for begin, end in self.pairs]


def profile_steps(torch, step, count: int, exported: int, cuda: bool) -> dict:
    """Kernel time per step, the GEMM share of it, and the gap to the step's wall time (launches,
    Python, synchronisation), from torch.profiler over `count` steps."""
    from torch.profiler import ProfilerActivity, profile

    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    timer = CudaEventTimer(torch) if cuda else common.WallTimer()
    with profile(activities=activities) as prof:
        common.run_steps(step, count, exported, timer)
        if cuda:
            torch.cuda.synchronize()
    kernels = {e.key: (e.self_device_time_total / 1e3, e.count) for e in prof.key_averages()
               if cuda and e.device_type == torch.autograd.DeviceType.CUDA and e.self_device_time_total > 0}
    return common.kernel_summary(kernels, count, sum(timer.elapsed_ms()))


def main() -> None:
    args = parse_args()
    config, init, batches, replayed, total = common.load_run(args)

    import torch

    cuda = args.device == "cuda"
    if cuda and not torch.cuda.is_available():
        raise common.UsageError("--device: cuda asked for, but torch sees no CUDA device")
    device = torch.device(args.device)
    if not cuda:
        # One thread, as egc's CPU reference backend; several OpenMP threads on a busy host spin
        # and make CPU step times erratic (seen: 1.6 ms and 330 ms for the same step).
        torch.set_num_threads(1)
    memory: dict = {}
    if cuda:
        # The first CUDA call creates the context; what is free right after it is the baseline of
        # "device used", so the context itself is not counted (egc's baseline excludes it too).
        baseline_free, total_bytes = torch.cuda.mem_get_info()
    torch.backends.cuda.matmul.allow_tf32 = args.tf32
    torch.backends.cudnn.allow_tf32 = args.tf32
    torch.set_float32_matmul_precision("high" if args.tf32 else "highest")

    model = build_model(torch, config, init, device)
    blocks = layer_blocks(torch, config, model)
    del init
    inputs = torch.from_numpy(batches.inputs).to(device)
    targets = torch.from_numpy(batches.targets).to(device)
    if config.loss == "cross-entropy":  # class indices, stored by egc as exact floats
        targets = targets[:, 0].long()
    rows = torch.from_numpy(batches.rows).to(device)
    optimizer = make_optimizer(torch, config, model.parameters(), args.optim_impl)
    loss_fn = torch.nn.CrossEntropyLoss() if config.loss == "cross-entropy" else torch.nn.MSELoss()
    scale = 1.0 / config.accumulate

    def forward(x):
        if args.segments == 0:
            return model(x)
        return torch.utils.checkpoint.checkpoint_sequential(blocks, args.segments, x, use_reentrant=False)

    def step(index: int):
        """One optimizer step on exported step `index`'s micro-batches; returns the mean loss (on device)."""
        optimizer.zero_grad(set_to_none=True)
        total_loss = None
        for micro in range(config.accumulate):
            batch_rows = rows[index * config.accumulate + micro]
            loss = loss_fn(forward(inputs.index_select(0, batch_rows)), targets.index_select(0, batch_rows))
            (loss * scale).backward()  # egc scales each micro-batch loss by 1/K before its backward
            total_loss = loss.detach() if total_loss is None else total_loss + loss.detach()
        optimizer.step()
        return total_loss * scale

    if cuda:
        # Counted from here: the model and the dataset (already resident, as in egc's arena) plus
        # everything the steps allocate: gradients, optimizer state (torch creates it lazily at
        # the first step), activations, checkpoints, temporaries and the cuBLAS workspace.
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    timer = CudaEventTimer(torch) if cuda else common.WallTimer()
    losses = common.run_steps(step, total, batches.steps, timer)
    times_ms = timer.elapsed_ms()
    loss_values = torch.stack(losses).cpu().tolist()

    if cuda:
        stats = torch.cuda.memory_stats()
        free_now, _ = torch.cuda.mem_get_info()
        memory = {
            "allocated_peak_bytes": torch.cuda.max_memory_allocated(),
            "reserved_peak_bytes": torch.cuda.max_memory_reserved(),
            **common.device_used(baseline_free, free_now, total_bytes),
            # The caching allocator gives memory back only when an allocation fails and it retries;
            # with no retry, the free memory at the end is the least there was.
            "allocation_retries": stats.get("num_alloc_retries", 0),
            "methods": {
                "allocated": "torch.cuda.max_memory_allocated after reset_peak_memory_stats (model and data resident)",
                "reserved": "torch.cuda.max_memory_reserved: the caching allocator's segments",
                "device": "torch.cuda.mem_get_info: free right after context creation minus free after the run "
                          "(includes the cuBLAS handle's memory and lazily loaded kernel images)",
            },
        }
    else:
        memory = {"allocated_peak_bytes": None, "reserved_peak_bytes": None, "device_used_bytes": None}

    training = {"loss": common.loss_log(loss_values, replayed), "replayed_steps": replayed, "steps_run": total,
                **common.timing_summary(times_ms, args.warmup, timer.name)}
    if args.profile:
        try:  # a profiler failure costs the profile, not the run's numbers
            training["profile"] = profile_steps(torch, step, args.profile, batches.steps, cuda)
        except Exception as error:
            training["profile"] = {"error": f"{type(error).__name__}: {error}"}
    device_name = torch.cuda.get_device_name() if cuda else common.host_cpu_name()
    segment_lengths = (common.checkpoint_sequential_split(config.layers, args.segments) if args.segments
                       else [config.layers])
    document = common.result_document("torch", torch.__version__, args, config, device_name, segment_lengths,
                                      training, memory)
    document["config"]["optim_impl"] = args.optim_impl
    document["config"]["checkpoint"] = ("torch.utils.checkpoint.checkpoint_sequential(use_reentrant=False)"
                                        if args.segments else "none")
    common.write_json(document, args.json)


if __name__ == "__main__":
    common.run_main(main)
