#include "runtime/json_schema/uri.h"

#include "runtime/json_schema/formats.h"

namespace qs::json_schema {

namespace {

bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsHexDigit(char c) { return IsDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
bool IsUnreserved(char c) {
  return IsAlpha(c) || IsDigit(c) || c == '-' || c == '.' || c == '_' || c == '~';
}
bool IsSubDelim(char c) {
  switch (c) {
    case '!':
    case '$':
    case '&':
    case '\'':
    case '(':
    case ')':
    case '*':
    case '+':
    case ',':
    case ';':
    case '=':
      return true;
    default:
      return false;
  }
}

// True when every character of `text` is unreserved, a sub-delim, one of `extra`, or part
// of a well-formed percent-encoding.
bool OnlyAllowed(std::string_view text, std::string_view extra) {
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '%') {
      if (i + 2 >= text.size()) return false;
      if (!IsHexDigit(text[i + 1]) || !IsHexDigit(text[i + 2])) return false;
      i += 2;
      continue;
    }
    if (IsUnreserved(c) || IsSubDelim(c)) continue;
    if (extra.find(c) != std::string_view::npos) continue;
    return false;
  }
  return true;
}

bool IsScheme(std::string_view s) {
  if (s.empty() || !IsAlpha(s[0])) return false;
  for (char c : s) {
    if (!IsAlpha(c) && !IsDigit(c) && c != '+' && c != '-' && c != '.') return false;
  }
  return true;
}

// IPvFuture = "v" 1*HEXDIG "." 1*( unreserved / sub-delims / ":" )
bool IsIpFuture(std::string_view s) {
  if (s.size() < 4 || (s[0] != 'v' && s[0] != 'V')) return false;
  size_t i = 1;
  while (i < s.size() && IsHexDigit(s[i])) ++i;
  if (i == 1 || i >= s.size() || s[i] != '.') return false;
  std::string_view rest = s.substr(i + 1);
  if (rest.empty()) return false;
  for (char c : rest) {
    if (!IsUnreserved(c) && !IsSubDelim(c) && c != ':') return false;
  }
  return true;
}

// authority = [ userinfo "@" ] host [ ":" port ]
bool IsAuthority(std::string_view a) {
  size_t at = a.find('@');
  if (at != std::string_view::npos) {
    if (!OnlyAllowed(a.substr(0, at), ":")) return false;
    a = a.substr(at + 1);
  }
  std::string_view port;
  if (!a.empty() && a[0] == '[') {
    size_t close = a.find(']');
    if (close == std::string_view::npos) return false;
    std::string_view literal = a.substr(1, close - 1);
    if (!IsIpv6(literal) && !IsIpFuture(literal)) return false;
    std::string_view after = a.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') return false;
      port = after.substr(1);
    }
  } else {
    size_t colon = a.find(':');
    std::string_view host = a.substr(0, colon);
    // reg-name also covers IPv4address (a reg-name like 999.1.1.1 is structurally valid).
    if (!OnlyAllowed(host, "")) return false;
    if (colon != std::string_view::npos) port = a.substr(colon + 1);
  }
  for (char c : port) {
    if (!IsDigit(c)) return false;
  }
  return true;
}

// RFC 3986 section 5.2.4.
std::string RemoveDotSegments(std::string_view input) {
  std::string output;
  while (!input.empty()) {
    if (input.substr(0, 3) == "../") {
      input.remove_prefix(3);
    } else if (input.substr(0, 2) == "./") {
      input.remove_prefix(2);
    } else if (input.substr(0, 3) == "/./") {
      input.remove_prefix(2);
    } else if (input == "/.") {
      input = "/";
    } else if (input.substr(0, 4) == "/../" || input == "/..") {
      input = input.size() == 3 ? std::string_view("/") : input.substr(3);
      size_t last = output.rfind('/');
      output.erase(last == std::string::npos ? 0 : last);
    } else if (input == "." || input == "..") {
      input = {};
    } else {
      size_t start = input[0] == '/' ? 1 : 0;
      size_t end = input.find('/', start);
      if (end == std::string_view::npos) end = input.size();
      output.append(input.substr(0, end));
      input.remove_prefix(end);
    }
  }
  return output;
}

// RFC 3986 section 5.2.3.
std::string Merge(const Uri& base, const std::string& reference_path) {
  if (base.authority && base.path.empty()) return "/" + reference_path;
  size_t last = base.path.rfind('/');
  if (last == std::string::npos) return reference_path;
  return base.path.substr(0, last + 1) + reference_path;
}

}  // namespace

std::string Uri::ToString() const {
  std::string out;
  if (scheme) out += *scheme + ":";
  if (authority) out += "//" + *authority;
  out += path;
  if (query) out += "?" + *query;
  if (fragment) out += "#" + *fragment;
  return out;
}

std::optional<Uri> ParseUriReference(std::string_view text) {
  Uri uri;
  size_t hash = text.find('#');
  if (hash != std::string_view::npos) {
    uri.fragment = std::string(text.substr(hash + 1));
    if (!OnlyAllowed(*uri.fragment, ":@/?")) return std::nullopt;
    text = text.substr(0, hash);
  }
  size_t question = text.find('?');
  if (question != std::string_view::npos) {
    uri.query = std::string(text.substr(question + 1));
    if (!OnlyAllowed(*uri.query, ":@/?")) return std::nullopt;
    text = text.substr(0, question);
  }
  size_t delimiter = text.find_first_of(":/");
  if (delimiter != std::string_view::npos && text[delimiter] == ':') {
    // A ':' before any '/' either ends a scheme or makes the reference malformed (the first
    // segment of a relative path cannot contain ':').
    std::string_view scheme = text.substr(0, delimiter);
    if (!IsScheme(scheme)) return std::nullopt;
    uri.scheme = std::string(scheme);
    text = text.substr(delimiter + 1);
  }
  if (text.substr(0, 2) == "//") {
    text.remove_prefix(2);
    size_t slash = text.find('/');
    std::string_view authority = text.substr(0, slash);
    if (!IsAuthority(authority)) return std::nullopt;
    uri.authority = std::string(authority);
    text = slash == std::string_view::npos ? std::string_view() : text.substr(slash);
  }
  if (!OnlyAllowed(text, ":@/")) return std::nullopt;
  uri.path = std::string(text);
  return uri;
}

bool IsAbsoluteUri(std::string_view text) {
  std::optional<Uri> uri = ParseUriReference(text);
  return uri && uri->scheme;
}

Uri ResolveReference(const Uri& base, const Uri& r) {
  Uri t;
  if (r.scheme) {
    t.scheme = r.scheme;
    t.authority = r.authority;
    t.path = RemoveDotSegments(r.path);
    t.query = r.query;
  } else {
    if (r.authority) {
      t.authority = r.authority;
      t.path = RemoveDotSegments(r.path);
      t.query = r.query;
    } else {
      if (r.path.empty()) {
        t.path = base.path;
        t.query = r.query ? r.query : base.query;
      } else {
        t.path =
            r.path[0] == '/' ? RemoveDotSegments(r.path) : RemoveDotSegments(Merge(base, r.path));
        t.query = r.query;
      }
      t.authority = base.authority;
    }
    t.scheme = base.scheme;
  }
  t.fragment = r.fragment;
  return t;
}

}  // namespace qs::json_schema
