#include "runtime/structured/codepoint_dfa.h"

#include <algorithm>
#include <deque>
#include <map>
#include <set>

namespace qs::structured {

namespace {

using Ranges = std::vector<std::pair<uint32_t, uint32_t>>;  // sorted, disjoint, inclusive

constexpr uint32_t kSurrogateLo = 0xD800, kSurrogateHi = 0xDFFF;

Ranges Normalize(Ranges r) {
  std::sort(r.begin(), r.end());
  Ranges out;
  for (auto [lo, hi] : r) {
    if (!out.empty() && lo <= out.back().second + 1) {
      out.back().second = std::max(out.back().second, hi);
    } else {
      out.push_back({lo, hi});
    }
  }
  // Surrogates are not characters: remove them everywhere.
  Ranges clean;
  for (auto [lo, hi] : out) {
    if (hi < kSurrogateLo || lo > kSurrogateHi) {
      clean.push_back({lo, hi});
      continue;
    }
    if (lo < kSurrogateLo) clean.push_back({lo, kSurrogateLo - 1});
    if (hi > kSurrogateHi) clean.push_back({kSurrogateHi + 1, hi});
  }
  return clean;
}

Ranges Negate(const Ranges& r) {
  Ranges out;
  uint32_t next = 0;
  for (auto [lo, hi] : r) {
    if (lo > next) out.push_back({next, lo - 1});
    next = hi + 1;
  }
  if (next <= kMaxCodepoint) out.push_back({next, kMaxCodepoint});
  return Normalize(out);
}

// ECMA-262 character class escapes.
Ranges Digits() { return {{'0', '9'}}; }
Ranges WordChars() { return Normalize({{'0', '9'}, {'A', 'Z'}, {'_', '_'}, {'a', 'z'}}); }
Ranges Spaces() {
  return Normalize({{0x09, 0x0D},
                    {0x20, 0x20},
                    {0xA0, 0xA0},
                    {0x1680, 0x1680},
                    {0x2000, 0x200A},
                    {0x2028, 0x2029},
                    {0x202F, 0x202F},
                    {0x205F, 0x205F},
                    {0x3000, 0x3000},
                    {0xFEFF, 0xFEFF}});
}
Ranges Any() { return Normalize({{0, kMaxCodepoint}}); }
// '.': anything but line terminators.
Ranges Dot() { return Negate(Normalize({{'\n', '\n'}, {'\r', '\r'}, {0x2028, 0x2029}})); }

// The regex as a tree.
struct Ast {
  enum Kind { kEmpty, kSet, kConcat, kAlt, kRepeat } kind = kEmpty;
  Ranges set;
  std::vector<int> kids;
  int min = 0, max = -1;  // kRepeat; max -1 = unbounded
};

class Parser {
 public:
  Parser(std::vector<uint32_t> cps, std::string_view original)
      : p_(std::move(cps)), original_(original) {}

  // The top level: alternatives, each possibly anchored. Returns the root node.
  StatusOr<int> ParseTop() {
    std::vector<int> alts;
    while (true) {
      bool start_anchor = false, end_anchor = false;
      if (Peek() == '^') {
        ++i_;
        start_anchor = true;
      }
      QS_ASSIGN_OR_RETURN(int body, ParseConcat(/*top=*/true, &end_anchor));
      std::vector<int> parts;
      if (!start_anchor) parts.push_back(AnyStar());
      parts.push_back(body);
      if (!end_anchor) parts.push_back(AnyStar());
      alts.push_back(Add({Ast::kConcat, {}, parts}));
      if (AtEnd()) break;
      if (Peek() == '|') {
        ++i_;
        continue;
      }
      return Error("unbalanced ')'");
    }
    return alts.size() == 1 ? alts[0] : Add({Ast::kAlt, {}, alts});
  }

  std::vector<Ast> nodes;

 private:
  bool AtEnd() const { return i_ >= p_.size(); }
  uint32_t Peek(size_t ahead = 0) const { return i_ + ahead < p_.size() ? p_[i_ + ahead] : 0; }
  int Add(Ast a) {
    nodes.push_back(std::move(a));
    return static_cast<int>(nodes.size()) - 1;
  }
  int AnyStar() { return Add({Ast::kRepeat, {}, {Add({Ast::kSet, Any(), {}})}, 0, -1}); }
  Status Error(const std::string& what) const {
    return InvalidArgument("pattern \"" + std::string(original_) + "\": " + what);
  }
  Status Unsupported(const std::string& what) const {
    return qs::Unsupported("pattern \"" + std::string(original_) + "\": " + what);
  }

