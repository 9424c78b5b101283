#include "runtime/structured/json_grammar.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <deque>
#include <map>
#include <optional>

#include "base/utf8.h"
#include "runtime/json_schema/formats.h"
#include "runtime/json_schema/numbers.h"
#include "runtime/json_schema/validator.h"
#include "runtime/structured/codepoint_dfa.h"

namespace qs::structured {

namespace js = qs::json_schema;
using Frame = JsonMatcher::Frame;
using Stack = JsonMatcher::Stack;

namespace {

constexpr int64_t kInf = JsonMatcher::kUnreachable;
constexpr int kMaxStacks = 64;
constexpr int kMaxDepth = 128;
constexpr int kMaxTableCount = 1024;
constexpr int kGenIntDigits = 15;
constexpr int kGenFracDigits = 6;
constexpr size_t kMaxNumberText = 1000;

int64_t Add(int64_t a, int64_t b) { return std::min(kInf, a + b); }

// Value kinds as the first byte tells them apart.
enum KindBit : uint8_t {
  kNullBit = 1,
  kBoolBit = 2,
  kNumBit = 4,
  kStrBit = 8,
  kArrBit = 16,
  kObjBit = 32
};
enum KindIndex { kNullK, kBoolK, kNumK, kStrK, kArrK, kObjK };

enum FrameKind : uint8_t { kRoot, kObject, kArray, kString, kNumber, kLiteral };
// Frame::flags
constexpr uint8_t kKeyFlag = 1;

// String phases.
enum : uint8_t { kContent, kEscape, kUtf8, kHex, kLowBackslash, kLowU, kLowHex };

bool IsWs(uint8_t b) { return b == ' ' || b == '\t' || b == '\n' || b == '\r'; }

int Utf8Len(uint32_t cp) { return cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4; }

bool Overlaps(uint32_t lo, uint32_t hi, uint32_t a, uint32_t b) { return lo <= b && a <= hi; }

// Bytes of the cheapest code point in [lo, hi] that kGenerate can write inside a string
// (raw printable / non-ASCII, or one of the short escapes); kInf if none.
int64_t CheapestCost(uint32_t lo, uint32_t hi) {
  if (Overlaps(lo, hi, 0x20, 0x21) || Overlaps(lo, hi, 0x23, 0x5B) ||
      Overlaps(lo, hi, 0x5D, 0x7F)) {
    return 1;
  }
  for (uint32_t c : {0x22u, 0x5Cu, 0x08u, 0x09u, 0x0Au, 0x0Cu, 0x0Du}) {
    if (lo <= c && c <= hi) return 2;
  }
  uint32_t c = std::max(lo, 0x80u);
  if (c >= 0xD800 && c <= 0xDFFF) c = 0xE000;
  return c <= hi ? Utf8Len(c) : kInf;
}

// The code points kGenerate may write inside a string.
bool Generatable(uint32_t cp) {
  if (cp >= 0xD800 && cp <= 0xDFFF) return false;
  return cp >= 0x20 || cp == 0x08 || cp == 0x09 || cp == 0x0A || cp == 0x0C || cp == 0x0D;
}

// Regexes whose languages are subsets of what formats.h accepts, for kGenerate.
const char* FormatRegex(js::Format f) {
  switch (f) {
    case js::Format::kDate:
      return "^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])$";
    case js::Format::kTime:
      return "^([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,6})?(Z|[+-](0[0-9]|1[0-2]):"
             "[0-5][0-9])$";
    case js::Format::kDateTime:
      return "^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])T([01][0-9]|2[0-3]):[0-5][0-9]:"
             "[0-5][0-9](\\.[0-9]{1,6})?(Z|[+-](0[0-9]|1[0-2]):[0-5][0-9])$";
    case js::Format::kDuration:
      return "^P([0-9]{1,4}[YMWD]|T[0-9]{1,4}[HMS])$";
    case js::Format::kEmail:
      return "^[a-z0-9]{1,20}(\\.[a-z0-9]{1,20}){0,2}@[a-z][a-z0-9]{0,19}(\\.[a-z][a-z0-9]{0,19})"
             "{0,3}$";
    case js::Format::kHostname:
      return "^[a-z][a-z0-9]{0,19}(\\.[a-z][a-z0-9]{0,19}){0,3}$";
    case js::Format::kIpv4:
      return "^(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(\\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|"
             "[1-9]?[0-9])){3}$";
    case js::Format::kIpv6:
      return "^[0-9a-f]{1,4}(:[0-9a-f]{1,4}){7}$";
    case js::Format::kUuid:
      return "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$";
    case js::Format::kUri:
      return "^[a-z][a-z0-9+.-]{0,9}://[a-z][a-z0-9]{0,19}(\\.[a-z][a-z0-9]{0,19}){0,3}"
             "(/[a-zA-Z0-9._~-]{0,20}){0,4}$";
  }
  return nullptr;
}

// kAccept: regexes whose languages contain everything formats.h accepts, for the formats
// whose alphabet alone (js::FormatMayContain) prunes little. The exact check still runs
// when the string ends; the DFA only cuts dead prefixes early (a mask inside an email
// need not walk every ASCII word). nullptr: no superset regex.
const char* FormatSupersetRegex(js::Format f) {
  switch (f) {
    case js::Format::kEmail:
      // RFC 5321 Mailbox: dot-string or quoted local part, "@", hostname or address literal.
      return "^([A-Za-z0-9!#$%&'*+/=?^_`{|}~.\\-]+|\"([ !#-\\[\\]-~]|\\\\[ -~])*\")@"
             "([A-Za-z0-9.\\-]+|\\[[A-Za-z0-9:.]+\\])$";
    case js::Format::kUri:
      // RFC 3986: a scheme, ':', then unreserved, reserved and '%' characters.
      return "^[A-Za-z][A-Za-z0-9+.\\-]*:[A-Za-z0-9\\-._~:/?#\\[\\]@!$&'()*+,;=%]*$";
    default:
      return nullptr;
  }
}

std::string Where(const char* keyword, const js::Node* node) {
  return std::string("unsupported by the grammar: ") + keyword + " at " +
         js::DisplayPointer(node->pointer);
}

bool DefaultString(const js::StringConstraints& s) {
  return s.min_length == 0 && !s.max_length && !s.pattern && !s.format;
}
bool DefaultNumber(const js::NumberConstraints& n) {
  return !n.minimum && !n.maximum && !n.exclusive_minimum && !n.exclusive_maximum && !n.multiple_of;
}
bool DefaultObject(const js::ObjectConstraints& o) {
  return o.properties.empty() && o.required.empty() && o.pattern_properties.empty() &&
         o.additional_properties == nullptr;
}
bool DefaultArray(const js::ArrayConstraints& a) {
  return a.prefix_items.empty() && a.items == nullptr && a.min_items == 0 && !a.max_items;
}
bool NoOwnConstraints(const js::Node* n) {
  return !n->is_false && n->types.IsAll() && !n->const_value && !n->enum_values &&
         DefaultString(n->string) && DefaultNumber(n->number) && DefaultObject(n->object) &&
         DefaultArray(n->array);
}

uint8_t KindOfJson(const nlohmann::json& v) {
  if (v.is_null()) return kNullBit;
  if (v.is_boolean()) return kBoolBit;
  if (v.is_number()) return kNumBit;
  if (v.is_string()) return kStrBit;
  if (v.is_array()) return kArrBit;
  return kObjBit;
}

int64_t Pow10(int m) {
  int64_t p = 1;
  for (int i = 0; i < m; ++i) p *= 10;
  return p;
}

}  // namespace

struct JsonGrammar::Impl {
  // Schema nodes the compiler made (allOf merged into one node); leaves point at them.
  std::deque<js::Node> owned_nodes;
  struct Prop {
    std::string name;
    std::string key_literal;  // "name": as kGenerate writes it
    int alts = -1;
    bool required = false;
  };
  struct LiteralSet {
    std::vector<std::string> strings;  // sorted
    std::vector<int> payload;          // property index for key sets
  };
  struct Leaf {
    const js::Node* node = nullptr;
    uint8_t kinds = 0;
    bool integer_only = false;
    // enum / const
    bool is_enum = false;
    std::vector<nlohmann::json> values;
    std::vector<std::string> string_value_texts;  // compact JSON of the string values
    int literal_set = -1;
    // string
    int64_t min_len = 0;
    int64_t max_len = -1;
    int dfa = -1;
    std::optional<js::Format> check_format;  // kAccept: checked exactly at the end
    int table_cols = 0;                      // count dimension C + 1 (0: no table)
    std::vector<int64_t> need;               // [state * table_cols + count]
    // number (integer bounds, clamped; kGenerate enforces them, kAccept uses them for costs)
    bool has_bounds = false;
    int64_t lo = 0, hi = 0;
    // object
    std::vector<Prop> props;
    uint64_t required_mask = 0;
    int additional_alts = -1;
    // patternProperties (kAccept: members beyond "properties"): a member whose name
    // matches patterns (bit i: key_patterns[i]) takes pattern_alts[bits]; no match:
    // additional_alts.
    std::vector<js::Pattern> key_patterns;
    std::vector<int> pattern_alts;
    std::vector<int> key_sets;  // kGenerate: candidate keys from declared index i
    // array
    std::vector<int> prefix_alts;
    int items_alts = -1;
    int64_t min_items = 0;
    int64_t max_items = -1;
    int64_t kind_min[6] = {kInf, kInf, kInf, kInf, kInf, kInf};
    int64_t min_value = kInf;

    int ItemAlts(int64_t i) const {
      return i < static_cast<int64_t>(prefix_alts.size()) ? prefix_alts[i] : items_alts;
    }
  };

  GrammarMode mode = GrammarMode::kAccept;
  bool integral_floats = true;
  js::Node any_node;
  std::vector<Leaf> leaves;
  std::vector<std::vector<int>> alt_sets;
  std::vector<int64_t> alt_min;
  std::vector<CodepointDfa> dfas;
  std::vector<LiteralSet> literals;
  int lit_true = -1, lit_false = -1, lit_null = -1;
  int root_alts = -1;
  int any_alts = -1;

  bool generate() const { return mode == GrammarMode::kGenerate; }
  int64_t AltMin(int alts) const { return alts < 0 ? kInf : alt_min[alts]; }

