// Shared flags and error handling for the egc command-line programs.
#include "cli/cli.h"

#include <iostream>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "planner/errors.h"
#include "planner/units.h"

namespace egc {

void add_model_flags(CLI::App& app, ModelFlags& flags) {
  auto* layers = app.add_option("--layers", flags.layers, "Number of hidden layers (Linear + activation)")
                     ->type_name("N")
                     ->capture_default_str();
  auto* width = app.add_option("--width", flags.width, "Width of every hidden layer, in features")
                    ->type_name("H")
                    ->capture_default_str();
  app.add_option("--widths", flags.widths,
                 "Unequal hidden widths, comma-separated (replaces --layers and --width)")
      ->type_name("W1,W2,...")
      ->excludes(layers)
      ->excludes(width);
  app.add_option("--in", flags.in, "Input features")->type_name("D")->capture_default_str();
  app.add_option("--out", flags.out, "Output features (default 1; with --loss cross-entropy, --classes)")->type_name("D");
  app.add_option("--activation", flags.activation, "Hidden activation: relu, gelu (tanh form), tanh")
      ->type_name("NAME")
      ->capture_default_str();
  app.add_option("--block", flags.block,
                 "Hidden units: plain (Linear + activation) or residual (x + Linear2(act(Linear1(LayerNorm(x)))), "
                 "--layers blocks of --width between an input projection and an output head)")
      ->type_name("KIND")
      ->capture_default_str();
  app.add_option("--norm", flags.norm, "Residual blocks: layernorm (default) or none before Linear1")->type_name("NAME");
  app.add_option("--expand", flags.expand, "Residual blocks: Linear1's width is E x --width (default 4)")->type_name("E");
  app.add_option("--dropout", flags.dropout,
                 "Dropout probability after each hidden activation (inside each block), in [0, 1); masks from a "
                 "counter-based generator, so recomputation repeats them; none in evaluation")
      ->type_name("P")
      ->capture_default_str();
  app.add_option("--loss", flags.loss,
                 "mse (regression on --out targets) or cross-entropy (softmax over --classes logits; the target is "
                 "one class index per row)")
      ->type_name("NAME")
      ->capture_default_str();
  app.add_option("--classes", flags.classes, "Classes for --loss cross-entropy (at least 2)")->type_name("K");
  app.add_option("--batch", flags.batch, "Samples per (micro-)batch")->type_name("B")->capture_default_str();
  app.add_option("--optimizer", flags.optimizer, "Optimizer: sgd (with --momentum) or adam")
      ->type_name("NAME")
      ->capture_default_str();
  for (CLI::Option* option : app.get_options())
    if (option->get_group() == "Options" && option->get_name() != "--help") option->group("Model");
}

namespace {

// --loss, --classes and --out: cross-entropy has one logit per class, so --out is --classes.
void resolve_loss(const ModelFlags& flags, ModelSpec& spec) {
  spec.loss = parse_loss(flags.loss);
  if (spec.loss != LossKind::cross_entropy) {
    if (!flags.classes.empty()) throw UsageError("--classes: only with --loss cross-entropy");
    spec.out_features = flags.out.empty() ? 1 : parse_positive(flags.out, "--out");
    return;
  }
  if (flags.classes.empty()) throw UsageError("--classes: --loss cross-entropy needs the number of classes K");
  spec.out_features = parse_whole(flags.classes, "--classes", 2, std::size_t{1} << 24);
  if (!flags.out.empty() && parse_positive(flags.out, "--out") != spec.out_features)
    throw UsageError("--out: " + flags.out + ", but --loss cross-entropy --classes " + flags.classes + " needs " +
                     flags.classes + " outputs (one logit per class)");
}

}  // namespace

ModelSpec resolve_model(const ModelFlags& flags) {
  ModelSpec spec;
  if (!flags.widths.empty()) {
    spec.hidden_widths = parse_widths(flags.widths);
  } else {
    const std::size_t layers = parse_positive(flags.layers, "--layers");
    const std::size_t width = parse_positive(flags.width, "--width");
    spec.hidden_widths.assign(layers, width);
  }
  spec.in_features = parse_positive(flags.in, "--in");
  spec.activation = parse_activation(flags.activation);
  spec.batch = parse_positive(flags.batch, "--batch");
  spec.optimizer = parse_optimizer(flags.optimizer);
  spec.block = parse_block(flags.block);
  if (!flags.norm.empty()) spec.norm = parse_norm(flags.norm);
  if (!flags.expand.empty()) spec.expand = parse_positive(flags.expand, "--expand");
  if (spec.block != BlockKind::residual)
    for (const auto& [flag, text] : {std::pair{"--norm", &flags.norm}, std::pair{"--expand", &flags.expand}})
      if (!text->empty()) throw UsageError(std::string(flag) + ": only with --block residual");
  spec.dropout = parse_real(flags.dropout, "--dropout", 0.0, 0.999999);
  resolve_loss(flags, spec);
  validate(spec);
  return spec;
}

void add_device_flags(CLI::App& app, DeviceFlags& flags, const std::string& group, const std::string& devices) {
  app.add_option("--device", flags.device, devices)->type_name("DEVICE")->group(group);
  app.add_flag("--tf32", flags.tf32, "CUDA: allow TF32 tensor-core GEMMs (default: exact float32)")->group(group);
  app.add_option("--sim-memory", flags.sim_memory, "--device sim: the simulated device's memory")
      ->type_name("SIZE")
      ->group(group);
  app.add_option("--sim-granularity", flags.sim_granularity,
                 "--device sim: its allocation granularity (a multiple of 512 B; smaller allocations share "
                 "chunks of this size, as the CUDA driver's do)")
      ->type_name("SIZE")
      ->group(group);
}

DeviceChoiceAndOptions resolve_device(const CLI::App& app, const DeviceFlags& flags) {
  DeviceChoiceAndOptions result;
  result.device = parse_device(flags.device);
  result.options.tf32 = flags.tf32;
  if (result.device != DeviceChoice::sim) {
    for (const char* flag : {"--sim-memory", "--sim-granularity"})
      if (app.count(flag) > 0) throw UsageError(std::string(flag) + ": only with --device sim");
    return result;
  }
  SimulatedDeviceOptions& sim = result.options.sim;
  sim.capacity_bytes = parse_size(flags.sim_memory, "--sim-memory");
  sim.granularity_bytes = parse_size(flags.sim_granularity, "--sim-granularity");
  if (sim.granularity_bytes == 0 || sim.granularity_bytes % SimulatedDeviceMemory::kSmallAlignment != 0)
    throw UsageError("--sim-granularity: '" + flags.sim_granularity +
                     "' is not accepted (a positive multiple of 512 bytes is, e.g. 2MiB)");
  if (sim.capacity_bytes < sim.granularity_bytes)
    throw UsageError("--sim-memory: '" + flags.sim_memory + "' is less than one granule (--sim-granularity " +
                     flags.sim_granularity + ")");
  return result;
}

void setup_logging(const std::string& level) {
  const spdlog::level::level_enum parsed = spdlog::level::from_str(level);
  if (parsed == spdlog::level::off && level != "off")
    throw UsageError("--log-level: unknown level '" + level + "' (accepted: trace, debug, info, warn, error, critical, off)");
  spdlog::set_default_logger(spdlog::stderr_color_st("egc"));
  spdlog::set_pattern("[%H:%M:%S] %v");
  spdlog::set_level(parsed);
}

int run_app(CLI::App& app, int argc, char** argv, const std::function<int()>& body) {
  const std::string name = app.get_name();
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    std::cout << app.help();
    return 0;
  } catch (const CLI::CallForAllHelp&) {
    std::cout << app.help("", CLI::AppFormatMode::All);
    return 0;
  } catch (const CLI::ParseError& e) {
    std::cerr << name << ": error: " << e.what() << " (see " << name << " --help for the accepted flags)\n";
    return 2;
  }
  try {
    return body();
  } catch (const UsageError& e) {
    std::cerr << name << ": error: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << name << ": failed: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace egc