  StatusOr<int> ParseAlt() {
    std::vector<int> alts;
    while (true) {
      QS_ASSIGN_OR_RETURN(int c, ParseConcat(false, nullptr));
      alts.push_back(c);
      if (Peek() != '|' || AtEnd()) break;
      ++i_;
    }
    return alts.size() == 1 ? alts[0] : Add({Ast::kAlt, {}, alts});
  }

  StatusOr<int> ParseConcat(bool top, bool* end_anchor) {
    std::vector<int> parts;
    while (!AtEnd() && Peek() != '|' && Peek() != ')') {
      if (Peek() == '$') {
        if (top && (i_ + 1 == p_.size() || Peek(1) == '|')) {
          ++i_;
          *end_anchor = true;
          break;
        }
        return Unsupported("'$' is only supported at the end of the pattern");
      }
      if (Peek() == '^') return Unsupported("'^' is only supported at the start of the pattern");
      QS_ASSIGN_OR_RETURN(int atom, ParseRepeat());
      parts.push_back(atom);
    }
    if (parts.empty()) return Add({Ast::kEmpty, {}, {}});
    return parts.size() == 1 ? parts[0] : Add({Ast::kConcat, {}, parts});
  }

  // Reads digits at i_; false when there are none.
  bool ReadNumber(int* out) {
    size_t start = i_;
    long v = 0;
    while (!AtEnd() && Peek() >= '0' && Peek() <= '9') {
      v = std::min(v * 10 + static_cast<long>(Peek() - '0'), 1000000L);
      ++i_;
    }
    *out = static_cast<int>(v);
    return i_ > start;
  }

  StatusOr<int> ParseRepeat() {
    QS_ASSIGN_OR_RETURN(int atom, ParseAtom());
    while (!AtEnd()) {
      int min, max;
      uint32_t c = Peek();
      if (c == '*') {
        min = 0, max = -1, ++i_;
      } else if (c == '+') {
        min = 1, max = -1, ++i_;
      } else if (c == '?') {
        min = 0, max = 1, ++i_;
      } else if (c == '{') {
        // {n}, {n,}, {n,m}; anything else is a literal '{' (ECMA Annex B).
        size_t save = i_;
        ++i_;
        if (!ReadNumber(&min)) {
          i_ = save;
          break;
        }
        max = min;
        if (Peek() == ',') {
          ++i_;
          if (!ReadNumber(&max)) max = -1;
        }
        if (Peek() != '}') {
          i_ = save;
          break;
        }
        ++i_;
        if (max != -1 && max < min)
          return Error("quantifier {" + std::to_string(min) + "," + std::to_string(max) +
                       "} has max < min");
      } else {
        break;
      }
      if (Peek() == '?') ++i_;  // lazy: the same language
      if (nodes[atom].kind == Ast::kEmpty) continue;
      atom = Add({Ast::kRepeat, {}, {atom}, min, max});
    }
    return atom;
  }

  StatusOr<int> ParseAtom() {
    uint32_t c = Peek();
    if (c == '(') {
      ++i_;
      if (Peek() == '?') {
        if (Peek(1) == ':') {
          i_ += 2;
        } else if (Peek(1) == '<' && Peek(2) != '=' && Peek(2) != '!') {
          i_ += 2;  // named group: skip the name
          while (!AtEnd() && Peek() != '>') ++i_;
          if (AtEnd()) return Error("unterminated group name");
          ++i_;
        } else {
          return Unsupported("lookaround assertions are not supported");
        }
      }
      QS_ASSIGN_OR_RETURN(int inner, ParseAlt());
      if (Peek() != ')' || AtEnd()) return Error("missing ')'");
      ++i_;
      return inner;
    }
    if (c == '[') return ParseClass();
    if (c == '.') {
      ++i_;
      return Add({Ast::kSet, Dot(), {}});
    }
    if (c == '\\') {
      ++i_;
      QS_ASSIGN_OR_RETURN(Ranges r, ParseEscape(/*in_class=*/false));
      return Add({Ast::kSet, r, {}});
    }
    if (c == '*' || c == '+' || c == '?')
      return Error("nothing to repeat before '" + std::string(1, static_cast<char>(c)) + "'");
    ++i_;
    return Add({Ast::kSet, Normalize({{c, c}}), {}});
  }