  // Bytes to finish a string's content from DFA state q having written `count` code points.
  int64_t Need(const Leaf& l, int q, int64_t count) const {
    if (l.dfa < 0) {
      if (l.max_len >= 0 && count > l.max_len) return kInf;
      return std::max<int64_t>(0, l.min_len - count);
    }
    if (l.table_cols > 0) {
      int64_t c = std::min<int64_t>(count, l.table_cols - 1);
      return l.need[static_cast<size_t>(q) * l.table_cols + c];
    }
    return std::max<int64_t>(dfas[l.dfa].MinCodepointsToAccept(q), l.min_len - count);
  }
  // Required members still to write after declared index `from` (kGenerate) or not in
  // `seen` (kAccept): each costs ',' + key + value.
  int64_t RequiredCost(const Leaf& l, int from, uint64_t seen) const {
    int64_t cost = 0;
    for (size_t j = 0; j < l.props.size(); ++j) {
      if (!l.props[j].required) continue;
      if (generate() ? static_cast<int>(j) < from : ((seen >> j) & 1) != 0) continue;
      cost = Add(cost, Add(1 + static_cast<int64_t>(l.props[j].key_literal.size()),
                           AltMin(l.props[j].alts)));
    }
    return cost;
  }
  // Cheapest number literal (bytes) within [lo, hi], or the cheapest from a prefix.
  int64_t IntCost(bool neg, int64_t d, int k, const Leaf& l) const;
};

JsonGrammar::JsonGrammar() : impl_(std::make_unique<Impl>()) {}
JsonGrammar::~JsonGrammar() = default;

int64_t JsonGrammar::MinDocumentBytes() const { return impl_->AltMin(impl_->root_alts); }

// Extra digits needed after a canonical integer prefix (sign, value d, k digits) to land in
// [lo, hi]: 0 when d itself does; kInf when no extension can.
int64_t JsonGrammar::Impl::IntCost(bool neg, int64_t d, int k, const Leaf& l) const {
  if (!l.has_bounds) return 0;
  for (int m = 0; k + m <= kGenIntDigits; ++m) {
    if (m > 0 && d == 0) break;  // no leading zeros
    int64_t p = Pow10(m);
    int64_t a = d * p;
    int64_t b = d * p + (m > 0 ? p - 1 : 0);
    if (neg) {
      int64_t t = -b;
      b = -a;
      a = t;
    }
    if (a <= l.hi && l.lo <= b) return m;
  }
  return kInf;
}

namespace {

class GrammarCompiler {
 public:
  GrammarCompiler(const js::Schema& schema, GrammarMode mode, JsonGrammar::Impl* g)
      : schema_(schema), g_(g) {
    g_->mode = mode;
    g_->integral_floats = schema.draft() != js::Draft::kDraft4;
  }

  Status Run() {
    g_->lit_true = AddLiterals({"true"}, {});
    g_->lit_false = AddLiterals({"false"}, {});
    g_->lit_null = AddLiterals({"null"}, {});
    QS_ASSIGN_OR_RETURN(g_->any_alts, AltsFor(&g_->any_node));
    QS_ASSIGN_OR_RETURN(g_->root_alts, AltsFor(&schema_.root()));
    while (!pending_.empty()) {
      int leaf = pending_.back();
      pending_.pop_back();
      QS_RETURN_IF_ERROR(FillLeaf(leaf));
    }
    ComputeMinima();
    if (g_->generate()) {
      BuildKeySets();
      if (g_->AltMin(g_->root_alts) >= kInf) {
        return InvalidArgument("no JSON document satisfies the schema in generation mode");
      }
    }
    return Status::Ok();
  }

 private:
  int AddLiterals(std::vector<std::string> strings, std::vector<int> payload) {
    std::vector<size_t> order(strings.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(),
              [&](size_t a, size_t b) { return strings[a] < strings[b]; });
    JsonGrammar::Impl::LiteralSet set;
    for (size_t i : order) {
      if (!set.strings.empty() && set.strings.back() == strings[i]) continue;
      set.strings.push_back(strings[i]);
      set.payload.push_back(payload.empty() ? -1 : payload[i]);
    }
    g_->literals.push_back(std::move(set));
    return static_cast<int>(g_->literals.size()) - 1;
  }

  // The alternatives (leaves) an instance must match one of, for schema node n.
  StatusOr<int> AltsFor(const js::Node* n) {
    if (n == nullptr) n = &g_->any_node;
    auto it = memo_.find(n);
    if (it != memo_.end()) {
      if (it->second < 0) return Unsupported(Where("a $ref / anyOf cycle", n));
      return it->second;
    }
    memo_[n] = -1;
    std::vector<int> leaves;
    if (n->is_false) {
      // no alternatives
    } else if (!n->all_of.empty() ||
               (n->ref != nullptr &&
                !(NoOwnConstraints(n) && n->any_of.empty() && n->one_of.empty())) ||
               ((!n->any_of.empty() || !n->one_of.empty()) && !NoOwnConstraints(n)) ||
               (!n->any_of.empty() && !n->one_of.empty()) ||
               ((n->const_value || n->enum_values) &&
                (!DefaultString(n->string) || !DefaultNumber(n->number) ||
                 !DefaultObject(n->object) || !DefaultArray(n->array)))) {
      // allOf, and $ref or anyOf / oneOf next to other keywords (which all apply): merged
      // into one node.
      QS_ASSIGN_OR_RETURN(const js::Node* merged, MergeAllOf(n));
      QS_ASSIGN_OR_RETURN(int target, AltsFor(merged));
      leaves = g_->alt_sets[target];
    } else if (n->ref != nullptr) {
      if (!NoOwnConstraints(n) || !n->any_of.empty() || !n->one_of.empty()) {
        return Unsupported(Where("$ref with sibling keywords", n));
      }
      QS_ASSIGN_OR_RETURN(int target, AltsFor(n->ref));
      leaves = g_->alt_sets[target];
    } else if (!n->any_of.empty() || !n->one_of.empty()) {
      const bool one = !n->one_of.empty();
      std::vector<std::vector<int>> seen;  // the leaves of each alternative so far
      for (const js::Node* sub : one ? n->one_of : n->any_of) {
        QS_ASSIGN_OR_RETURN(int sub_alts, AltsFor(sub));
        const std::vector<int> sub_leaves = g_->alt_sets[sub_alts];
        // oneOf means "exactly one": the same as anyOf only when no instance can match two
        // alternatives (every pair of their leaves is disjoint).
        if (one) {
          for (const std::vector<int>& other : seen) {
            for (int a : sub_leaves) {
              for (int b : other) {
                if (!LeavesDisjoint(a, b)) {
                  return Unsupported(Where("oneOf with alternatives that can overlap", n));
                }
              }
            }
          }
          seen.push_back(sub_leaves);
        }
        for (int leaf : sub_leaves) {
          if (std::find(leaves.begin(), leaves.end(), leaf) == leaves.end()) leaves.push_back(leaf);
        }
      }
    } else {
      QS_ASSIGN_OR_RETURN(int leaf, NewLeaf(n));
      leaves.push_back(leaf);
    }
    g_->alt_sets.push_back(std::move(leaves));
    int id = static_cast<int>(g_->alt_sets.size()) - 1;
    memo_[n] = id;
    return id;
  }

  // The const / enum values a node allows for a required property, if it pins them.
  static std::optional<std::vector<nlohmann::json>> PinnedValues(const js::Node* n,
                                                                 const std::string& name) {
    if (std::find(n->object.required.begin(), n->object.required.end(), name) ==
        n->object.required.end()) {
      return std::nullopt;
    }
    const js::PropertySchema* p = n->object.FindProperty(name);
    if (p == nullptr || p->schema == nullptr) return std::nullopt;
    if (p->schema->const_value) return std::vector<nlohmann::json>{*p->schema->const_value};
    if (p->schema->enum_values) return *p->schema->enum_values;
    return std::nullopt;
  }

  // Whether no instance can match both leaves: different JSON kinds, enum values the other
  // rejects (checked by the validator), or objects with a discriminator (a property both
  // require, pinned by const / enum to values that never coincide).
  bool LeavesDisjoint(int a, int b) const {
    const JsonGrammar::Impl::Leaf& x = g_->leaves[a];
    const JsonGrammar::Impl::Leaf& y = g_->leaves[b];
    if (a == b) return false;
    if ((x.kinds & y.kinds) == 0) return true;
    if (x.is_enum || y.is_enum) {
      const JsonGrammar::Impl::Leaf& e = x.is_enum ? x : y;
      const JsonGrammar::Impl::Leaf& other = x.is_enum ? y : x;
      for (const nlohmann::json& v : e.values) {
        if (other.is_enum) {
          for (const nlohmann::json& w : other.values) {
            if (js::JsonEqual(v, w)) return false;
          }
        } else if (js::NodeAccepts(schema_, *other.node, v)) {
          return false;
        }
      }
      return true;
    }
    if ((x.kinds & y.kinds) != kObjBit) return false;
    for (const js::PropertySchema& p : x.node->object.properties) {
      std::optional<std::vector<nlohmann::json>> vx = PinnedValues(x.node, p.name);
      std::optional<std::vector<nlohmann::json>> vy = PinnedValues(y.node, p.name);
      if (!vx || !vy) continue;
      bool overlap = false;
      for (const nlohmann::json& v : *vx) {
        for (const nlohmann::json& w : *vy) overlap = overlap || js::JsonEqual(v, w);
      }
      if (!overlap) return true;
    }
    return false;
  }

  // The integers that are multiples of an integer multipleOf within the node's bounds,
  // when there are at most kMaxMultiples of them (kGenerate's integer range otherwise).
  static constexpr int64_t kMaxMultiples = 1024;
  static std::optional<std::vector<nlohmann::json>> MultiplesInRange(const js::Node& n) {
    const js::NumberConstraints& num = n.number;
    const nlohmann::json& mj = *num.multiple_of;
    if (!mj.is_number_integer() &&
        !(mj.is_number_float() && std::floor(mj.get<double>()) == mj.get<double>())) {
      return std::nullopt;
    }
    const double m = mj.get<double>();
    if (m < 1 || m > 1e15) return std::nullopt;
    const double limit = static_cast<double>(Pow10(kGenIntDigits) - 1);
    double lo = -limit, hi = limit;
    if (num.minimum) lo = std::max(lo, std::ceil(num.minimum->get<double>()));
    if (num.exclusive_minimum)
      lo = std::max(lo, std::floor(num.exclusive_minimum->get<double>()) + 1);
    if (num.maximum) hi = std::min(hi, std::floor(num.maximum->get<double>()));
    if (num.exclusive_maximum)
      hi = std::min(hi, std::ceil(num.exclusive_maximum->get<double>()) - 1);
    const double first = std::ceil(lo / m), last = std::floor(hi / m);
    if (last - first + 1 > kMaxMultiples) return std::nullopt;
    std::vector<nlohmann::json> values;
    for (double k = first; k <= last; ++k) values.push_back(static_cast<int64_t>(k * m));
    return values;
  }

  const js::Node* Own(js::Node node) {
    g_->owned_nodes.push_back(std::move(node));
    return &g_->owned_nodes.back();
  }

  // One node equivalent to allOf (every subschema applies): the subschemas are flattened
  // ($ref targets and nested allOf included), anyOf / oneOf inside are distributed over
  // the others (allOf[anyOf[a, b], c] = anyOf[allOf[a, c], allOf[b, c]]; the same holds for
  // oneOf, since c holds for both or neither), and the keyword-wise intersection is taken
  // (MergeSimple). What cannot be intersected exactly (two different patterns, formats or
  // multipleOf, patternProperties) is Unsupported, never approximated.
  StatusOr<const js::Node*> MergeAllOf(const js::Node* n) {
    std::vector<const js::Node*> parts;
    QS_RETURN_IF_ERROR(CollectParts(n, 0, n, &parts));
    return MergeParts(std::move(parts), n);
  }

  Status CollectParts(const js::Node* n, int depth, const js::Node* where,
                      std::vector<const js::Node*>* parts) {
    if (depth > 32) return Unsupported(Where("allOf / $ref nested deeper than 32 levels", where));
    if (n->all_of.empty() && n->ref == nullptr && (n->any_of.empty() || n->one_of.empty())) {
      parts->push_back(n);
      return Status::Ok();
    }
    js::Node own = *n;
    own.ref = nullptr;
    own.all_of.clear();
    if (!own.any_of.empty() && !own.one_of.empty()) {  // both apply: two parts
      js::Node one;
      one.pointer = n->pointer;
      one.one_of = std::move(own.one_of);
      own.one_of.clear();
      parts->push_back(Own(std::move(one)));
    }
    parts->push_back(Own(std::move(own)));
    if (n->ref != nullptr) QS_RETURN_IF_ERROR(CollectParts(n->ref, depth + 1, where, parts));
    for (const js::Node* sub : n->all_of) {
      QS_RETURN_IF_ERROR(CollectParts(sub, depth + 1, where, parts));
    }
    return Status::Ok();
  }

