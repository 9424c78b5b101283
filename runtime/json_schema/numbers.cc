#include "runtime/json_schema/numbers.h"

#include <cmath>
#include <cstdint>
#include <string>

namespace qs::json_schema {

namespace {

constexpr double kTwoTo63 = 9223372036854775808.0;
constexpr double kTwoTo64 = 18446744073709551616.0;

int CompareDoubles(double a, double b) { return a < b ? -1 : (a > b ? 1 : 0); }

template <typename T>
int CompareExact(T a, T b) {
  return a < b ? -1 : (a > b ? 1 : 0);
}

// Exact comparison of an integer with a double: compare with floor(d) first, then with the
// fractional part, so no integer is ever rounded to a double.
int CompareSignedDouble(int64_t i, double d) {
  if (d >= kTwoTo63) return -1;
  if (d < -kTwoTo63) return 1;
  double floor = std::floor(d);
  int c = CompareExact(i, static_cast<int64_t>(floor));
  if (c != 0) return c;
  return d > floor ? -1 : 0;
}

int CompareUnsignedDouble(uint64_t u, double d) {
  if (d >= kTwoTo64) return -1;
  if (d < 0) return 1;
  double floor = std::floor(d);
  int c = CompareExact(u, static_cast<uint64_t>(floor));
  if (c != 0) return c;
  return d > floor ? -1 : 0;
}

int CompareSignedUnsigned(int64_t i, uint64_t u) {
  if (i < 0) return -1;
  return CompareExact(static_cast<uint64_t>(i), u);
}

// |value| = mantissa * 10^exponent.
struct Decimal {
  uint64_t mantissa = 0;
  int64_t exponent = 0;
};

bool ToDecimal(const nlohmann::json& n, Decimal* out) {
  Decimal d;
  if (n.is_number_unsigned()) {
    d.mantissa = n.get<uint64_t>();
  } else if (n.is_number_integer()) {
    int64_t i = n.get<int64_t>();
    d.mantissa = i < 0 ? static_cast<uint64_t>(-(i + 1)) + 1 : static_cast<uint64_t>(i);
  } else {
    double v = n.get<double>();
    if (!std::isfinite(v)) return false;
    // nlohmann::json prints the shortest form that reads back as the same double.
    const std::string text = nlohmann::json(v).dump();
    size_t i = 0;
    if (i < text.size() && text[i] == '-') ++i;
    int fraction_digits = 0;
    bool in_fraction = false;
    for (; i < text.size() && text[i] != 'e' && text[i] != 'E'; ++i) {
      if (text[i] == '.') {
        in_fraction = true;
        continue;
      }
      if (text[i] < '0' || text[i] > '9') return false;
      if (d.mantissa > (UINT64_MAX - 9) / 10) return false;  // cannot happen for <= 17 digits
      d.mantissa = d.mantissa * 10 + static_cast<uint64_t>(text[i] - '0');
      if (in_fraction) ++fraction_digits;
    }
    int64_t exponent = 0;
    if (i < text.size()) {
      exponent = std::stoll(text.substr(i + 1));  // "e+308", "e-05"
    }
    d.exponent = exponent - fraction_digits;
  }
  while (d.mantissa != 0 && d.mantissa % 10 == 0) {
    d.mantissa /= 10;
    ++d.exponent;
  }
  if (d.mantissa == 0) d.exponent = 0;
  *out = d;
  return true;
}

// 10^k mod m, by square-and-multiply in 128 bits.
uint64_t PowerOfTenMod(int64_t k, uint64_t m) {
  unsigned __int128 result = 1 % m;
  unsigned __int128 base = 10 % m;
  while (k > 0) {
    if (k & 1) result = result * base % m;
    base = base * base % m;
    k >>= 1;
  }
  return static_cast<uint64_t>(result);
}

}  // namespace

int CompareNumbers(const nlohmann::json& a, const nlohmann::json& b) {
  const bool a_float = a.is_number_float();
  const bool b_float = b.is_number_float();
  if (a_float && b_float) return CompareDoubles(a.get<double>(), b.get<double>());
  if (a_float) return -CompareNumbers(b, a);
  // a is an integer from here on.
  if (b_float) {
    if (a.is_number_unsigned()) return CompareUnsignedDouble(a.get<uint64_t>(), b.get<double>());
    return CompareSignedDouble(a.get<int64_t>(), b.get<double>());
  }
  if (a.is_number_unsigned() && b.is_number_unsigned()) {
    return CompareExact(a.get<uint64_t>(), b.get<uint64_t>());
  }
  if (a.is_number_unsigned()) return -CompareSignedUnsigned(b.get<int64_t>(), a.get<uint64_t>());
  if (b.is_number_unsigned()) return CompareSignedUnsigned(a.get<int64_t>(), b.get<uint64_t>());
  return CompareExact(a.get<int64_t>(), b.get<int64_t>());
}

bool IsIntegerNumber(const nlohmann::json& number, bool integral_floats) {
  if (number.is_number_integer()) return true;
  if (!number.is_number_float()) return false;
  double v = number.get<double>();
  if (!std::isfinite(v) || std::trunc(v) != v) return false;
  return integral_floats || std::fabs(v) >= kTwoTo64;
}

bool IsMultipleOf(const nlohmann::json& value, const nlohmann::json& divisor) {
  Decimal v;
  Decimal d;
  if (!ToDecimal(value, &v) || !ToDecimal(divisor, &d)) return false;
  if (v.mantissa == 0) return true;
  if (d.mantissa == 0) return false;
  if (v.exponent >= d.exponent) {
    // value / divisor = v.m * 10^(v.e - d.e) / d.m: an integer iff d.m divides the numerator.
    unsigned __int128 r = (v.mantissa % d.mantissa);
    r = r * PowerOfTenMod(v.exponent - d.exponent, d.mantissa) % d.mantissa;
    return r == 0;
  }
  // value / divisor = v.m / (d.m * 10^k): the denominator exceeds v.m (< 2^64 < 10^20) once
  // k >= 20, and then only 0 would be a multiple.
  int64_t k = d.exponent - v.exponent;
  if (k >= 20) return false;
  unsigned __int128 denominator = d.mantissa;
  for (int64_t i = 0; i < k; ++i) denominator *= 10;
  return v.mantissa % denominator == 0;
}

}  // namespace qs::json_schema