  StatusOr<uint32_t> Hex(int digits) {
    uint32_t v = 0;
    for (int k = 0; k < digits; ++k) {
      uint32_t c = Peek();
      int d = (c >= '0' && c <= '9')   ? int(c - '0')
              : (c >= 'a' && c <= 'f') ? int(c - 'a' + 10)
              : (c >= 'A' && c <= 'F') ? int(c - 'A' + 10)
                                       : -1;
      if (d < 0 || AtEnd()) return Error("bad hexadecimal escape");
      v = v * 16 + static_cast<uint32_t>(d);
      ++i_;
    }
    return v;
  }

  // After a backslash.
  StatusOr<Ranges> ParseEscape(bool in_class) {
    if (AtEnd()) return Error("trailing backslash");
    uint32_t c = Peek();
    ++i_;
    switch (c) {
      case 'd':
        return Digits();
      case 'D':
        return Negate(Digits());
      case 'w':
        return WordChars();
      case 'W':
        return Negate(WordChars());
      case 's':
        return Spaces();
      case 'S':
        return Negate(Spaces());
      case 't':
        return Ranges{{'\t', '\t'}};
      case 'n':
        return Ranges{{'\n', '\n'}};
      case 'r':
        return Ranges{{'\r', '\r'}};
      case 'f':
        return Ranges{{'\f', '\f'}};
      case 'v':
        return Ranges{{'\v', '\v'}};
      case 'b':
        if (in_class) return Ranges{{'\b', '\b'}};
        return Unsupported("word boundaries (\\b) are not supported");
      case 'B':
        return Unsupported("\\B is not supported");
      case 'p':
      case 'P':
        return Unsupported("Unicode property escapes (\\p{...}) are not supported");
      case 'k':
        return Unsupported("named backreferences are not supported");
      case 'c': {
        uint32_t l = Peek();
        if ((l >= 'a' && l <= 'z') || (l >= 'A' && l <= 'Z')) {
          ++i_;
          return Ranges{{l % 32, l % 32}};
        }
        return Ranges{{'\\', '\\'}, {'c', 'c'}};
      }
      case 'x': {
        QS_ASSIGN_OR_RETURN(uint32_t v, Hex(2));
        return Normalize({{v, v}});
      }
      case 'u': {
        if (Peek() == '{') {
          ++i_;
          uint32_t v = 0;
          int n = 0;
          while (!AtEnd() && Peek() != '}') {
            QS_ASSIGN_OR_RETURN(uint32_t d, Hex(1));
            v = v * 16 + d;
            if (++n > 6 || v > kMaxCodepoint) return Error("\\u{...} out of range");
          }
          if (AtEnd() || n == 0) return Error("bad \\u{...} escape");
          ++i_;
          return Normalize({{v, v}});
        }
        QS_ASSIGN_OR_RETURN(uint32_t v, Hex(4));
        return Normalize({{v, v}});
      }
      case '0':
        if (Peek() >= '0' && Peek() <= '9') return Unsupported("octal escapes are not supported");
        return Ranges{{0, 0}};
      default:
        if (c >= '1' && c <= '9') {
          if (in_class) return Unsupported("octal escapes are not supported");
          return Unsupported("backreferences (\\" + std::string(1, static_cast<char>(c)) +
                             ") are not supported");
        }
        return Normalize({{c, c}});  // identity escape: \. \/ \- \\ ...
    }
  }