  StatusOr<const js::Node*> MergeParts(std::vector<const js::Node*> parts, const js::Node* where) {
    for (size_t i = 0; i < parts.size(); ++i) {
      const js::Node* p = parts[i];
      if (p->any_of.empty() && p->one_of.empty()) continue;
      if (++distributions_ > 64) {
        return Unsupported(Where("allOf with more than 64 anyOf / oneOf alternatives", where));
      }
      const bool one = !p->one_of.empty();
      js::Node rest = *p;
      rest.any_of.clear();
      rest.one_of.clear();
      const js::Node* rest_node = Own(std::move(rest));
      js::Node result;
      result.pointer = where->pointer;
      for (const js::Node* alt : one ? p->one_of : p->any_of) {
        std::vector<const js::Node*> combo = parts;
        combo[i] = rest_node;
        QS_RETURN_IF_ERROR(CollectParts(alt, 0, where, &combo));
        QS_ASSIGN_OR_RETURN(const js::Node* merged, MergeParts(std::move(combo), where));
        (one ? result.one_of : result.any_of).push_back(merged);
      }
      return Own(std::move(result));
    }
    return MergeSimple(parts, where);
  }

  // allOf of nodes as one node with the subschemas (nullptr when there are none).
  const js::Node* AllOfNode(std::vector<const js::Node*> subs, const js::Node* where) {
    if (subs.empty()) return nullptr;
    if (subs.size() == 1) return subs[0];
    js::Node node;
    node.pointer = where->pointer;
    node.all_of = std::move(subs);
    return Own(std::move(node));
  }

  // The intersection of nodes without $ref, allOf, anyOf and oneOf.
  StatusOr<const js::Node*> MergeSimple(const std::vector<const js::Node*>& parts,
                                        const js::Node* where) {
    js::Node m;
    m.pointer = where->pointer;
    for (const js::Node* p : parts) {
      if (p->is_false) {
        m.is_false = true;
        return Own(std::move(m));
      }
    }
    // Types: "number" admits integers, so integers stay when every part has either.
    m.types = js::TypeSet::None();
    for (js::Type t : {js::Type::kNull, js::Type::kBoolean, js::Type::kNumber, js::Type::kString,
                       js::Type::kArray, js::Type::kObject}) {
      bool all = true;
      for (const js::Node* p : parts) all = all && p->types.Has(t);
      if (all) m.types.Add(t);
    }
    bool integers = true;
    for (const js::Node* p : parts) {
      integers = integers && (p->types.Has(js::Type::kInteger) || p->types.Has(js::Type::kNumber));
    }
    if (integers) m.types.Add(js::Type::kInteger);
    // enum / const: the values every part accepts (checked by the validator, so exact).
    for (const js::Node* p : parts) {
      if (!p->const_value && !p->enum_values) continue;
      std::vector<nlohmann::json> values =
          p->enum_values ? *p->enum_values : std::vector<nlohmann::json>{*p->const_value};
      std::vector<nlohmann::json> kept;
      for (const nlohmann::json& v : values) {
        bool ok = true;
        for (const js::Node* q : parts) ok = ok && js::NodeAccepts(schema_, *q, v);
        if (ok) kept.push_back(v);
      }
      js::Node e;
      e.pointer = where->pointer;
      if (kept.empty()) {
        e.is_false = true;
      } else {
        e.enum_values = std::move(kept);
      }
      return Own(std::move(e));
    }
    // Strings.
    for (const js::Node* p : parts) {
      const js::StringConstraints& s = p->string;
      m.string.min_length = std::max(m.string.min_length, s.min_length);
      if (s.max_length) {
        m.string.max_length =
            m.string.max_length ? std::min(*m.string.max_length, *s.max_length) : *s.max_length;
      }
      if (s.pattern) {
        if (m.string.pattern && m.string.pattern->source != s.pattern->source) {
          return Unsupported(Where("allOf with two different patterns", where));
        }
        m.string.pattern = s.pattern;
      }
      if (s.format) {
        if (m.string.format && *m.string.format != *s.format) {
          return Unsupported(Where("allOf with two different formats", where));
        }
        m.string.format = s.format;
      }
    }
    // Numbers: the tightest bound of each kind.
    auto tighter = [](std::optional<nlohmann::json>* have, const std::optional<nlohmann::json>& v,
                      bool lower) {
      if (!v) return;
      if (!*have || (lower ? v->get<double>() > (*have)->get<double>()
                           : v->get<double>() < (*have)->get<double>())) {
        *have = v;
      }
    };
    for (const js::Node* p : parts) {
      const js::NumberConstraints& n = p->number;
      tighter(&m.number.minimum, n.minimum, true);
      tighter(&m.number.exclusive_minimum, n.exclusive_minimum, true);
      tighter(&m.number.maximum, n.maximum, false);
      tighter(&m.number.exclusive_maximum, n.exclusive_maximum, false);
      if (n.multiple_of) {
        if (m.number.multiple_of && !js::JsonEqual(*m.number.multiple_of, *n.multiple_of)) {
          return Unsupported(Where("allOf with two different multipleOf", where));
        }
        m.number.multiple_of = n.multiple_of;
      }
    }
    // Objects: a member's value meets, in every part, that part's property schema, or its
    // additionalProperties when the part does not declare the member.
    for (const js::Node* p : parts) {
      if (!p->object.pattern_properties.empty()) {
        return Unsupported(Where("patternProperties inside allOf", where));
      }
    }
    std::vector<std::string> names;
    for (const js::Node* p : parts) {
      for (const js::PropertySchema& prop : p->object.properties) {
        if (std::find(names.begin(), names.end(), prop.name) == names.end()) {
          names.push_back(prop.name);
        }
      }
      for (const std::string& r : p->object.required) {
        if (std::find(m.object.required.begin(), m.object.required.end(), r) ==
            m.object.required.end()) {
          m.object.required.push_back(r);
        }
      }
    }
    for (const std::string& name : names) {
      std::vector<const js::Node*> subs;
      for (const js::Node* p : parts) {
        const js::PropertySchema* prop = p->object.FindProperty(name);
        if (prop != nullptr) {
          subs.push_back(prop->schema);
        } else if (p->object.additional_properties != nullptr) {
          subs.push_back(p->object.additional_properties);
        }
      }
      m.object.properties.push_back({name, AllOfNode(std::move(subs), where)});
    }
    std::vector<const js::Node*> additional;
    for (const js::Node* p : parts) {
      if (p->object.additional_properties != nullptr) {
        additional.push_back(p->object.additional_properties);
      }
    }
    m.object.additional_properties = AllOfNode(std::move(additional), where);
    // Arrays: item i meets every part's prefixItems[i], or its items past its prefix.
    size_t prefix = 0;
    for (const js::Node* p : parts) prefix = std::max(prefix, p->array.prefix_items.size());
    for (size_t i = 0; i < prefix; ++i) {
      std::vector<const js::Node*> subs;
      for (const js::Node* p : parts) {
        if (i < p->array.prefix_items.size()) {
          subs.push_back(p->array.prefix_items[i]);
        } else if (p->array.items != nullptr) {
          subs.push_back(p->array.items);
        }
      }
      const js::Node* item = AllOfNode(std::move(subs), where);
      m.array.prefix_items.push_back(item != nullptr ? item : &g_->any_node);
    }
    std::vector<const js::Node*> items;
    for (const js::Node* p : parts) {
      m.array.min_items = std::max(m.array.min_items, p->array.min_items);
      if (p->array.max_items) {
        m.array.max_items = m.array.max_items ? std::min(*m.array.max_items, *p->array.max_items)
                                              : *p->array.max_items;
      }
      if (p->array.items != nullptr) items.push_back(p->array.items);
    }
    m.array.items = AllOfNode(std::move(items), where);
    return Own(std::move(m));
  }

  // Creates a leaf with its kinds (its children are filled later, so recursion works).
  StatusOr<int> NewLeaf(const js::Node* n) {
    JsonGrammar::Impl::Leaf leaf;
    leaf.node = n;
    const js::TypeSet& t = n->types;
    if (t.Has(js::Type::kNull)) leaf.kinds |= kNullBit;
    if (t.Has(js::Type::kBoolean)) leaf.kinds |= kBoolBit;
    if (t.Has(js::Type::kNumber) || t.Has(js::Type::kInteger)) leaf.kinds |= kNumBit;
    if (t.Has(js::Type::kString)) leaf.kinds |= kStrBit;
    if (t.Has(js::Type::kArray)) leaf.kinds |= kArrBit;
    if (t.Has(js::Type::kObject)) leaf.kinds |= kObjBit;
    leaf.integer_only = t.Has(js::Type::kInteger) && !t.Has(js::Type::kNumber);
    if (n->const_value || n->enum_values) {
      if (!DefaultString(n->string) || !DefaultNumber(n->number) || !DefaultObject(n->object) ||
          !DefaultArray(n->array)) {
        return Unsupported(Where(
            n->const_value ? "const with sibling constraints" : "enum with sibling constraints",
            n));
      }
      leaf.is_enum = true;
      std::vector<nlohmann::json> values;
      if (n->enum_values) {
        values = *n->enum_values;
      } else {
        values.push_back(*n->const_value);
      }
      uint8_t kinds = 0;
      for (const nlohmann::json& v : values) {
        if (n->const_value && !js::JsonEqual(v, *n->const_value)) continue;
        uint8_t k = KindOfJson(v);
        if ((k & leaf.kinds) == 0) continue;
        if (k == kNumBit && leaf.integer_only && !js::IsIntegerNumber(v, g_->integral_floats)) {
          continue;
        }
        kinds |= k;
        if (v.is_string()) leaf.string_value_texts.push_back(v.dump());
        leaf.values.push_back(v);
      }
      leaf.kinds = kinds;
    } else if (g_->generate() && n->number.multiple_of && leaf.kinds == kNumBit) {
      // kGenerate, a number that must be a multiple of an integer: the multiples within the
      // bounds, written as an enum (exact, and no prefix can dead-end). Too many multiples
      // (bounds missing or wide) stays Unsupported in FillLeaf.
      std::optional<std::vector<nlohmann::json>> values = MultiplesInRange(*n);
      if (values) {
        leaf.is_enum = true;
        for (const nlohmann::json& v : *values) leaf.values.push_back(v);
      }
    }
    g_->leaves.push_back(std::move(leaf));
    int id = static_cast<int>(g_->leaves.size()) - 1;
    pending_.push_back(id);
    return id;
  }

