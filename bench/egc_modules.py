"""The PyTorch modules whose state_dict names egc_train --save writes (planner/parameter_tensors.h),
so that module.load_state_dict(safetensors.torch.load_file(FILE), strict=True) loads egc's file:

  plain chain      torch.nn.Sequential(Linear, act, [Dropout,] ..., Linear): "0.weight", "0.bias",
                   "2.weight", ... (plain_mlp below; the Linear of layer i is module 2i with no
                   dropout, 3i with it)
  residual model   ResidualMLP: "input.*", "blocks.B.norm.*", "blocks.B.fc1.*", "blocks.B.fc2.*",
                   "head.*"

torch is imported by the functions, so that this file can be read without it.
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