  StatusOr<int> ParseClass() {
    ++i_;  // '['
    bool negate = false;
    if (Peek() == '^') {
      negate = true;
      ++i_;
    }
    Ranges set;
    while (true) {
      if (AtEnd()) return Error("missing ']'");
      if (Peek() == ']') {
        ++i_;
        break;
      }
      // One class atom, possibly the start of a range.
      Ranges first;
      bool single = true;
      uint32_t lo = 0;
      if (Peek() == '\\') {
        ++i_;
        QS_ASSIGN_OR_RETURN(first, ParseEscape(true));
        single = first.size() == 1 && first[0].first == first[0].second;
        lo = single ? first[0].first : 0;
      } else {
        lo = Peek();
        ++i_;
        first = {{lo, lo}};
      }
      if (Peek() == '-' && Peek(1) != ']' && i_ + 1 < p_.size()) {
        ++i_;  // '-'
        uint32_t hi;
        if (Peek() == '\\') {
          ++i_;
          QS_ASSIGN_OR_RETURN(Ranges r, ParseEscape(true));
          if (r.size() != 1 || r[0].first != r[0].second || !single) {
            return Error("a class range must join two single characters");
          }
          hi = r[0].first;
        } else {
          hi = Peek();
          ++i_;
        }
        if (!single) return Error("a class range must join two single characters");
        if (hi < lo) return Error("class range out of order");
        set.push_back({lo, hi});
        continue;
      }
      set.insert(set.end(), first.begin(), first.end());
    }
    set = Normalize(set);
    return Add({Ast::kSet, negate ? Negate(set) : set, {}});
  }

  std::vector<uint32_t> p_;
  std::string_view original_;
  size_t i_ = 0;
};

// Thompson NFA over code point ranges.
struct Nfa {
  struct State {
    std::vector<int> eps;
    std::vector<std::pair<std::pair<uint32_t, uint32_t>, int>> moves;
  };
  std::vector<State> states;
  int limit = 0;
  bool overflow = false;
  int New() {
    if (static_cast<int>(states.size()) >= limit) overflow = true;
    states.emplace_back();
    return static_cast<int>(states.size()) - 1;
  }
  // Builds a fragment for node; returns {start, end}.
  std::pair<int, int> Build(const std::vector<Ast>& ast, int n) {
    if (overflow) return {0, 0};
    const Ast& a = ast[n];
    switch (a.kind) {
      case Ast::kEmpty: {
        int s = New();
        return {s, s};
      }
      case Ast::kSet: {
        int s = New(), e = New();
        for (auto r : a.set) states[s].moves.push_back({r, e});
        return {s, e};
      }
      case Ast::kConcat: {
        auto [s, e] = Build(ast, a.kids[0]);
        for (size_t k = 1; k < a.kids.size() && !overflow; ++k) {
          auto [s2, e2] = Build(ast, a.kids[k]);
          states[e].eps.push_back(s2);
          e = e2;
        }
        return {s, e};
      }
      case Ast::kAlt: {
        int s = New(), e = New();
        for (int kid : a.kids) {
          auto [ks, ke] = Build(ast, kid);
          if (overflow) break;
          states[s].eps.push_back(ks);
          states[ke].eps.push_back(e);
        }
        return {s, e};
      }
      case Ast::kRepeat: {
        int s = New();
        int e = s;
        for (int k = 0; k < a.min && !overflow; ++k) {
          auto [ks, ke] = Build(ast, a.kids[0]);
          states[e].eps.push_back(ks);
          e = ke;
        }
        if (a.max == -1) {
          auto [ks, ke] = Build(ast, a.kids[0]);
          if (overflow) return {s, e};
          int loop = New();
          states[e].eps.push_back(loop);
          states[loop].eps.push_back(ks);
          states[ke].eps.push_back(loop);
          return {s, loop};
        }
        int end = New();
        states[e].eps.push_back(end);
        for (int k = a.min; k < a.max && !overflow; ++k) {
          auto [ks, ke] = Build(ast, a.kids[0]);
          states[e].eps.push_back(ks);
          states[ke].eps.push_back(end);
          e = ke;
        }
        return {s, end};
      }
    }
    return {0, 0};
  }
  std::vector<int> Closure(std::vector<int> set) const {
    std::vector<bool> seen(states.size(), false);
    std::vector<int> stack = set;
    for (int s : set) seen[s] = true;
    while (!stack.empty()) {
      int s = stack.back();
      stack.pop_back();
      for (int t : states[s].eps) {
        if (!seen[t]) {
          seen[t] = true;
          set.push_back(t);
          stack.push_back(t);
        }
      }
    }
    std::sort(set.begin(), set.end());
    return set;
  }
};

}  // namespace

// Builds the DFA: subset construction, then pruning of dead states and the distances.
class DfaBuilder {
 public:
  static void Finish(CodepointDfa* dfa) {
    auto& st = dfa->states_;
    const int n = static_cast<int>(st.size());
    // Live states: those that reach acceptance (reverse BFS also gives the distances).
    std::vector<std::vector<int>> reverse(n);
    for (int s = 0; s < n; ++s) {
      for (const auto& t : st[s].out) reverse[t.target].push_back(s);
    }
    std::vector<int> dist(n, -1);
    std::deque<int> queue;
    for (int s = 0; s < n; ++s) {
      if (st[s].accepting) {
        dist[s] = 0;
        queue.push_back(s);
      }
    }
    while (!queue.empty()) {
      int s = queue.front();
      queue.pop_front();
      for (int p : reverse[s]) {
        if (dist[p] < 0) {
          dist[p] = dist[s] + 1;
          queue.push_back(p);
        }
      }
    }
    std::vector<int> remap(n, -1);
    std::vector<CodepointDfa::State> live;
    for (int s = 0; s < n; ++s) {
      if (dist[s] >= 0) {
        remap[s] = static_cast<int>(live.size());
        live.push_back(st[s]);
        live.back().min_to_accept = dist[s];
      }
    }
    for (auto& s : live) {
      std::vector<CodepointDfa::Transition> out;
      for (const auto& t : s.out) {
        if (remap[t.target] >= 0) out.push_back({t.lo, t.hi, remap[t.target]});
      }
      s.out = std::move(out);
    }
    dfa->start_ = remap[dfa->start_];
    st = std::move(live);
    // Sinks that accept everything: accepting, covering all characters, staying inside.
    const Ranges all = Any();
    for (auto& s : st) {
      Ranges covered;
      for (const auto& t : s.out) covered.push_back({t.lo, t.hi});
      s.accepts_everything = s.accepting && Normalize(covered) == all;
    }
    for (bool changed = true; changed;) {
      changed = false;
      for (auto& s : st) {
        if (!s.accepts_everything) continue;
        for (const auto& t : s.out) {
          if (!st[t.target].accepts_everything) {
            s.accepts_everything = false;
            changed = true;
            break;
          }
        }
      }
    }
    // ASCII transitions as a table: masks step ASCII code points through the DFA for
    // every token of the vocabulary, and a lookup beats the binary search of Next.
    dfa->ascii_.assign(st.size() * 128, -1);
    for (size_t q = 0; q < st.size(); ++q) {
      for (const auto& t : st[q].out) {
        for (uint32_t c = t.lo; c <= t.hi && c < 128; ++c) dfa->ascii_[q * 128 + c] = t.target;
      }
    }
  }