  Status FillLeaf(int id) {
    // Copy what we need: leaves may grow (reallocate) while children are resolved.
    const js::Node* n = g_->leaves[id].node;
    const bool gen = g_->generate();
    if (g_->leaves[id].is_enum) {
      if (gen) {
        std::vector<std::string> dumps;
        for (const nlohmann::json& v : g_->leaves[id].values) dumps.push_back(v.dump());
        g_->leaves[id].literal_set = AddLiterals(dumps, {});
      }
      return Status::Ok();
    }
    // Strings.
    {
      JsonGrammar::Impl::Leaf& l = g_->leaves[id];
      const js::StringConstraints& s = n->string;
      l.min_len = static_cast<int64_t>(std::min<uint64_t>(s.min_length, uint64_t{1} << 40));
      l.max_len = s.max_length
                      ? static_cast<int64_t>(std::min<uint64_t>(*s.max_length, uint64_t{1} << 40))
                      : -1;
    }
    if ((g_->leaves[id].kinds & kStrBit) != 0) {
      const js::StringConstraints& s = n->string;
      std::string regex;
      if (s.pattern) regex = s.pattern->source;
      if (s.format) {
        if (gen) {
          if (s.pattern) return Unsupported(Where("pattern together with format", n));
          regex = FormatRegex(*s.format);
        } else {
          g_->leaves[id].check_format = s.format;
          if (!s.pattern && FormatSupersetRegex(*s.format) != nullptr) {
            regex = FormatSupersetRegex(*s.format);
          }
        }
      }
      if (!regex.empty() || s.pattern) {
        StatusOr<CodepointDfa> dfa = CodepointDfa::FromRegex(regex);
        if (!dfa.ok()) {
          return Unsupported(Where(s.pattern ? "pattern" : "format", n) + " (" +
                             dfa.status().message() + ")");
        }
        g_->dfas.push_back(std::move(*dfa));
        JsonGrammar::Impl::Leaf& l = g_->leaves[id];
        l.dfa = static_cast<int>(g_->dfas.size()) - 1;
        int64_t cols = (l.max_len >= 0 ? l.max_len : l.min_len) + 1;
        if (cols > kMaxTableCount + 1) {
          if (gen) return Unsupported(Where("maxLength / minLength over 1024 with a pattern", n));
        } else {
          BuildNeedTable(&l, static_cast<int>(cols));
        }
      }
    }
    // Numbers: integer bounds (clamped to what kGenerate writes).
    {
      const js::NumberConstraints& num = n->number;
      if ((g_->leaves[id].kinds & kNumBit) != 0) {
        if (gen && num.multiple_of) {
          return Unsupported(Where("multipleOf", n) +
                             " (generation needs an integer multipleOf with at most 1024 "
                             "multiples between minimum and maximum; add bounds)");
        }
        const int64_t limit = Pow10(kGenIntDigits) - 1;
        int64_t lo = -limit, hi = limit;
        bool bounded = false;
        auto to_double = [](const nlohmann::json& v) { return v.get<double>(); };
        auto clamp = [&](double v) {
          return static_cast<int64_t>(std::max<double>(-limit - 1, std::min<double>(limit + 1, v)));
        };
        if (num.minimum) lo = std::max(lo, clamp(std::ceil(to_double(*num.minimum))));
        if (num.exclusive_minimum) {
          lo = std::max(lo, clamp(std::floor(to_double(*num.exclusive_minimum)) + 1));
        }
        if (num.maximum) hi = std::min(hi, clamp(std::floor(to_double(*num.maximum))));
        if (num.exclusive_maximum) {
          hi = std::min(hi, clamp(std::ceil(to_double(*num.exclusive_maximum)) - 1));
        }
        bounded = num.minimum || num.maximum || num.exclusive_minimum || num.exclusive_maximum;
        JsonGrammar::Impl::Leaf& l = g_->leaves[id];
        l.has_bounds = bounded;
        l.lo = lo;
        l.hi = hi;
        if (gen && bounded && lo > hi) {
          return Unsupported(Where("number bounds that admit no integer", n));
        }
      }
    }
    // Objects.
    if ((g_->leaves[id].kinds & kObjBit) != 0) {
      const js::ObjectConstraints& o = n->object;
      const std::vector<js::PatternPropertySchema>& patterns = o.pattern_properties;
      if (patterns.size() > 4) return Unsupported(Where("more than 4 patternProperties", n));
      // A member's schema: its property schema (or, undeclared, additionalProperties when
      // no pattern matches its name) together with every patternProperties entry it matches.
      auto member_node = [&](const std::string& name, const js::Node* declared) {
        std::vector<const js::Node*> subs;
        if (declared != nullptr) subs.push_back(declared);
        for (const js::PatternPropertySchema& pp : patterns) {
          if (pp.pattern.Search(name)) subs.push_back(pp.schema);
        }
        if (subs.empty()) return o.additional_properties;
        return AllOfNode(std::move(subs), n);
      };
      std::vector<JsonGrammar::Impl::Prop> props;
      for (const js::PropertySchema& p : o.properties) {
        JsonGrammar::Impl::Prop prop;
        prop.name = p.name;
        QS_ASSIGN_OR_RETURN(prop.alts, AltsFor(member_node(p.name, p.schema)));
        props.push_back(std::move(prop));
      }
      for (const std::string& r : o.required) {
        auto it = std::find_if(props.begin(), props.end(),
                               [&](const JsonGrammar::Impl::Prop& p) { return p.name == r; });
        if (it != props.end()) {
          it->required = true;
          continue;
        }
        JsonGrammar::Impl::Prop prop;
        prop.name = r;
        prop.required = true;
        QS_ASSIGN_OR_RETURN(prop.alts, AltsFor(member_node(r, nullptr)));
        props.push_back(std::move(prop));
      }
      if (props.size() > 64) return Unsupported(Where("more than 64 properties", n));
      uint64_t mask = 0;
      for (size_t j = 0; j < props.size(); ++j) {
        props[j].key_literal = nlohmann::json(props[j].name).dump() + ":";
        if (props[j].required) mask |= uint64_t{1} << j;
      }
      QS_ASSIGN_OR_RETURN(int additional, AltsFor(o.additional_properties));
      std::vector<int> pattern_alts;
      std::vector<js::Pattern> key_patterns;
      if (!patterns.empty()) {
        for (uint32_t bits = 0; bits < (1u << patterns.size()); ++bits) {
          std::vector<const js::Node*> subs;
          for (size_t i = 0; i < patterns.size(); ++i) {
            if ((bits >> i) & 1) subs.push_back(patterns[i].schema);
          }
          QS_ASSIGN_OR_RETURN(int alts, AltsFor(bits == 0 ? o.additional_properties
                                                          : AllOfNode(std::move(subs), n)));
          pattern_alts.push_back(alts);
        }
        for (const js::PatternPropertySchema& pp : patterns) key_patterns.push_back(pp.pattern);
      }
      JsonGrammar::Impl::Leaf& l = g_->leaves[id];
      l.props = std::move(props);
      l.required_mask = mask;
      l.additional_alts = additional;
      l.pattern_alts = std::move(pattern_alts);
      l.key_patterns = std::move(key_patterns);
    }
    // Arrays.
    if ((g_->leaves[id].kinds & kArrBit) != 0) {
      const js::ArrayConstraints& a = n->array;
      std::vector<int> prefix;
      for (const js::Node* item : a.prefix_items) {
        QS_ASSIGN_OR_RETURN(int alts, AltsFor(item));
        prefix.push_back(alts);
      }
      QS_ASSIGN_OR_RETURN(int items, AltsFor(a.items));
      JsonGrammar::Impl::Leaf& l = g_->leaves[id];
      l.prefix_alts = std::move(prefix);
      l.items_alts = items;
      l.min_items = static_cast<int64_t>(std::min<uint64_t>(a.min_items, uint64_t{1} << 30));
      l.max_items = a.max_items
                        ? static_cast<int64_t>(std::min<uint64_t>(*a.max_items, uint64_t{1} << 30))
                        : -1;
    }
    return Status::Ok();
  }

  // need[q][c]: fewest bytes of string content from DFA state q with c code points written
  // (c saturates at min_len without maxLength) to an accepted end: a shortest path over
  // (state, count) with each step weighted by its cheapest writable code point.
  void BuildNeedTable(JsonGrammar::Impl::Leaf* l, int cols) {
    const CodepointDfa& dfa = g_->dfas[l->dfa];
    const int states = dfa.num_states();
    l->table_cols = cols;
    l->need.assign(static_cast<size_t>(states) * cols, kInf);
    const int last = cols - 1;
    for (int q = 0; q < states; ++q) {
      for (int c = 0; c < cols; ++c) {
        if (dfa.accepting(q) && c >= l->min_len) l->need[static_cast<size_t>(q) * cols + c] = 0;
      }
    }
    bool changed = true;
    while (changed) {
      changed = false;
      for (int q = 0; q < states; ++q) {
        for (int c = 0; c < cols; ++c) {
          int next_c = c + 1;
          if (next_c > last) {
            if (l->max_len >= 0) continue;
            next_c = last;
          }
          int64_t& cur = l->need[static_cast<size_t>(q) * cols + c];
          for (const CodepointDfa::Transition& t : dfa.transitions(q)) {
            int64_t cost = CheapestCost(t.lo, t.hi);
            if (cost >= kInf) continue;
            int64_t v = Add(cost, l->need[static_cast<size_t>(t.target) * cols + next_c]);
            if (v < cur) {
              cur = v;
              changed = true;
            }
          }
        }
      }
    }
  }

  // Fewest bytes of a value of each leaf / alternative set: a fixed point, since schemas
  // may be recursive (minima only decrease).
  void ComputeMinima() {
    g_->alt_min.assign(g_->alt_sets.size(), kInf);
    bool changed = true;
    while (changed) {
      changed = false;
      for (JsonGrammar::Impl::Leaf& l : g_->leaves) {
        int64_t km[6] = {kInf, kInf, kInf, kInf, kInf, kInf};
        if (l.is_enum) {
          for (const nlohmann::json& v : l.values) {
            int64_t len = static_cast<int64_t>(v.dump().size());
            uint8_t k = KindOfJson(v);
            int idx = k == kNullBit   ? kNullK
                      : k == kBoolBit ? kBoolK
                      : k == kNumBit  ? kNumK
                      : k == kStrBit  ? kStrK
                      : k == kArrBit  ? kArrK
                                      : kObjK;
            km[idx] = std::min(km[idx], len);
          }
        } else {
          if (l.kinds & kNullBit) km[kNullK] = 4;
          if (l.kinds & kBoolBit) km[kBoolK] = 4;
          if (l.kinds & kNumBit) {
            if (!l.has_bounds) {
              km[kNumK] = 1;
            } else if (l.lo <= l.hi) {
              int64_t v = l.lo > 0 ? l.lo : l.hi < 0 ? l.hi : 0;
              km[kNumK] = static_cast<int64_t>(std::to_string(v).size());
            }
          }
          if (l.kinds & kStrBit) {
            int start = l.dfa >= 0 ? g_->dfas[l.dfa].start() : 0;
            km[kStrK] = Add(2, g_->Need(l, start, 0));
            if (l.max_len >= 0 && l.min_len > l.max_len) km[kStrK] = kInf;
          }
          if (l.kinds & kArrBit) {
            if (l.max_items >= 0 && l.min_items > l.max_items) {
              km[kArrK] = kInf;
            } else {
              int64_t c = 2;
              for (int64_t i = 0; i < l.min_items && c < kInf; ++i) {
                c = Add(c, Add(i > 0 ? 1 : 0, g_->AltMin(l.ItemAlts(i))));
              }
              km[kArrK] = c;
            }
          }
          if (l.kinds & kObjBit) {
            int64_t req = g_->RequiredCost(l, 0, 0);
            km[kObjK] = Add(req == 0 ? 2 : req + 1, 0);
          }
        }
        int64_t best = kInf;
        for (int k = 0; k < 6; ++k) {
          l.kind_min[k] = km[k];
          best = std::min(best, km[k]);
        }
        if (best != l.min_value) {
          l.min_value = best;
          changed = true;
        }
      }
      for (size_t a = 0; a < g_->alt_sets.size(); ++a) {
        int64_t best = kInf;
        for (int leaf : g_->alt_sets[a]) best = std::min(best, g_->leaves[leaf].min_value);
        if (best != g_->alt_min[a]) {
          g_->alt_min[a] = best;
          changed = true;
        }
      }
    }
  }

