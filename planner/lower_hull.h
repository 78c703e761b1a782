// LowerHull: the lower convex hull of (length, cost) points, read as an exact lower bound
// (a Fraction) at any length between its first and last point.
#pragma once

#include <algorithm>
#include <cstddef>
#include <vector>

namespace egc {

// Exact products of costs (below 2^64) and lengths (below 2^15): sums of three fractions and
// their cross-multiplied comparisons stay below 2^127.
__extension__ typedef __int128 Wide;

// An exact lower bound num / den (den > 0). Exact, because the optimal splits of a chain often
// tie: a bound equal to the best cost must rule a split out, not let it in.
struct Fraction {
  Wide num = 0;
  Wide den = 1;
};
inline bool operator<(const Fraction& a, const Fraction& b) { return a.num * b.den < b.num * a.den; }
inline bool below(const Fraction& a, std::size_t value) { return a.num < static_cast<Wide>(value) * a.den; }
inline Fraction add(const Fraction& a, const Fraction& b) { return {a.num * b.den + b.num * a.den, a.den * b.den}; }

// The lower convex hull of (length, cost) points appended with increasing lengths: a convex
// function below every point, hence a lower bound for the costs it summarises.
class LowerHull {
 public:
  void append(std::size_t x, std::size_t y) {
    const Point c{static_cast<Wide>(x), static_cast<Wide>(y)};
    while (points_.size() >= 2) {
      const Point& a = points_[points_.size() - 2];
      const Point& b = points_.back();
      if ((b.x - a.x) * (c.y - a.y) - (b.y - a.y) * (c.x - a.x) > 0) break;  // b strictly below ac: keep
      points_.pop_back();
    }
    points_.push_back(c);
  }
  std::size_t lowest() const { return static_cast<std::size_t>(points_.front().x); }
  std::size_t highest() const { return static_cast<std::size_t>(points_.back().x); }
  bool empty() const { return points_.empty(); }
  Fraction at(std::size_t x) const {  // lowest() <= x <= highest()
    const Wide wx = static_cast<Wide>(x);
    auto it = std::lower_bound(points_.begin(), points_.end(), wx, [](const Point& p, Wide v) { return p.x < v; });
    if (it->x == wx) return {it->y, 1};
    const Point& a = *(it - 1);
    const Point& b = *it;
    return {a.y * (b.x - a.x) + (b.y - a.y) * (wx - a.x), b.x - a.x};
  }

 private:
  struct Point {
    Wide x, y;
  };
  std::vector<Point> points_;
};

}  // namespace egc
