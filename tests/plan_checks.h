// Invariant checks every plan must pass, and the equal-width model the planner suites plan,
// shared by the planner and runtime suites.
#pragma once

#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "planner/plan.h"

namespace egc::testing {

// `hidden` hidden layers of `width`, in and out 1, relu, SGD with momentum.
inline ModelSpec equal_model(std::size_t hidden, std::size_t width, std::size_t batch) {
  ModelSpec model;
  model.hidden_widths.assign(hidden, width);
  model.batch = batch;
  return model;
}

// The buffer of `plan` called `name`; fails the test where there is none.
inline const Buffer& buffer_named(const Plan& plan, const std::string& name) {
  for (const Buffer& b : plan.buffers)
    if (b.name == name) return b;
  FAIL("no buffer " << name);
  return plan.buffers.front();
}

// Ops form a complete step; every read is of a live buffer written before; every write is to a
// live buffer; offsets are aligned and inside the arena; buffers alive together never overlap;
// the totals agree with a recount.
inline void check_plan_invariants(const Plan& plan) {
  const std::size_t n = plan.chain.size();
  REQUIRE(!plan.ops.empty());
  CHECK(plan.ops.back().kind == OpKind::update);
  std::size_t losses = 0;
  std::vector<std::size_t> backward_order;
  std::vector<std::size_t> first_pass(n, 0);
  for (const Op& op : plan.ops) {
    if (op.kind == OpKind::loss) ++losses;
    if (op.kind == OpKind::backward) backward_order.push_back(static_cast<std::size_t>(op.layer));
    if (op.kind == OpKind::forward) ++first_pass[static_cast<std::size_t>(op.layer)];
  }
  CHECK(losses == 1);
  std::vector<std::size_t> expected(n);
  for (std::size_t i = 0; i < n; ++i) expected[i] = n - 1 - i;
  CHECK(backward_order == expected);
  CHECK(std::all_of(first_pass.begin(), first_pass.end(), [](std::size_t c) { return c == 1; }));

  std::vector<bool> written(plan.buffers.size(), false);
  for (std::size_t i = 0; i < plan.ops.size(); ++i) {
    const Op& op = plan.ops[i];
    for (BufferId id : op.reads) {
      const Buffer& b = plan.buffers[id];
      INFO("op " << i << " reads " << b.name);
      CHECK((b.first_op <= i && i <= b.last_op));
      CHECK((b.persistent || written[id]));
    }
    for (BufferId id : op.writes) {
      const Buffer& b = plan.buffers[id];
      INFO("op " << i << " writes " << b.name);
      CHECK((b.first_op <= i && i <= b.last_op));
      written[id] = true;
    }
  }
  for (const Buffer& b : plan.buffers) {
    INFO(b.name);
    CHECK(b.offset % kArenaAlignment == 0);
    CHECK(b.footprint % kArenaAlignment == 0);
    CHECK(b.footprint >= b.bytes);
    CHECK(b.footprint - b.bytes < kArenaAlignment);
    CHECK(b.offset + b.footprint <= (b.host ? plan.host_arena_bytes : plan.arena_bytes));
  }
  // Pairwise, per arena (device, then host): sort by offset, then only neighbours in space can overlap.
  std::vector<std::size_t> ids(plan.buffers.size());
  for (std::size_t i = 0; i < ids.size(); ++i) ids[i] = i;
  std::sort(ids.begin(), ids.end(), [&](std::size_t a, std::size_t b) {
    const Buffer &x = plan.buffers[a], &y = plan.buffers[b];
    return x.host != y.host ? y.host : x.offset < y.offset;
  });
  std::size_t overlaps = 0;
  for (std::size_t x = 0; x < ids.size(); ++x) {
    const Buffer& a = plan.buffers[ids[x]];
    for (std::size_t y = x + 1; y < ids.size(); ++y) {
      const Buffer& b = plan.buffers[ids[y]];
      if (b.host != a.host || b.offset >= a.offset + a.footprint) break;
      if (a.first_op <= b.last_op && b.first_op <= a.last_op) {
        ++overlaps;
        INFO(a.name << " and " << b.name << " overlap");
        CHECK(false);
      }
    }
  }
  CHECK(overlaps == 0);

  std::size_t peak = 0, activation_peak = 0;
  for (std::size_t i = 0; i < plan.ops.size(); ++i) {
    std::size_t live = 0, activations = 0, host = 0;
    for (const Buffer& b : plan.buffers) {
      if (b.host && b.first_op <= i && i <= b.last_op) host += b.footprint;
      if (!b.host && b.first_op <= i && i <= b.last_op) {
        live += b.footprint;
        if (b.kind == BufferKind::activations || b.kind == BufferKind::activation_gradients) activations += b.footprint;
      }
    }
    CHECK(plan.live_bytes[i] == live);
    CHECK(plan.host_live_bytes[i] == host);
    peak = std::max(peak, live);
    activation_peak = std::max(activation_peak, activations);
  }
  CHECK(plan.live_peak_bytes == peak);
  CHECK(plan.activation_peak_bytes == activation_peak);
  CHECK(plan.arena_bytes >= plan.live_peak_bytes);
  for (std::size_t i = 0; i < plan.ops.size(); ++i) CHECK(plan.host_live_bytes[i] <= plan.host_arena_bytes);
}

}  // namespace egc::testing