  // kGenerate writes members in declared order: from declared index i the next key is any
  // feasible property j >= i up to and including the first required one.
  void BuildKeySets() {
    for (size_t id = 0; id < g_->leaves.size(); ++id) {
      std::vector<int> sets;
      const size_t count = g_->leaves[id].props.size();
      for (size_t i = 0; i <= count; ++i) {
        std::vector<std::string> keys;
        std::vector<int> payload;
        for (size_t j = i; j < count; ++j) {
          const JsonGrammar::Impl::Prop& p = g_->leaves[id].props[j];
          if (g_->AltMin(p.alts) < kInf) {
            keys.push_back(p.key_literal);
            payload.push_back(static_cast<int>(j));
          }
          if (p.required) break;
        }
        sets.push_back(AddLiterals(keys, payload));
      }
      g_->leaves[id].key_sets = std::move(sets);
    }
  }

  const js::Schema& schema_;
  JsonGrammar::Impl* g_;
  std::map<const js::Node*, int> memo_;
  std::vector<int> pending_;
  int distributions_ = 0;
};

}  // namespace

StatusOr<std::shared_ptr<const JsonGrammar>> JsonGrammar::Compile(const js::Schema& schema,
                                                                  GrammarMode mode) {
  static std::atomic<uint64_t> next_id{1};
  auto grammar = std::make_shared<JsonGrammar>();
  grammar->mode_ = mode;
  grammar->id_ = next_id++;
  GrammarCompiler compiler(schema, mode, grammar->impl_.get());
  QS_RETURN_IF_ERROR(compiler.Run());
  return std::shared_ptr<const JsonGrammar>(std::move(grammar));
}

// ---------------------------------------------------------------------------------------
// The matcher.

namespace {

using Impl = JsonGrammar::Impl;

class Stepper {
 public:
  explicit Stepper(const Impl& g) : g_(g) {}

  // Feeds byte b to stack s; appends every resulting live stack to out.
  // `append`: false when a byte that ended a number / literal is fed again to its parent
  // (it is in the capture already).
  void Step(Stack s, uint8_t b, std::vector<Stack>* out, bool append = true) {
    if (append && s.capture_depth >= 0 && static_cast<int>(s.frames.size()) > s.capture_depth) {
      s.capture.push_back(static_cast<char>(b));
    }
    Frame& f = s.frames.back();
    switch (f.kind) {
      case kRoot:
        if (f.phase == 0) {
          if (Ws(b)) {
            out->push_back(std::move(s));
            return;
          }
          f.phase = 3;
          StartValue(std::move(s), g_.root_alts, b, out);
        } else if (f.phase == 1 && Ws(b)) {
          out->push_back(std::move(s));
        }
        return;
      case kObject:
        ObjectStep(std::move(s), b, out);
        return;
      case kArray:
        ArrayStep(std::move(s), b, out);
        return;
      case kString:
        if (StringStep(&s, b)) out->push_back(std::move(s));
        return;
      case kNumber: {
        const bool complete = NumberComplete(f);
        if (complete) {
          Stack ended = s;
          if (Finish(&ended, /*drop_last=*/true)) Step(std::move(ended), b, out, false);
        }
        if (NumberStep(&s, b)) out->push_back(std::move(s));
        return;
      }
      case kLiteral: {
        const Impl::LiteralSet& set = g_.literals[f.alts];
        if (set.strings[f.q].size() == static_cast<size_t>(f.pos) && (f.flags & kKeyFlag) == 0) {
          Stack ended = s;
          if (Finish(&ended, /*drop_last=*/true)) Step(std::move(ended), b, out, false);
        }
        if (LiteralStep(&s.frames.back(), b)) {
          Frame& lf = s.frames.back();
          if (lf.q2 - lf.q == 1 && set.strings[lf.q].size() == static_cast<size_t>(lf.pos)) {
            if (!Finish(&s, false)) return;
          }
          out->push_back(std::move(s));
        }
        return;
      }
    }
  }

  // Pops the finished top value and updates its parent; false when a check fails.
  bool Finish(Stack* s, bool drop_last) {
    Frame top = s->frames.back();
    s->frames.pop_back();
    if (top.kind == kNumber && !NumberValid(*s, top)) return false;
    if (s->capture_depth == static_cast<int>(s->frames.size())) {
      if (drop_last && !s->capture.empty()) s->capture.pop_back();
      if (!EnumMatches(*s)) return false;
      s->capture_depth = -1;
      s->capture_leaf = -1;
      s->capture.clear();
    }
    if (top.kind == kNumber) s->text.clear();
    Frame& p = s->frames.back();
    switch (p.kind) {
      case kRoot:
        p.phase = 1;
        return true;
      case kArray:
        p.phase = 1;
        return true;
      case kObject: {
        const Impl::Leaf& l = g_.leaves[p.leaf];
        if (p.phase == 3) {
          p.phase = 4;
          return true;
        }
        // A key ended.
        if (g_.generate()) {
          int j = g_.literals[top.alts].payload[top.q];
          p.n = j + 1;
          p.alts = l.props[j].alts;
          p.phase = 3;
          return true;
        }
        int found = -1;
        for (size_t j = 0; j < l.props.size(); ++j) {
          if (l.props[j].name == s->text) found = static_cast<int>(j);
        }
        if (found >= 0) {
          if ((p.bits >> found) & 1) return false;  // a duplicate member
          p.bits |= uint64_t{1} << found;
          p.alts = l.props[found].alts;
        } else if (!l.key_patterns.empty()) {
          uint32_t bits = 0;
          for (size_t i = 0; i < l.key_patterns.size(); ++i) {
            if (l.key_patterns[i].Search(s->text)) bits |= 1u << i;
          }
          p.alts = l.pattern_alts[bits];
        } else {
          p.alts = l.additional_alts;
        }
        s->text.clear();
        p.phase = 2;
        return true;
      }
      default:
        return false;
    }
  }

  // StringStep for bytes that cannot end the string (no Finish); may leave the frame
  // modified on failure (the caller restores it).
  bool StringStepInPlace(Stack* s, uint8_t b) { return StringStep(s, b); }
  // Whether a string frame's text must be collected (keys in kAccept, checked formats).
  bool NeedsText(const Frame& f) const {
    const Impl::Leaf* l = StringLeaf(f);
    return l == nullptr || l->check_format.has_value();
  }

  // Whether the object under the key on top takes keys beyond its declared properties.
  bool AnyKeyAllowed(const Stack& s) const {
    if (s.frames.size() < 2) return true;
    const Frame& object = s.frames[s.frames.size() - 2];
    if (object.kind != kObject || object.leaf < 0) return true;
    const Impl::Leaf& l = g_.leaves[object.leaf];
    return g_.AltMin(l.additional_alts) < kInf || !l.key_patterns.empty();
  }

  // See JsonMatcher::PlainStringRoom.
  int64_t PlainRoom(const Frame& f) const {
    if (f.phase != kContent) return -1;
    const Impl::Leaf* l = StringLeaf(f);
    if (l == nullptr) return JsonMatcher::kNoRoomLimit;  // keys: never plain (they keep text)
    if (l->dfa >= 0 || l->check_format) return -1;
    if (l->max_len >= 0) return std::max<int64_t>(0, l->max_len - f.n);
    return JsonMatcher::kNoRoomLimit;
  }

  // For the token matcher's light levels: a content byte on a detached string frame.
  bool StepDetached(Frame* f, uint8_t b) const { return ContentStep(*f, nullptr, b); }

  bool NumberComplete(const Frame& f) const {
    return f.phase == 2 || f.phase == 3 || f.phase == 5 || f.phase == 8;
  }

  bool LiteralComplete(const Frame& f) const {
    return g_.literals[f.alts].strings[f.q].size() == static_cast<size_t>(f.pos);
  }

  // Finishes scalars that could end here; true when the document is complete.
  bool CanEnd(Stack s) {
    for (int guard = 0; guard < kMaxDepth; ++guard) {
      const Frame& f = s.frames.back();
      if (f.kind == kRoot) return f.phase == 1;
      bool ends = (f.kind == kNumber && NumberComplete(f)) ||
                  (f.kind == kLiteral && (f.flags & kKeyFlag) == 0 && LiteralComplete(f));
      if (!ends || !Finish(&s, false)) return false;
    }
    return false;
  }

  // top: when set, replaces the stack's top frame.
  int64_t MinToClose(const Stack& s, const Frame* top = nullptr) const;

 private:
  bool Ws(uint8_t b) const { return !g_.generate() && IsWs(b); }

  void StartValue(Stack s, int alts, uint8_t b, std::vector<Stack>* out) {
    if (alts < 0 || static_cast<int>(s.frames.size()) >= kMaxDepth) return;
    const std::vector<int>& leaves = g_.alt_sets[alts];
    for (size_t i = 0; i < leaves.size(); ++i) {
      const int leaf = leaves[i];
      const Impl::Leaf& l = g_.leaves[leaf];
      Stack t = (i + 1 == leaves.size()) ? std::move(s) : s;
      if (l.is_enum && !g_.generate()) {
        // kAccept: match any value, remember its text and compare it when it ends.
        if (t.capture_depth >= 0) continue;
        t.capture_depth = static_cast<int>(t.frames.size());
        t.capture_leaf = leaf;
        t.capture.assign(1, static_cast<char>(b));
        StartLeaf(std::move(t), g_.alt_sets[g_.any_alts][0], b, out);
        continue;
      }
      StartLeaf(std::move(t), leaf, b, out);
    }
  }

  void StartLeaf(Stack s, int leaf, uint8_t b, std::vector<Stack>* out) {
    const Impl::Leaf& l = g_.leaves[leaf];
    const bool gen = g_.generate();
    auto feasible = [&](int k) { return !gen || l.kind_min[k] < kInf; };
    Frame f;
    f.leaf = leaf;
    if (l.is_enum) {  // kGenerate: one of the values' compact texts
      f.kind = kLiteral;
      f.alts = l.literal_set;
      f.q = 0;
      f.q2 = static_cast<int32_t>(g_.literals[f.alts].strings.size());
      if (!LiteralStep(&f, b)) return;
      s.frames.push_back(f);
      if (f.q2 - f.q == 1 && LiteralComplete(f)) {
        if (!Finish(&s, false)) return;
      }
      out->push_back(std::move(s));
      return;
    }
    if (b == '{' && (l.kinds & kObjBit) && feasible(kObjK)) {
      f.kind = kObject;
      s.frames.push_back(f);
      out->push_back(std::move(s));
    } else if (b == '[' && (l.kinds & kArrBit) && feasible(kArrK)) {
      f.kind = kArray;
      s.frames.push_back(f);
      out->push_back(std::move(s));
    } else if (b == '"' && (l.kinds & kStrBit) && feasible(kStrK)) {
      f.kind = kString;
      f.q = l.dfa >= 0 ? g_.dfas[l.dfa].start() : 0;
      s.text.clear();
      s.frames.push_back(f);
      out->push_back(std::move(s));
    } else if ((b == '-' || (b >= '0' && b <= '9')) && (l.kinds & kNumBit) && feasible(kNumK)) {
      f.kind = kNumber;
      s.text.clear();
      s.frames.push_back(f);
      if (NumberStep(&s, b)) out->push_back(std::move(s));
    } else if ((b == 't' || b == 'f') && (l.kinds & kBoolBit)) {
      f.kind = kLiteral;
      f.alts = b == 't' ? g_.lit_true : g_.lit_false;
      f.q2 = 1;
      f.pos = 1;
      s.frames.push_back(f);
      out->push_back(std::move(s));
    } else if (b == 'n' && (l.kinds & kNullBit)) {
      f.kind = kLiteral;
      f.alts = g_.lit_null;
      f.q2 = 1;
      f.pos = 1;
      s.frames.push_back(f);
      out->push_back(std::move(s));
    }
  }

