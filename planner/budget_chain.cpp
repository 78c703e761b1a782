// BudgetChain: reading the layers (with the overflow checks every later sum relies on), the
// pair-maximum tables, the sub-chain classes and the smallest peak of every sub-problem.
#include "planner/budget_chain.h"

#include <algorithm>
#include <numeric>
#include <stdexcept>
#include <string>
#include <tuple>
#include <unordered_map>

#include "planner/budget_split.h"
#include "planner/plan.h"
#include "planner/unit_memory.h"
#include "planner/units.h"

namespace egc::budget_dp {

BudgetChain::BudgetChain(const Chain& chain, std::vector<std::size_t> unit_cost, bool count_gradients,
                         std::vector<std::size_t> unit_derive_cost, bool drop_checkpoints)
    : n(chain.size()), cost(std::move(unit_cost)), derive_cost(std::move(unit_derive_cost)), drops(drop_checkpoints) {
  if (n == 0) throw std::logic_error("BudgetPlanner: empty chain");
  if (cost.size() != n) throw std::logic_error("BudgetPlanner: one recompute cost per unit is needed");
  if (!derive_cost.empty() && derive_cost.size() != n)
    throw std::logic_error("BudgetPlanner: one derive cost per unit (or none) is needed");
  if (drops && n > kMaxDropUnits)  // drop_class_of has n^3 entries
    throw std::logic_error("BudgetPlanner: drops are searched on chains of up to " + std::to_string(kMaxDropUnits) +
                           " units");
  // The last unit's output is read only by the loss, in the first pass: never a derived input.
  for (std::size_t j = 0; j + 1 < derive_cost.size(); ++j) derives = derives || derive_cost[j] != kInfinite;
  read_layers(chain, count_gradients);
  tabulate_pairs();
  find_classes();
  if (drops) find_drop_classes();
  uniform = n >= 4;
  for (std::size_t j = 1; j + 1 < n && uniform; ++j)
    uniform = bytes[j] == bytes[0] && tape_of[j] == tape_of[0] && cost[j] == cost[1] &&
              tape_bytes[j] == tape_bytes[0] && forward_scratch[j] == forward_scratch[0] &&
              backward_scratch[j] == backward_scratch[0] && grad_input_bytes[j] == grad_input_bytes[1] &&
              parameter_gradients[j] == parameter_gradients[1] &&  // unit 0's input width is the data's
              (derive_cost.empty() || derive_cost[j] == derive_cost[0]);
  uniform = uniform && n <= (std::size_t{1} << 15);  // keeps the hull fractions' products in 128 bits
  find_min_peaks();
}

void BudgetChain::read_layers(const Chain& chain, bool count_gradients) {
  std::size_t total_bytes = 0, total_cost = 0;
  for (const Layer& layer : chain.layers) {
    const UnitFootprints f = unit_footprints(layer);
    grad_input_bytes.push_back(f.gradient_in_place || bytes.empty() ? 0 : bytes.back());
    bytes.push_back(f.output);
    tape_bytes.push_back(f.tape);
    forward_scratch.push_back(f.forward_scratch);
    backward_scratch.push_back(f.backward_scratch);
    parameter_gradients.push_back(count_gradients ? f.parameter_gradients : 0);
    tape_of.push_back(saved_for_backward(layer));
    const std::size_t held = checked_add(checked_add(f.output, f.tape, "activation bytes"),
                                         checked_add(checked_add(f.forward_scratch, f.backward_scratch, "activation bytes"),
                                                     parameter_gradients.back(), "activation bytes"),
                                         "activation bytes");
    total_bytes = checked_add(total_bytes, checked_mul(held, 4, "activation bytes"), "activation bytes");
  }
  for (std::size_t c : cost) total_cost = checked_add(total_cost, c, "recompute cost");
  for (std::size_t c : derive_cost)  // a derive per recompute at most
    if (c != kInfinite) total_cost = checked_add(total_cost, c, "recompute cost");
  // Bounds for every sum below: a peak never exceeds four times all that the units hold, and no
  // layer is recomputed more than n times.
  checked_mul(total_cost, n, "recompute cost");
  cost_before.assign(n + 1, 0);
  for (std::size_t j = 0; j < n; ++j) cost_before[j + 1] = cost_before[j] + cost[j];
}

void BudgetChain::tabulate_pairs() {
  pair_max_from.assign(n + 1, 0);
  for (std::size_t j = n; j-- > 1;) pair_max_from[j] = std::max(pair_max_from[j + 1], prefix_pair(0, j));
  pair_max.emplace_back(n, 0);
  for (std::size_t j = 1; j < n; ++j) pair_max[0][j] = prefix_pair(0, j);
  for (std::size_t width = 2; width <= n; width *= 2) {
    const std::vector<std::size_t>& below = pair_max.back();
    std::vector<std::size_t> row(n, 0);
    for (std::size_t j = 0; j + width <= n; ++j) row[j] = std::max(below[j], below[j + width / 2]);
    pair_max.push_back(std::move(row));
  }
}

namespace {

// Numbers each unit's distinct (bytes, cost, tape, scratch, gradient): equal numbers, equal units.
std::vector<std::uint32_t> layer_types(const BudgetChain& chain) {
  const std::size_t n = chain.n;
  std::vector<std::uint32_t> type(n);
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), std::size_t{0});
  auto key = [&](std::size_t j) {
    return std::make_tuple(chain.bytes[j], chain.cost[j], static_cast<int>(chain.tape_of[j]), chain.tape_bytes[j],
                           chain.forward_scratch[j], chain.backward_scratch[j], chain.grad_input_bytes[j] == 0,
                           chain.parameter_gradients[j]);
  };
  std::sort(order.begin(), order.end(), [&](std::size_t x, std::size_t y) { return key(x) < key(y); });
  std::uint32_t next = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (i > 0 && key(order[i]) != key(order[i - 1])) ++next;
    type[order[i]] = next;
  }
  return type;
}