  static StatusOr<CodepointDfa> FromNfa(const Nfa& nfa, int start, int accept, int max_states,
                                        const std::string& pattern) {
    CodepointDfa dfa;
    std::map<std::vector<int>, int> ids;
    std::vector<std::vector<int>> sets;
    auto intern = [&](std::vector<int> set) {
      auto [it, inserted] = ids.emplace(set, static_cast<int>(sets.size()));
      if (inserted) {
        sets.push_back(set);
        dfa.states_.emplace_back();
        dfa.states_.back().accepting = std::binary_search(set.begin(), set.end(), accept);
      }
      return it->second;
    };
    dfa.start_ = intern(nfa.Closure({start}));
    for (size_t d = 0; d < sets.size(); ++d) {
      if (static_cast<int>(sets.size()) > max_states) {
        return Unsupported("pattern \"" + pattern + "\" needs more than " +
                           std::to_string(max_states) + " automaton states");
      }
      // Split the code point space at every range boundary of the member states' moves.
      std::vector<uint32_t> cuts;
      std::vector<std::pair<std::pair<uint32_t, uint32_t>, int>> moves;
      for (int s : sets[d]) {
        for (const auto& m : nfa.states[s].moves) {
          moves.push_back(m);
          cuts.push_back(m.first.first);
          cuts.push_back(m.first.second + 1);
        }
      }
      std::sort(cuts.begin(), cuts.end());
      cuts.erase(std::unique(cuts.begin(), cuts.end()), cuts.end());
      std::vector<CodepointDfa::Transition> out;
      for (size_t k = 0; k + 1 < cuts.size(); ++k) {
        const uint32_t lo = cuts[k], hi = cuts[k + 1] - 1;
        std::vector<int> targets;
        for (const auto& m : moves) {
          if (m.first.first <= lo && hi <= m.first.second) targets.push_back(m.second);
        }
        if (targets.empty()) continue;
        std::sort(targets.begin(), targets.end());
        targets.erase(std::unique(targets.begin(), targets.end()), targets.end());
        int target = intern(nfa.Closure(targets));
        if (!out.empty() && out.back().target == target && out.back().hi + 1 == lo) {
          out.back().hi = hi;
        } else {
          out.push_back({lo, hi, target});
        }
      }
      dfa.states_[d].out = std::move(out);
    }
    Finish(&dfa);
    if (dfa.start_ < 0) return InvalidArgument("pattern \"" + pattern + "\" matches no string");
    return dfa;
  }
};

StatusOr<CodepointDfa> CodepointDfa::FromRegex(std::string_view pattern, const Limits& limits) {
  std::vector<uint32_t> cps;
  for (size_t pos = 0; pos < pattern.size();) {
    uint32_t cp;
    if (!DecodeUtf8(pattern, &pos, &cp)) {
      return InvalidArgument("pattern is not valid UTF-8");
    }
    cps.push_back(cp);
  }
  Parser parser(std::move(cps), pattern);
  QS_ASSIGN_OR_RETURN(int root, parser.ParseTop());
  Nfa nfa;
  nfa.limit = limits.max_nfa_states;
  auto [start, end] = nfa.Build(parser.nodes, root);
  if (nfa.overflow) {
    return Unsupported("pattern \"" + std::string(pattern) + "\" is too large (more than " +
                       std::to_string(limits.max_nfa_states) + " automaton states)");
  }
  return DfaBuilder::FromNfa(nfa, start, end, limits.max_dfa_states, std::string(pattern));
}

CodepointDfa CodepointDfa::OneOf(const std::vector<std::string>& strings) {
  // A trie of the strings' code points is already deterministic.
  CodepointDfa dfa;
  dfa.states_.emplace_back();
  for (const std::string& s : strings) {
    int state = 0;
    for (size_t pos = 0; pos < s.size();) {
      uint32_t cp;
      if (!DecodeUtf8(s, &pos, &cp)) break;  // callers pass valid UTF-8 (JSON strings)
      int next = dfa.Next(state, cp);
      if (next < 0) {
        next = static_cast<int>(dfa.states_.size());
        dfa.states_.emplace_back();
        auto& out = dfa.states_[state].out;
        auto it = std::lower_bound(out.begin(), out.end(), cp,
                                   [](const Transition& t, uint32_t c) { return t.hi < c; });
        out.insert(it, {cp, cp, next});
      }
      state = next;
    }
    dfa.states_[state].accepting = true;
  }
  DfaBuilder::Finish(&dfa);
  return dfa;
}

int CodepointDfa::Next(int state, uint32_t cp) const {
  if (cp < 128 && !ascii_.empty()) return ascii_[static_cast<size_t>(state) * 128 + cp];
  const auto& out = states_[state].out;
  auto it = std::lower_bound(out.begin(), out.end(), cp,
                             [](const Transition& t, uint32_t c) { return t.hi < c; });
  return it != out.end() && it->lo <= cp ? it->target : -1;
}

bool CodepointDfa::HasTransitionIn(int state, uint32_t lo, uint32_t hi) const {
  const auto& out = states_[state].out;
  auto it = std::lower_bound(out.begin(), out.end(), lo,
                             [](const Transition& t, uint32_t c) { return t.hi < c; });
  return it != out.end() && it->lo <= hi;
}

bool CodepointDfa::Matches(std::string_view utf8) const {
  if (start_ < 0) return false;
  int state = start_;
  for (size_t pos = 0; pos < utf8.size();) {
    uint32_t cp;
    if (!DecodeUtf8(utf8, &pos, &cp)) return false;
    state = Next(state, cp);
    if (state < 0) return false;
  }
  return accepting(state);
}

}  // namespace qs::structured