  bool LiteralStep(Frame* f, uint8_t b) const {
    const std::vector<std::string>& strings = g_.literals[f->alts].strings;
    const size_t pos = static_cast<size_t>(f->pos);
    int first = -1, last = -1;
    for (int i = f->q; i < f->q2; ++i) {
      if (strings[i].size() > pos && static_cast<uint8_t>(strings[i][pos]) == b) {
        if (first < 0) first = i;
        last = i;
      }
    }
    if (first < 0) return false;
    f->q = first;
    f->q2 = last + 1;
    ++f->pos;
    return true;
  }

  void ObjectStep(Stack s, uint8_t b, std::vector<Stack>* out) {
    Frame& f = s.frames.back();
    const Impl::Leaf& l = g_.leaves[f.leaf];
    const bool gen = g_.generate();
    if (Ws(b) && f.phase != 1) {
      out->push_back(std::move(s));
      return;
    }
    auto push_key = [&](Stack t) {
      Frame k;
      k.leaf = t.frames.back().leaf;
      k.flags = kKeyFlag;
      t.frames.back().phase = 1;
      if (gen) {
        k.kind = kLiteral;
        k.alts = l.key_sets[t.frames.back().n];
        k.q = 0;
        k.q2 = static_cast<int32_t>(g_.literals[k.alts].strings.size());
        if (!LiteralStep(&k, b)) return;
      } else {
        k.kind = kString;
        k.leaf = -1;
        t.text.clear();
      }
      t.frames.push_back(k);
      out->push_back(std::move(t));
    };
    auto can_close = [&](const Frame& o) {
      return gen ? o.n >= 64 || (l.required_mask >> o.n) == 0 : (l.required_mask & ~o.bits) == 0;
    };
    switch (f.phase) {
      case 0:
        if (b == '"') {
          push_key(std::move(s));
        } else if (b == '}' && can_close(f)) {
          if (Finish(&s, false)) out->push_back(std::move(s));
        }
        return;
      case 2:
        if (b == ':') {
          f.phase = 3;
          out->push_back(std::move(s));
        }
        return;
      case 3: {
        int alts = f.alts;
        StartValue(std::move(s), alts, b, out);
        return;
      }
      case 4:
        if (b == ',') {
          if (gen && g_.literals[l.key_sets[f.n]].strings.empty()) return;
          f.phase = 5;
          out->push_back(std::move(s));
        } else if (b == '}' && can_close(f)) {
          if (Finish(&s, false)) out->push_back(std::move(s));
        }
        return;
      case 5:
        if (b == '"') push_key(std::move(s));
        return;
      default:
        return;
    }
  }

  void ArrayStep(Stack s, uint8_t b, std::vector<Stack>* out) {
    Frame& f = s.frames.back();
    const Impl::Leaf& l = g_.leaves[f.leaf];
    if (Ws(b)) {
      out->push_back(std::move(s));
      return;
    }
    auto start_item = [&](Stack t) {
      Frame& a = t.frames.back();
      if (l.max_items >= 0 && a.n >= l.max_items) return;
      int alts = l.ItemAlts(a.n);
      ++a.n;
      a.phase = 3;
      StartValue(std::move(t), alts, b, out);
    };
    switch (f.phase) {
      case 0:
        if (b == ']') {
          if (l.min_items == 0 && Finish(&s, false)) out->push_back(std::move(s));
        } else {
          start_item(std::move(s));
        }
        return;
      case 1:
        if (b == ',') {
          if (l.max_items >= 0 && f.n >= l.max_items) return;
          const int next_alts = l.ItemAlts(f.n);
          if (next_alts < 0 || g_.alt_sets[next_alts].empty()) return;
          if (g_.generate() && g_.AltMin(next_alts) >= kInf) return;
          f.phase = 2;
          out->push_back(std::move(s));
        } else if (b == ']' && f.n >= l.min_items) {
          if (Finish(&s, false)) out->push_back(std::move(s));
        }
        return;
      case 2:
        start_item(std::move(s));
        return;
      default:
        return;
    }
  }

  // --- strings ---------------------------------------------------------------------------

  const Impl::Leaf* StringLeaf(const Frame& f) const {
    return f.leaf >= 0 && !(f.flags & kKeyFlag) ? &g_.leaves[f.leaf] : nullptr;
  }

  bool TracksCount(const Impl::Leaf* l) const {
    return l != nullptr && (l->min_len > 0 || l->max_len >= 0);
  }

  // Whether a code point in [lo, hi] may come next.
  bool RangeAlive(const Frame& f, uint32_t lo, uint32_t hi) const {
    const Impl::Leaf* l = StringLeaf(f);
    if (l == nullptr) return true;
    if (l->max_len >= 0 && f.n >= l->max_len) return false;
    if (l->check_format && lo > 0x7E) return false;  // format values are ASCII
    if (l->dfa < 0) return true;
    const CodepointDfa& dfa = g_.dfas[l->dfa];
    if (!g_.generate() || l->table_cols == 0) return dfa.HasTransitionIn(f.q, lo, hi);
    for (const CodepointDfa::Transition& t : dfa.transitions(f.q)) {
      if (t.hi < lo || t.lo > hi) continue;
      if (g_.Need(*l, t.target, f.n + 1) < kInf) return true;
    }
    return false;
  }

  bool AddCodepoint(Stack* s, uint32_t cp) { return AddCp(s->frames.back(), &s->text, cp); }

  // Adds one code point to a string frame; text (nullable) collects it for keys / formats.
  bool AddCp(Frame& f, std::string* text, uint32_t cp) const {
    if (g_.generate() && !Generatable(cp)) return false;
    const Impl::Leaf* l = StringLeaf(f);
    if (l != nullptr) {
      if (l->max_len >= 0 && f.n >= l->max_len) return false;
      // kAccept checks a format when the string ends; a character no value of the format
      // has ends it now, so masks inside format strings need not walk every token.
      if (l->check_format && !js::FormatMayContain(*l->check_format, cp)) return false;
      if (l->dfa >= 0) {
        int next = g_.dfas[l->dfa].Next(f.q, cp);
        if (next < 0) return false;
        if (g_.generate() && g_.Need(*l, next, f.n + 1) >= kInf) return false;
        f.q = next;
      }
      if (TracksCount(l)) ++f.n;
    }
    if (text != nullptr && (l == nullptr || l->check_format)) AppendUtf8(cp, text);
    // Clear the partial-sequence fields so equal states have equal fingerprints.
    f.phase = kContent;
    f.pos = 0;
    f.q2 = 0;
    f.lo = 0;
    f.hi = 0;
    return true;
  }

  // A byte of string content that is neither '"' nor '\\' (raw code points, UTF-8).
  bool ContentStep(Frame& f, std::string* text, uint8_t b) const {
    if (f.phase == kContent) {
      if (b < 0x20) return false;
      if (b < 0x80) return AddCp(f, text, b);
      uint32_t lo, hi;
      int more;
      if (b >= 0xC2 && b <= 0xDF) {
        lo = (b & 0x1Fu) << 6, hi = lo | 0x3F, more = 1;
      } else if (b == 0xE0) {
        lo = 0x800, hi = 0xFFF, more = 2;
      } else if (b == 0xED) {
        lo = 0xD000, hi = 0xD7FF, more = 2;
      } else if (b >= 0xE1 && b <= 0xEF) {
        lo = (b & 0xFu) << 12, hi = lo | 0xFFF, more = 2;
      } else if (b == 0xF0) {
        lo = 0x10000, hi = 0x3FFFF, more = 3;
      } else if (b >= 0xF1 && b <= 0xF3) {
        lo = (b & 0x7u) << 18, hi = lo | 0x3FFFF, more = 3;
      } else if (b == 0xF4) {
        lo = 0x100000, hi = 0x10FFFF, more = 3;
      } else {
        return false;
      }
      if (!RangeAlive(f, lo, hi)) return false;
      f.phase = kUtf8;
      f.lo = lo;
      f.hi = hi;
      f.pos = more;
      f.q2 = b & (more == 1 ? 0x1F : more == 2 ? 0x0F : 0x07);  // value bits so far
      return true;
    }
    if (f.phase != kUtf8 || (b & 0xC0) != 0x80) return false;
    // Narrow [lo, hi] to the code points that start with the bits seen so far.
    const int32_t bits = (f.q2 << 6) | (b & 0x3F);
    const int shift = 6 * (f.pos - 1);
    const uint32_t base = static_cast<uint32_t>(bits) << shift;
    const uint32_t lo = std::max(f.lo, base);
    const uint32_t hi = std::min(f.hi, base | ((1u << shift) - 1));
    if (lo > hi) return false;
    if (f.pos == 1) return AddCp(f, text, lo);
    if (!RangeAlive(f, lo, hi)) return false;
    f.q2 = bits;
    --f.pos;
    f.lo = lo;
    f.hi = hi;
    return true;
  }

  // StringStep, and kAccept's early pruning: an object key that can only be a declared
  // property must stay a prefix of an unseen property's name, and a string value captured
  // for an enum / const must stay a prefix of a string value's compact JSON (until an
  // escape, after which only the exact comparison at the end decides). Without it every
  // key and enum string accepts all string content until its closing quote, and a mask
  // there walks the whole vocabulary.
  bool StringStep(Stack* s, uint8_t b) {
    const size_t text_before = s->text.size();
    if (!StringStepUnpruned(s, b)) return false;
    const Frame& f = s->frames.back();
    if (f.kind != kString) return true;  // it ended
    if ((f.flags & kKeyFlag) != 0 && (s->text.size() != text_before || f.phase == kUtf8) &&
        !KeyPrefixAlive(*s)) {
      return false;
    }
    if (s->capture_depth >= 0 && static_cast<int>(s->frames.size()) - 1 == s->capture_depth &&
        !CapturePrefixAlive(*s)) {
      return false;
    }
    return true;
  }

  bool KeyPrefixAlive(const Stack& s) const {
    if (AnyKeyAllowed(s)) return true;
    const Frame& object = s.frames[s.frames.size() - 2];
    const Impl::Leaf& l = g_.leaves[object.leaf];
    for (size_t j = 0; j < l.props.size(); ++j) {
      if (j < 64 && ((object.bits >> j) & 1) != 0) continue;  // seen: a duplicate fails
      const std::string& name = l.props[j].name;
      if (name.size() < s.text.size() || name.compare(0, s.text.size(), s.text) != 0) continue;
      const Frame& key = s.frames.back();
      if (key.phase != kUtf8) return true;
      // Inside a multi-byte code point: the name's next code point must be in its range.
      size_t pos = s.text.size();
      uint32_t cp = 0;
      if (DecodeUtf8(name, &pos, &cp) && cp >= key.lo && cp <= key.hi) return true;
    }
    return false;
  }

  bool CapturePrefixAlive(const Stack& s) const {
    if (s.capture.find('\\') != std::string::npos) return true;
    for (const std::string& text : g_.leaves[s.capture_leaf].string_value_texts) {
      if (text.size() >= s.capture.size() && text.compare(0, s.capture.size(), s.capture) == 0) {
        return true;
      }
    }
    return false;
  }

