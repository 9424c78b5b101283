// Exact arithmetic on JSON numbers for the numeric keywords. nlohmann::json stores a number
// as int64, uint64 or double; comparing across those kinds through double would round
// (2^63 + 1 vs 2^63), so comparisons here are exact.
//
// Thread safety: stateless free functions.
#pragma once

#include <nlohmann/json.hpp>

namespace qs::json_schema {

// -1, 0 or 1 as a < b, a == b, a > b. Both must be JSON numbers (finite).
int CompareNumbers(const nlohmann::json& a, const nlohmann::json& b);

// Whether a JSON number is an integer. With `integral_floats` (draft 6 and later) a float
// with no fractional part (1.0) counts; without it (draft 4, where "integer" means written
// without a fraction) only numbers stored as integers count, plus floats too large for
// 64 bits, which can only have been written as integer literals ("bignums") in practice.
bool IsIntegerNumber(const nlohmann::json& number, bool integral_floats);

// Whether `value` is an integer multiple of `divisor` (> 0). A float is taken at its
// shortest round-trip decimal form (what the document most likely spelled: 0.0075, 19.99),
// and the division is done exactly in decimal, so 0.0075 is a multiple of 0.0001 although
// the binary doubles are not. Non-finite values are never multiples.
bool IsMultipleOf(const nlohmann::json& value, const nlohmann::json& divisor);

}  // namespace qs::json_schema