// Input kinds: the batch (s = 0) and each distinct (byte size, derive cost) of a layer output
// (a derived sub-problem pays its input's derive).
std::vector<std::uint32_t> input_kinds(const BudgetChain& chain) {
  auto input_of = [&](std::size_t s) {
    return std::make_pair(chain.bytes[s - 1], chain.derives ? chain.derive_cost[s - 1] : kInfinite);
  };
  std::vector<std::pair<std::size_t, std::size_t>> inputs;
  for (std::size_t s = 1; s < chain.n; ++s) inputs.push_back(input_of(s));
  std::sort(inputs.begin(), inputs.end());
  inputs.erase(std::unique(inputs.begin(), inputs.end()), inputs.end());
  std::vector<std::uint32_t> kind(chain.n);
  for (std::size_t s = 1; s < chain.n; ++s)
    kind[s] = 1 + static_cast<std::uint32_t>(std::lower_bound(inputs.begin(), inputs.end(), input_of(s)) -
                                              inputs.begin());
  return kind;
}

}  // namespace

// Sub-chain classes: a trie over (input kind, then each layer's type), exact (no hashing of
// contents).
void BudgetChain::find_classes() {
  const std::vector<std::uint32_t> type = layer_types(*this);
  const std::vector<std::uint32_t> input_kind = input_kinds(*this);
  class_of.assign(n * n, 0);
  class_of_end.assign(n * n, 0);
  constexpr std::uint32_t kNone = std::numeric_limits<std::uint32_t>::max();
  std::unordered_map<std::uint64_t, std::uint32_t> child;  // (node << 32 | layer type) -> node
  std::unordered_map<std::uint32_t, std::uint32_t> roots;  // input kind -> node
  std::vector<std::uint32_t> node_class;                   // trie node -> class, or kNone
  auto new_node = [&]() {
    node_class.push_back(kNone);
    return static_cast<std::uint32_t>(node_class.size() - 1);
  };
  for (std::size_t s = 0; s < n; ++s) {
    auto root = roots.find(input_kind[s]);
    if (root == roots.end()) root = roots.emplace(input_kind[s], new_node()).first;
    std::uint32_t node = root->second;
    for (std::size_t t = s; t < n; ++t) {
      const std::uint64_t key = (std::uint64_t{node} << 32) | type[t];
      auto next = child.find(key);
      if (next == child.end()) next = child.emplace(key, new_node()).first;
      node = next->second;
      if (node_class[node] == kNone) {
        node_class[node] = static_cast<std::uint32_t>(representative.size());
        representative.emplace_back(s, t);
      }
      class_of[s * n + t] = class_of_end[t * n + s] = node_class[node];
    }
  }
  classes_by_length.resize(representative.size());
  std::iota(classes_by_length.begin(), classes_by_length.end(), std::uint32_t{0});
  std::stable_sort(classes_by_length.begin(), classes_by_length.end(), [&](std::uint32_t x, std::uint32_t y) {
    return representative[x].second - representative[x].first < representative[y].second - representative[y].first;
  });
}