  bool StringStepUnpruned(Stack* s, uint8_t b) {
    Frame& f = s->frames.back();
    const bool gen = g_.generate();
    switch (f.phase) {
      case kContent: {
        if (b == '"') {
          const Impl::Leaf* l = StringLeaf(f);
          if (l != nullptr) {
            if (f.n < l->min_len && TracksCount(l)) return false;
            if (l->dfa >= 0 && !g_.dfas[l->dfa].accepting(f.q)) return false;
            if (l->check_format && !js::MatchesFormat(*l->check_format, s->text)) return false;
            s->text.clear();
          }
          return Finish(s, false);
        }
        if (b == '\\') {
          f.phase = kEscape;
          if (gen) {
            for (uint32_t c : {0x22u, 0x5Cu, 0x08u, 0x0Cu, 0x0Au, 0x0Du, 0x09u}) {
              if (RangeAlive(f, c, c)) return true;
            }
            return false;
          }
          return true;
        }
        return ContentStep(f, &s->text, b);
      }
      case kUtf8:
        return ContentStep(f, &s->text, b);
      case kEscape: {
        uint32_t cp;
        switch (b) {
          case '"':
            cp = 0x22;
            break;
          case '\\':
            cp = 0x5C;
            break;
          case '/':
            if (gen) return false;
            cp = 0x2F;
            break;
          case 'b':
            cp = 0x08;
            break;
          case 'f':
            cp = 0x0C;
            break;
          case 'n':
            cp = 0x0A;
            break;
          case 'r':
            cp = 0x0D;
            break;
          case 't':
            cp = 0x09;
            break;
          case 'u':
            if (gen) return false;
            f.phase = kHex;
            f.pos = 0;
            f.lo = 0;
            return true;
          default:
            return false;
        }
        return AddCodepoint(s, cp);
      }
      case kHex:
      case kLowHex: {
        int d;
        if (b >= '0' && b <= '9') {
          d = b - '0';
        } else if (b >= 'a' && b <= 'f') {
          d = b - 'a' + 10;
        } else if (b >= 'A' && b <= 'F') {
          d = b - 'A' + 10;
        } else {
          return false;
        }
        f.lo = f.lo * 16 + static_cast<uint32_t>(d);
        ++f.pos;
        if (f.pos < 4) return true;
        const uint32_t v = f.lo;
        if (f.phase == kLowHex) {
          if (v < 0xDC00 || v > 0xDFFF) return false;
          return AddCodepoint(s, 0x10000 + ((f.hi - 0xD800) << 10) + (v - 0xDC00));
        }
        if (v >= 0xDC00 && v <= 0xDFFF) return false;
        if (v >= 0xD800 && v <= 0xDBFF) {
          f.hi = v;
          f.phase = kLowBackslash;
          return true;
        }
        return AddCodepoint(s, v);
      }
      case kLowBackslash:
        if (b != '\\') return false;
        f.phase = kLowU;
        return true;
      case kLowU:
        if (b != 'u') return false;
        f.phase = kLowHex;
        f.pos = 0;
        f.lo = 0;
        return true;
      default:
        return false;
    }
  }

  // --- numbers -----------------------------------------------------------------------------

  // kGenerate: whether the canonical integer prefix in s.text can still end within bounds.
  bool GenNumberAlive(const Stack& s, const Frame& f) const {
    const Impl::Leaf& l = g_.leaves[f.leaf];
    if (!l.has_bounds) return true;
    bool neg = !s.text.empty() && s.text[0] == '-';
    int64_t d = 0;
    int k = 0;
    for (char c : s.text) {
      if (c >= '0' && c <= '9') {
        d = d * 10 + (c - '0');
        ++k;
      }
    }
    if (k == 0) {  // "-" alone
      for (int64_t first = 1; first <= 9; ++first) {
        if (g_.IntCost(true, first, 1, l) < kInf) return true;
      }
      return false;
    }
    return g_.IntCost(neg, d, k, l) < kInf;
  }

  bool NumberStep(Stack* s, uint8_t b) {
    Frame& f = s->frames.back();
    const Impl::Leaf& l = g_.leaves[f.leaf];
    const bool gen = g_.generate();
    const bool digit = b >= '0' && b <= '9';
    const bool frac_ok = !gen || (!l.integer_only && !l.has_bounds);
    uint8_t next;
    switch (f.phase) {
      case 0:
        if (b == '-') {
          next = 1;
        } else if (b == '0') {
          next = 2;
        } else if (digit) {
          next = 3;
        } else {
          return false;
        }
        break;
      case 1:
        if (b == '0' && !gen) {
          next = 2;
        } else if (digit && b != '0') {
          next = 3;
        } else {
          return false;
        }
        break;
      case 2:
      case 3:
        if (f.phase == 3 && digit) {
          if (gen && f.q >= kGenIntDigits) return false;
          next = 3;
        } else if (b == '.' && frac_ok) {
          next = 4;
        } else if ((b == 'e' || b == 'E') && !gen) {
          next = 6;
        } else {
          return false;
        }
        break;
      case 4:
      case 5:
        if (digit) {
          if (gen && f.q2 >= kGenFracDigits) return false;
          next = 5;
        } else if (f.phase == 5 && (b == 'e' || b == 'E') && !gen) {
          next = 6;
        } else {
          return false;
        }
        break;
      case 6:
        if (b == '+' || b == '-') {
          next = 7;
        } else if (digit) {
          next = 8;
        } else {
          return false;
        }
        break;
      case 7:
      case 8:
        if (!digit) return false;
        next = 8;
        break;
      default:
        return false;
    }
    if (s->text.size() >= kMaxNumberText) return false;
    if (next == 2 || next == 3) ++f.q;
    if (next == 5) ++f.q2;
    f.phase = next;
    s->text.push_back(static_cast<char>(b));
    if (gen && !GenNumberAlive(*s, f)) return false;
    return true;
  }

  // Checks a finished number against its leaf exactly (kAccept) or by its integer value.
  bool NumberValid(const Stack& s, const Frame& f) const {
    const Impl::Leaf& l = g_.leaves[f.leaf];
    if (g_.generate() && !l.integer_only && !l.has_bounds) return true;
    nlohmann::json v = nlohmann::json::parse(s.text, nullptr, false);
    if (v.is_discarded() || !v.is_number()) return false;
    if (v.is_number_float() && !std::isfinite(v.get<double>())) return false;
    if (l.integer_only && !js::IsIntegerNumber(v, g_.integral_floats)) return false;
    const js::NumberConstraints& c = l.node->number;
    if (c.minimum && js::CompareNumbers(v, *c.minimum) < 0) return false;
    if (c.maximum && js::CompareNumbers(v, *c.maximum) > 0) return false;
    if (c.exclusive_minimum && js::CompareNumbers(v, *c.exclusive_minimum) <= 0) return false;
    if (c.exclusive_maximum && js::CompareNumbers(v, *c.exclusive_maximum) >= 0) return false;
    if (c.multiple_of && !js::IsMultipleOf(v, *c.multiple_of)) return false;
    return true;
  }

  bool EnumMatches(const Stack& s) const {
    nlohmann::json v = nlohmann::json::parse(s.capture, nullptr, false);
    if (v.is_discarded()) return false;
    for (const nlohmann::json& e : g_.leaves[s.capture_leaf].values) {
      if (js::JsonEqual(v, e)) return true;
    }
    return false;
  }

