"""Tests of the bench scripts' own logic, standard library only (no torch, jax or numpy needed):
segment counts read from egc's reports, the two segment splits, the loss check, kernel profiles,
and bench/compare's flag errors. Run: python3 -m unittest discover -s bench -p 'test_*.py'
"""
from __future__ import annotations

import importlib.machinery
import importlib.util
import json
import math
import os
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import reference_common as common  # noqa: E402

EGC_TRAIN = os.environ.get("EGC_TRAIN", os.path.join(os.path.dirname(HERE), "build", "apps", "egc_train"))


def load_compare():
    """bench/compare has no .py suffix: load it as a module."""
    loader = importlib.machinery.SourceFileLoader("bench_compare", os.path.join(HERE, "compare"))
    spec = importlib.util.spec_from_loader("bench_compare", loader)
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_compare"] = module
    loader.exec_module(module)
    return module


compare = load_compare()


def egc_report(directory: str, plan: str, hidden: int) -> dict:
    path = os.path.join(directory, f"{plan}-{hidden}.json")
    subprocess.run([EGC_TRAIN, "--layers", str(hidden), "--width", "4", "--batch", "2", "--samples", "16",
                    "--device", "cpu", "--plan", plan, "--dry-run", "--schedule", "none", "--log-level", "off",
                    "--report", path], check=True, capture_output=True)
    with open(path) as f:
        return json.load(f)


class Splits(unittest.TestCase):
    def test_egc_split_puts_the_longer_segments_first(self):
        self.assertEqual(common.egc_split(7, 3), [3, 2, 2])
        self.assertEqual(common.egc_split(25, 5), [5] * 5)

    def test_checkpoint_sequential_split_puts_the_remainder_last(self):
        self.assertEqual(common.checkpoint_sequential_split(7, 3), [2, 2, 3])
        self.assertEqual(common.checkpoint_sequential_split(33, 6), [5, 5, 5, 5, 5, 8])
        self.assertEqual(common.checkpoint_sequential_split(16, 4), [4] * 4)

    def test_the_built_in_configurations_have_one_schedule_in_both_splits(self):
        for config in compare.CONFIGS:
            n = compare.config_units(config)
            s = round(math.sqrt(n))
            self.assertEqual(common.egc_split(n, s), common.checkpoint_sequential_split(n, s), config.name)


@unittest.skipUnless(os.access(EGC_TRAIN, os.X_OK), f"no egc_train at {EGC_TRAIN} (build egc first)")
class SegmentsFromReports(unittest.TestCase):
    def test_sqrtn_reports_give_round_sqrt_n_segments_split_as_egc_splits(self):
        with tempfile.TemporaryDirectory() as directory:
            for hidden in range(1, 40):
                n = hidden + 1
                segments = common.egc_segments(egc_report(directory, "sqrtn", hidden))
                self.assertEqual(segments, common.egc_split(n, max(1, round(math.sqrt(n)))), f"n = {n}")

    def test_plan_none_is_one_segment(self):
        with tempfile.TemporaryDirectory() as directory:
            self.assertEqual(common.egc_segments(egc_report(directory, "none", 6)), [7])


class LossCheck(unittest.TestCase):
    def runs(self, losses: list[float]):
        reference = compare.Run("c", "egc", "none", losses=[4.0, 3.0, 2.0])
        return [reference, compare.Run("c", "torch", "none", losses=losses)]

    def test_within_tolerance_passes(self):
        runs = self.runs([4.0, 3.0, 2.0 * (1 + 5e-4)])
        self.assertEqual(compare.check_losses(runs, 3, 1e-3), [])
        self.assertAlmostEqual(runs[1].max_rel_diff, 5e-4)

    def test_beyond_tolerance_nan_and_too_few_steps_fail(self):
        self.assertEqual(len(compare.check_losses(self.runs([4.0, 3.0, 2.1]), 3, 1e-3)), 1)
        self.assertEqual(len(compare.check_losses(self.runs([4.0, float("nan"), 2.0]), 3, 1e-3)), 1)
        self.assertEqual(len(compare.check_losses(self.runs([4.0, 3.0]), 3, 1e-3)), 1)


NCU_CSV = '''==PROF== Connected to process 1
"ID","Process ID","Process Name","Host Name","Kernel Name","Context","Stream","Block Size","Grid Size","Device","CC","Section Name","Metric Name","Metric Unit","Metric Value"
"0","1","egc_train","h","sm90_xmma_gemm_f32f32_nn","1","7","(256, 1, 1)","(16, 1, 1)","0","9.0","Command line profiler metrics","gpu__time_duration.sum","nsecond","1,500,000"
"1","1","egc_train","h","bias_activation_forward_kernel","1","7","(256, 1, 1)","(16, 1, 1)","0","9.0","Command line profiler metrics","gpu__time_duration.sum","usecond","500"
"2","1","egc_train","h","sm90_xmma_gemm_f32f32_nn","1","7","(256, 1, 1)","(16, 1, 1)","0","9.0","Command line profiler metrics","gpu__time_duration.sum","nsecond","1,000,000"
'''


class Profiles(unittest.TestCase):
    def test_ncu_csv_is_summed_per_kernel_in_milliseconds(self):
        with tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False) as f:
            f.write(NCU_CSV)
        try:
            kernels = compare.ncu_kernels(f.name)
        finally:
            os.unlink(f.name)
        self.assertEqual(kernels["sm90_xmma_gemm_f32f32_nn"], (2.5, 2))
        self.assertEqual(kernels["bias_activation_forward_kernel"], (0.5, 1))

    def test_summary_splits_gemm_time_and_idle_time(self):
        summary = common.kernel_summary({"sm90_xmma_gemm": (3.0, 4), "relu_forward_kernel": (1.0, 2)}, 2, 6.0)
        self.assertEqual(summary["kernel_ms_per_step"], 2.0)
        self.assertEqual(summary["gemm_share_of_kernel_time"], 0.75)
        self.assertEqual(summary["idle_ms_per_step"], 1.0)
        self.assertEqual(summary["kernel_launches_per_step"], 3.0)


class CompareFlags(unittest.TestCase):
    def run_compare(self, *flags: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, os.path.join(HERE, "compare"), *flags], capture_output=True, text=True)

    def test_bad_flags_exit_2_naming_the_flag(self):
        for flags, named in ((["--egc", "/nonexistent"], "--egc"), (["--steps", "0"], "--steps"),
                             (["--device", "tpu"], "--device"), (["--quick", "--configs", "nope"], "--configs")):
            result = self.run_compare(*flags, *([] if "--egc" in flags else ["--egc", sys.executable]))
            self.assertEqual(result.returncode, 2, flags)
            self.assertIn(named, result.stderr, flags)


if __name__ == "__main__":
    unittest.main()