// A sourced Seg(s, t) from `source` behaves as the sub-chain source..t with the split at s: its
// class is (class of source..t, s - source).
void BudgetChain::find_drop_classes() {
  drop_class_of.assign(n * n * n, 0);
  std::unordered_map<std::uint64_t, std::uint32_t> class_of_key;
  for (std::size_t source = 0; source < n; ++source)
    for (std::size_t s = source + 1; s < n; ++s)
      for (std::size_t t = s; t < n; ++t) {
        const std::uint64_t key = std::uint64_t{class_of[source * n + t]} << 32 | (s - source);
        auto found = class_of_key.find(key);
        if (found == class_of_key.end()) {
          found = class_of_key.emplace(key, static_cast<std::uint32_t>(drop_representative.size())).first;
          drop_representative.push_back({source, s, t});
        }
        drop_class_of[(source * n + s) * n + t] = found->second;
      }
  drop_classes_by_length.resize(drop_representative.size());
  std::iota(drop_classes_by_length.begin(), drop_classes_by_length.end(), std::uint32_t{0});
  std::stable_sort(drop_classes_by_length.begin(), drop_classes_by_length.end(), [&](std::uint32_t x, std::uint32_t y) {
    return drop_representative[x][2] - drop_representative[x][1] < drop_representative[y][2] - drop_representative[y][1];
  });
}

// Bottom-up (both parts of a split come first), minimising the peak alone over the same splits
// and with the same peak formula as the solvers.
void BudgetChain::find_min_peaks() {
  min_peak.assign(columns(), kInfinite);
  for_each_part_bottom_up([&](const Part& part) {
    if (!part.top && part.s == part.t) {
      min_peak[part.column] = base_value(*this, part.t, part.tape).peak;
      return;
    }
    std::size_t best =
        part.top ? no_checkpoint_peak(*this, part, min_peak[no_checkpoint_rest(*this, part).column]) : kInfinite;
    const Splits splits(*this, part);
    splits.for_each([&](const Split& split, std::size_t running) {
      const SplitPeaks peaks = splits.peaks(split, running);
      best = std::min(best, peaks.with(min_peak[splits.right(split).column], min_peak[splits.left(split).column]));
      return true;
    });
    min_peak[part.column] = best;
  });
}

std::size_t BudgetChain::prefix_running(std::size_t s, std::size_t k) const {
  if (k < s + 2) return 0;
  std::size_t running = prefix_pair(s, s);  // j = s: only its output and scratch (its input is the parent's)
  if (k >= s + 3) {                // j in [s+1, k-2]: outputs of j-1 and j
    const std::size_t first = s + 1, last = k - 2;
    std::size_t level = 0;
    while ((std::size_t{2} << level) <= last - first + 1) ++level;
    running = std::max({running, pair_max[level][first], pair_max[level][last + 1 - (std::size_t{1} << level)]});
  }
  return running;
}

std::size_t BudgetChain::first_pass_peak(std::size_t s, bool derived) const {
  if (derived) return std::max({input_bytes(s) + prefix_pair(s, s), pair_max_from[s + 1], 2 * bytes[n - 1]});
  return input_bytes(s) + std::max({prefix_pair(s, s), pair_max_from[s + 1], 2 * bytes[n - 1]});
}

}  // namespace egc::budget_dp