  const Impl& g_;
};

int64_t StringCost(const Impl& g, const Stack& s, const Frame& f) {
  const Impl::Leaf* l = f.leaf >= 0 && !(f.flags & kKeyFlag) ? &g.leaves[f.leaf] : nullptr;
  int64_t tail = 1;  // the closing quote
  if (l == nullptr) {
    // kAccept key: close it, ':' and the cheapest value.
    tail = 1 + 1 + 1;
    l = nullptr;
  }
  auto need = [&](int q, int64_t count) -> int64_t {
    if (l == nullptr) return 0;
    return g.Need(*l, q, count);
  };
  auto range_need = [&](uint32_t lo, uint32_t hi) -> int64_t {
    if (l == nullptr || l->dfa < 0) return need(f.q, f.n + 1);
    int64_t best = kInf;
    for (const CodepointDfa::Transition& t : g.dfas[l->dfa].transitions(f.q)) {
      if (t.hi < lo || t.lo > hi) continue;
      best = std::min(best, need(t.target, f.n + 1));
    }
    return best;
  };
  switch (f.phase) {
    case kContent:
      return Add(need(f.q, f.n), tail);
    case kEscape: {
      int64_t best = kInf;
      for (uint32_t c : {0x22u, 0x5Cu, 0x08u, 0x0Cu, 0x0Au, 0x0Du, 0x09u}) {
        best = std::min(best, range_need(c, c));
      }
      return Add(1, Add(best, tail));
    }
    case kUtf8:
      return Add(f.pos, Add(range_need(f.lo, f.hi), tail));
    case kHex: {
      const int shift = 4 * (4 - f.pos);
      const uint32_t lo = f.lo << shift, hi = lo | ((1u << shift) - 1);
      return Add(4 - f.pos, Add(range_need(lo, hi), tail));
    }
    default:  // inside a surrogate pair (kAccept only)
      return Add(10, Add(need(f.q, f.n + 1), tail));
  }
}

int64_t Stepper::MinToClose(const Stack& s, const Frame* top_override) const {
  int64_t total = 0;
  const int top = static_cast<int>(s.frames.size()) - 1;
  for (int i = top; i >= 0 && total < kInf; --i) {
    const Frame& f = (i == top && top_override != nullptr) ? *top_override : s.frames[i];
    const bool is_top = i == top;
    switch (f.kind) {
      case kRoot:
        if (f.phase == 0) total = Add(total, g_.AltMin(g_.root_alts));
        break;
      case kObject: {
        const Impl::Leaf& l = g_.leaves[f.leaf];
        const int64_t req = g_.RequiredCost(l, f.n, f.bits);
        if (!is_top) {
          if (f.phase == 1) {
            // The key literal on top (kGenerate) counted this object; kAccept: a best effort.
            if (!g_.generate()) total = Add(total, Add(g_.AltMin(g_.any_alts), Add(req, 1)));
          } else {
            total = Add(total, Add(req, 1));
          }
          break;
        }
        switch (f.phase) {
          case 0:
            total = Add(total, req == 0 ? 1 : req);
            break;
          case 2:
            total = Add(total, Add(1, Add(g_.AltMin(f.alts), Add(req, 1))));
            break;
          case 3:
            total = Add(total, Add(g_.AltMin(f.alts), Add(req, 1)));
            break;
          case 4:
            total = Add(total, Add(req, 1));
            break;
          case 5: {
            if (req > 0) {
              total = Add(total, req);
            } else {
              int64_t best = kInf;
              if (g_.generate()) {
                const Impl::LiteralSet& set = g_.literals[l.key_sets[f.n]];
                for (size_t c = 0; c < set.strings.size(); ++c) {
                  best = std::min(best, Add(static_cast<int64_t>(set.strings[c].size()),
                                            g_.AltMin(l.props[set.payload[c]].alts)));
                }
              } else {
                best = Add(3, g_.AltMin(l.additional_alts));
                for (size_t j = 0; j < l.props.size(); ++j) {
                  if ((f.bits >> j) & 1) continue;
                  best = std::min(best, Add(static_cast<int64_t>(l.props[j].key_literal.size()),
                                            g_.AltMin(l.props[j].alts)));
                }
              }
              total = Add(total, Add(best, 1));
            }
            break;
          }
          default:
            break;
        }
        break;
      }
      case kArray: {
        const Impl::Leaf& l = g_.leaves[f.leaf];
        int64_t c = 1;  // ']'
        int64_t from = f.n;
        if (is_top && f.phase == 0 && l.min_items > 0) {
          c = Add(c, g_.AltMin(l.ItemAlts(0)));
          from = 1;
        } else if (is_top && f.phase == 2) {
          c = Add(c, g_.AltMin(l.ItemAlts(f.n)));
          from = f.n + 1;
        }
        for (int64_t k = from; k < l.min_items && c < kInf; ++k) {
          c = Add(c, Add(1, g_.AltMin(l.ItemAlts(k))));
        }
        total = Add(total, c);
        break;
      }
      case kString:
        total = Add(total, StringCost(g_, s, f));
        break;
      case kNumber: {
        const Impl::Leaf& l = g_.leaves[f.leaf];
        int64_t c = 0;
        bool neg = !s.text.empty() && s.text[0] == '-';
        int64_t d = 0;
        int k = 0;
        for (char ch : s.text) {
          if (ch == '.' || ch == 'e' || ch == 'E') break;
          if (ch >= '0' && ch <= '9' && k < 18) {
            d = d * 10 + (ch - '0');
            ++k;
          }
        }
        switch (f.phase) {
          case 1: {
            c = kInf;
            for (int64_t first = 1; first <= 9; ++first) {
              c = std::min(c, Add(1, g_.IntCost(true, first, 1, l)));
            }
            break;
          }
          case 2:
          case 3:
            c = k <= kGenIntDigits ? g_.IntCost(neg, d, k, l) : 0;
            break;
          case 4:
          case 6:
          case 7:
            c = 1;
            break;
          default:
            c = 0;
        }
        total = Add(total, c);
        break;
      }
      case kLiteral: {
        const Impl::LiteralSet& set = g_.literals[f.alts];
        int64_t best = kInf;
        for (int c = f.q; c < f.q2; ++c) {
          int64_t rest = static_cast<int64_t>(set.strings[c].size()) - f.pos;
          if (f.flags & kKeyFlag) {
            const Impl::Leaf& l = g_.leaves[f.leaf];
            const int j = set.payload[c];
            rest = Add(rest, Add(g_.AltMin(l.props[j].alts), Add(g_.RequiredCost(l, j + 1, 0), 1)));
          }
          best = std::min(best, rest);
        }
        total = Add(total, best);
        break;
      }
    }
  }
  return total;
}

void AppendInt(std::string* out, int64_t v) {
  char buf[sizeof(v)];
  std::memcpy(buf, &v, sizeof(v));
  out->append(buf, sizeof(v));
}

}  // namespace

JsonMatcher::JsonMatcher(std::shared_ptr<const JsonGrammar> grammar)
    : grammar_(std::move(grammar)) {
  Stack s;
  Frame root;
  root.kind = kRoot;
  s.frames.push_back(root);
  stacks_.push_back(std::move(s));
}

bool JsonMatcher::Advance(uint8_t byte) {
  Stepper stepper(grammar_->impl());
  // Fast path (the common case inside strings): one live stack whose top is a string's
  // content and a byte that neither ends nor escapes it: step in place, no copies.
  if (stacks_.size() == 1 && byte != '"' && byte != '\\') {
    Stack& s = stacks_[0];
    const Frame& top = s.frames.back();
    if (top.kind == kString && (top.phase == kContent || top.phase == kUtf8)) {
      const Frame saved = top;
      const size_t text_size = s.text.size();
      const size_t capture_size = s.capture.size();
      if (s.capture_depth >= 0) s.capture.push_back(static_cast<char>(byte));
      if (stepper.StringStepInPlace(&s, byte)) return true;
      s.frames.back() = saved;
      s.text.resize(text_size);
      s.capture.resize(capture_size);
      return false;
    }
  }
  std::vector<Stack> next;
  for (const Stack& s : stacks_) stepper.Step(s, byte, &next);
  if (next.empty()) return false;
  if (next.size() > 1) {
    // Drop duplicates (alternatives that converged).
    std::vector<std::string> keys;
    std::vector<Stack> unique;
    for (Stack& s : next) {
      JsonMatcher one(grammar_);
      one.stacks_.assign(1, s);
      std::string key;
      one.AppendFingerprint(&key);
      if (std::find(keys.begin(), keys.end(), key) != keys.end()) continue;
      keys.push_back(std::move(key));
      unique.push_back(std::move(s));
    }
    next = std::move(unique);
    // More live alternatives than this bound: refuse rather than grow without limit.
    if (next.size() > static_cast<size_t>(kMaxStacks)) return false;
  }
  stacks_ = std::move(next);
  return true;
}

bool JsonMatcher::InPlainString() const {
  if (stacks_.size() != 1) return false;
  const Stack& s = stacks_[0];
  const Frame& top = s.frames.back();
  if (top.kind != kString || (top.phase != kContent && top.phase != kUtf8)) return false;
  if (s.capture_depth >= 0) return false;
  // A key is pruned by name as it grows, unless its object takes any key.
  return (top.flags & kKeyFlag) == 0 || Stepper(grammar_->impl()).AnyKeyAllowed(s);
}

bool JsonMatcher::StringContentKey(int64_t room_cap, std::string* out) const {
  if (!InPlainString()) return false;
  const Frame& f = top_frame();
  if (f.phase != kContent || f.leaf < 0 || (f.flags & kKeyFlag) != 0) return false;
  const JsonGrammar::Impl& g = grammar_->impl();
  const JsonGrammar::Impl::Leaf& l = g.leaves[f.leaf];
  AppendInt(out, static_cast<int64_t>(grammar_->id()));
  AppendInt(out, f.leaf);
  AppendInt(out, f.q);
  if (g.generate() && l.table_cols > 0) {
    AppendInt(out, f.n);  // the cost table depends on the count itself
  } else {
    const int64_t room = l.max_len >= 0 ? l.max_len - f.n : room_cap;
    AppendInt(out, -1 - std::min(room, room_cap));
  }
  return true;
}

bool JsonMatcher::GetStringScan(StringScan* out) const {
  if (!InPlainString()) return false;
  const Frame& f = top_frame();
  if (f.phase != kContent || f.leaf < 0 || (f.flags & kKeyFlag) != 0) return false;
  const JsonGrammar::Impl& g = grammar_->impl();
  const JsonGrammar::Impl::Leaf& l = g.leaves[f.leaf];
  if (g.generate() && l.table_cols > 0) return false;
  out->dfa = l.dfa >= 0 ? &g.dfas[l.dfa] : nullptr;
  out->q = f.q;
  out->room = l.max_len >= 0 ? std::max<int64_t>(0, l.max_len - f.n) : kNoRoomLimit;
  out->format = l.check_format;
  return true;
}

bool JsonMatcher::PlainStringKeepsText() const {
  return Stepper(grammar_->impl()).NeedsText(top_frame());
}

int64_t JsonMatcher::MinBytesToCloseWithTop(const Frame& top) const {
  // A string on top is never complete, so no IsComplete check is needed.
  return Stepper(grammar_->impl()).MinToClose(stacks_[0], &top);
}

int64_t JsonMatcher::PlainStringRoom() const {
  if (!InPlainString()) return -1;
  return Stepper(grammar_->impl()).PlainRoom(top_frame());
}

bool JsonMatcher::StepStringFrame(Frame* top, uint8_t byte) const {
  if (byte == '"' || byte == '\\') return false;
  if (top->phase != kContent && top->phase != kUtf8) return false;
  return Stepper(grammar_->impl()).StepDetached(top, byte);
}

bool JsonMatcher::AdvanceBytes(std::string_view bytes) {
  JsonMatcher copy = *this;
  for (char c : bytes) {
    if (!copy.Advance(static_cast<uint8_t>(c))) return false;
  }
  *this = std::move(copy);
  return true;
}

bool JsonMatcher::IsComplete() const {
  Stepper stepper(grammar_->impl());
  for (const Stack& s : stacks_) {
    if (stepper.CanEnd(s)) return true;
  }
  return false;
}

int64_t JsonMatcher::MinBytesToClose() const {
  if (IsComplete()) return 0;
  Stepper stepper(grammar_->impl());
  int64_t best = kUnreachable;
  for (const Stack& s : stacks_) best = std::min(best, stepper.MinToClose(s));
  return best;
}

std::string JsonMatcher::ForcedBytes() const {
  std::string forced;
  JsonMatcher cur = *this;
  for (int guard = 0; guard < 4096; ++guard) {
    if (cur.IsComplete()) break;
    int only = -1;
    JsonMatcher only_state = cur;
    for (int b = 0; b < 256; ++b) {
      JsonMatcher t = cur;
      if (!t.Advance(static_cast<uint8_t>(b))) continue;
      if (only >= 0) {
        only = -2;
        break;
      }
      only = b;
      only_state = std::move(t);
    }
    if (only < 0) break;
    forced.push_back(static_cast<char>(only));
    cur = std::move(only_state);
  }
  return forced;
}

void JsonMatcher::AppendFingerprint(std::string* out) const { AppendKey(nullptr, out); }

void JsonMatcher::AppendMaskKey(int64_t room_cap, std::string* out) const {
  // Inside a string whose count matters only through maxLength (minLength reached, no
  // count-dependent cost table): the tokens accepted and every closing distance are the
  // same for any room of at least room_cap, so those positions share one key.
  if (InPlainString()) {
    const Frame& f = top_frame();
    const JsonGrammar::Impl& g = grammar_->impl();
    if (f.phase == kContent && f.leaf >= 0 && (f.flags & kKeyFlag) == 0) {
      const JsonGrammar::Impl::Leaf& l = g.leaves[f.leaf];
      const bool counted = l.min_len > 0 || l.max_len >= 0;
      if (counted && f.n >= l.min_len && !(g.generate() && l.table_cols > 0)) {
        const int64_t room = l.max_len >= 0 ? l.max_len - f.n : room_cap;
        const int64_t normalized = -1 - std::min(room, room_cap);
        AppendKey(&normalized, out);
        return;
      }
    }
  }
  AppendKey(nullptr, out);
}

void JsonMatcher::AppendKey(const int64_t* top_count, std::string* out) const {
  AppendInt(out, static_cast<int64_t>(grammar_->id()));
  for (const Stack& s : stacks_) {
    AppendInt(out, static_cast<int64_t>(s.frames.size()));
    for (const Frame& f : s.frames) {
      out->push_back(static_cast<char>(f.kind));
      out->push_back(static_cast<char>(f.phase));
      out->push_back(static_cast<char>(f.flags));
      AppendInt(out, f.leaf);
      AppendInt(out, top_count != nullptr && &f == &s.frames.back() ? *top_count : f.n);
      AppendInt(out, f.q);
      AppendInt(out, f.q2);
      AppendInt(out, f.pos);
      AppendInt(out, f.alts);
      AppendInt(out, f.lo);
      AppendInt(out, f.hi);
      AppendInt(out, static_cast<int64_t>(f.bits));
    }
    AppendInt(out, static_cast<int64_t>(s.text.size()));
    out->append(s.text);
    AppendInt(out, s.capture_depth);
    AppendInt(out, s.capture_leaf);
    AppendInt(out, static_cast<int64_t>(s.capture.size()));
    out->append(s.capture);
  }
}

}  // namespace qs::structured
