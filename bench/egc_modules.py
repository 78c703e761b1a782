"""The PyTorch modules whose state_dict names egc_train --save writes (planner/parameter_tensors.h),
so that module.load_state_dict(safetensors.torch.load_file(FILE), strict=True) loads egc's file:

  plain chain      torch.nn.Sequential(Linear, act, [Dropout,] ..., Linear): "0.weight", "0.bias",
                   "2.weight", ... (plain_mlp below; the Linear of layer i is module 2i with no
                   dropout, 3i with it)
  residual model   ResidualMLP: "input.*", "blocks.B.norm.*", "blocks.B.fc1.*", "blocks.B.fc2.*",
                   "head.*"

state_shapes(config) lists those names and shapes for a reference_common.ModelConfig (the
references check egc's file against it). torch is imported by the functions that build modules,
so that this file can be imported without it.
"""
from __future__ import annotations


def activation_module(torch, name: str):
    nn = torch.nn
    return {"relu": nn.ReLU, "tanh": nn.Tanh, "gelu": lambda: nn.GELU(approximate="tanh")}[name]()


def residual_mlp_class(torch):
    """ResidualMLP and its Block as classes of this torch (defined lazily: no torch at import)."""
    nn = torch.nn

    class Block(nn.Module):
        """x + fc2(dropout(act(fc1(norm(x))))): egc's residual block, pre-LayerNorm (eps 1e-5)."""

        def __init__(self, width: int, inner: int, activation: str, norm: bool, dropout: float):
            super().__init__()
            self.norm = nn.LayerNorm(width) if norm else nn.Identity()
            self.fc1 = nn.Linear(width, inner)
            self.act = activation_module(torch, activation)
            self.drop = nn.Dropout(dropout)
            self.fc2 = nn.Linear(inner, width)

        def forward(self, x):
            return x + self.fc2(self.drop(self.act(self.fc1(self.norm(x)))))

    class ResidualMLP(nn.Module):
        """input: Linear(in, width); blocks: `blocks` Blocks of width, inner expand x width; head:
        Linear(width, out). egc_train --block residual --layers BLOCKS --width W --expand E."""

        def __init__(self, in_features: int, width: int, blocks: int, out_features: int, expand: int = 4,
                     activation: str = "relu", norm: bool = True, dropout: float = 0.0):
            super().__init__()
            self.input = nn.Linear(in_features, width)
            self.blocks = nn.ModuleList(Block(width, expand * width, activation, norm, dropout) for _ in range(blocks))
            self.head = nn.Linear(width, out_features)

        def forward(self, x, checkpoint_blocks: bool = False):
            x = self.input(x)
            for block in self.blocks:
                # Every block its own checkpoint: "x = checkpoint(block, x)", PyTorch preserving
                # the RNG state so that a recomputed dropout mask repeats.
                x = torch.utils.checkpoint.checkpoint(block, x, use_reentrant=False) if checkpoint_blocks else block(x)
            return self.head(x)

    return ResidualMLP


def plain_mlp(torch, widths: list[int], activation: str, dropout: float = 0.0):
    """nn.Sequential of Linear(widths[i], widths[i + 1]), each hidden one followed by the activation
    (and Dropout), the last without."""
    nn = torch.nn
    modules = []
    for i in range(len(widths) - 1):
        modules.append(nn.Linear(widths[i], widths[i + 1]))
        if i + 2 < len(widths):
            modules.append(activation_module(torch, activation))
            if dropout > 0:
                modules.append(nn.Dropout(dropout))
    return nn.Sequential(*modules)


def state_shapes(config) -> dict[str, tuple[int, ...]]:
    """The state_dict egc_train --save writes for a reference_common.ModelConfig (planner/parameter_tensors.h), in order:
    nn.Sequential's names for a plain chain, bench/egc_modules.py's ResidualMLP's for a residual one."""
    shapes: dict[str, tuple[int, ...]] = {}

    def linear(prefix: str, fan_in: int, fan_out: int) -> None:
        shapes[prefix + "weight"] = (fan_out, fan_in)
        shapes[prefix + "bias"] = (fan_out,)

    widths = config.widths
    if config.block == "plain":
        stride = 3 if config.dropout > 0 else 2  # Linear, activation[, Dropout]
        for i, (fan_in, fan_out) in enumerate(zip(widths[:-1], widths[1:])):
            linear(f"{stride * i}.", fan_in, fan_out)
        return shapes
    width, inner = widths[1], widths[1] * config.expand
    linear("input.", widths[0], width)
    for b in range(len(widths) - 2):
        if config.norm == "layernorm":
            shapes[f"blocks.{b}.norm.weight"] = (width,)
            shapes[f"blocks.{b}.norm.bias"] = (width,)
        linear(f"blocks.{b}.fc1.", width, inner)
        linear(f"blocks.{b}.fc2.", inner, width)
    linear("head.", width, widths[-1])
    return shapes


def linear_layers(state: dict) -> list[tuple]:
    """(weight [out, in], bias [out]) of a plain chain's Linears, in order."""
    weights = [name for name in state if name.endswith(".weight")]
    return [(state[name], state[name[:-len("weight")] + "bias"]) for name in weights]
