#include "runtime/json_schema/formats.h"

#include <cstddef>

#include "runtime/json_schema/idna.h"
#include "runtime/json_schema/uri.h"

namespace qs::json_schema {

namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool IsHexDigit(char c) { return IsDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

// Reads exactly `count` ASCII digits at s[pos].
bool ReadDigits(std::string_view s, size_t pos, size_t count, int* value) {
  if (pos + count > s.size()) return false;
  int v = 0;
  for (size_t i = pos; i < pos + count; ++i) {
    if (!IsDigit(s[i])) return false;
    v = v * 10 + (s[i] - '0');
  }
  *value = v;
  return true;
}

bool IsLeapYear(int year) { return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0; }

int DaysInMonth(int year, int month) {
  static constexpr int kDays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return month == 2 && IsLeapYear(year) ? 29 : kDays[month - 1];
}

// One "<digits><unit>" element of a duration; advances *pos.
bool ReadDurationElement(std::string_view s, size_t* pos, char* unit) {
  size_t start = *pos;
  while (*pos < s.size() && IsDigit(s[*pos])) ++*pos;
  if (*pos == start || *pos >= s.size()) return false;
  *unit = s[(*pos)++];
  return true;
}

// Reads the elements of one duration part, whose units must be a contiguous run of `order`
// ("YMD" or "HMS"): P1Y2D and PT1H2S are not RFC 3339 durations. Stops before 'T'.
bool ReadDurationPart(std::string_view s, size_t* pos, std::string_view order, int* count) {
  size_t previous = std::string_view::npos;
  *count = 0;
  while (*pos < s.size() && s[*pos] != 'T') {
    char unit = 0;
    if (!ReadDurationElement(s, pos, &unit)) return false;
    size_t index = order.find(unit);
    if (index == std::string_view::npos) return false;
    if (previous != std::string_view::npos && index != previous + 1) return false;
    previous = index;
    ++*count;
  }
  return true;
}

// RFC 5321 Dot-string: Atom *("." Atom), atext per RFC 5322 section 3.2.3.
bool IsDotString(std::string_view s) {
  if (s.empty() || s.front() == '.' || s.back() == '.') return false;
  static constexpr std::string_view kAtextSymbols = "!#$%&'*+-/=?^_`{|}~";
  char previous = 0;
  for (char c : s) {
    if (c == '.') {
      if (previous == '.') return false;
    } else if (!IsAlpha(c) && !IsDigit(c) && kAtextSymbols.find(c) == std::string_view::npos) {
      return false;
    }
    previous = c;
  }
  return true;
}

// RFC 1123 label: 1-63 letters, digits and hyphens, not starting or ending with a hyphen.
bool IsLdhLabel(std::string_view label) {
  if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') {
    return false;
  }
  for (char c : label) {
    if (!IsAlpha(c) && !IsDigit(c) && c != '-') return false;
  }
  return true;
}

bool StartsWithAcePrefix(std::string_view label) {
  return label.size() >= 4 && (label[0] == 'x' || label[0] == 'X') &&
         (label[1] == 'n' || label[1] == 'N') && label[2] == '-' && label[3] == '-';
}

// Parses a colon-separated run of IPv6 groups (1-4 hex digits each); with `allow_ipv4`
// the last piece may be a dotted-quad, which counts as two groups.
bool ReadIpv6Groups(std::string_view s, bool allow_ipv4, int* groups) {
  *groups = 0;
  if (s.empty()) return true;
  size_t start = 0;
  while (true) {
    size_t colon = s.find(':', start);
    std::string_view piece =
        s.substr(start, colon == std::string_view::npos ? colon : colon - start);
    if (colon == std::string_view::npos && allow_ipv4 &&
        piece.find('.') != std::string_view::npos) {
      if (!IsIpv4(piece)) return false;
      *groups += 2;
      return true;
    }
    if (piece.empty() || piece.size() > 4) return false;
    for (char c : piece) {
      if (!IsHexDigit(c)) return false;
    }
    ++*groups;
    if (colon == std::string_view::npos) return true;
    start = colon + 1;
  }
}

}  // namespace

std::optional<Format> FormatFromName(std::string_view name) {
  if (name == "date") return Format::kDate;
  if (name == "time") return Format::kTime;
  if (name == "date-time") return Format::kDateTime;
  if (name == "duration") return Format::kDuration;
  if (name == "email") return Format::kEmail;
  if (name == "hostname") return Format::kHostname;
  if (name == "ipv4") return Format::kIpv4;
  if (name == "ipv6") return Format::kIpv6;
  if (name == "uuid") return Format::kUuid;
  if (name == "uri") return Format::kUri;
  return std::nullopt;
}

const char* FormatName(Format format) {
  switch (format) {
    case Format::kDate:
      return "date";
    case Format::kTime:
      return "time";
    case Format::kDateTime:
      return "date-time";
    case Format::kDuration:
      return "duration";
    case Format::kEmail:
      return "email";
    case Format::kHostname:
      return "hostname";
    case Format::kIpv4:
      return "ipv4";
    case Format::kIpv6:
      return "ipv6";
    case Format::kUuid:
      return "uuid";
    case Format::kUri:
      return "uri";
  }
  return "?";
}

const char* FormatDescription(Format format) {
  switch (format) {
    case Format::kDate:
      return "an RFC 3339 date (YYYY-MM-DD)";
    case Format::kTime:
      return "an RFC 3339 time with offset (HH:MM:SS[.frac](Z|+HH:MM|-HH:MM))";
    case Format::kDateTime:
      return "an RFC 3339 date-time (YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM))";
    case Format::kDuration:
      return "an ISO 8601 duration (e.g. P1DT12H, PT30M, P2W)";
    case Format::kEmail:
      return "an email address";
    case Format::kHostname:
      return "a hostname (RFC 1123)";
    case Format::kIpv4:
      return "an IPv4 address (dotted-quad)";
    case Format::kIpv6:
      return "an IPv6 address";
    case Format::kUuid:
      return "a UUID (8-4-4-4-12 hex digits)";
    case Format::kUri:
      return "an absolute URI (RFC 3986, with a scheme)";
  }
  return "?";
}

bool MatchesFormat(Format format, std::string_view value) {
  switch (format) {
    case Format::kDate:
      return IsDate(value);
    case Format::kTime:
      return IsTime(value);
    case Format::kDateTime:
      return IsDateTime(value);
    case Format::kDuration:
      return IsDuration(value);
    case Format::kEmail:
      return IsEmail(value);
    case Format::kHostname:
      return IsHostname(value);
    case Format::kIpv4:
      return IsIpv4(value);
    case Format::kIpv6:
      return IsIpv6(value);
    case Format::kUuid:
      return IsUuid(value);
    case Format::kUri:
      return IsAbsoluteUri(value);
  }
  return false;
}

bool FormatMayContain(Format format, uint32_t cp) {
  if (cp > 0x7E) return false;
  const char c = static_cast<char>(cp);
  const auto in = [c](std::string_view set) { return set.find(c) != std::string_view::npos; };
  switch (format) {
    case Format::kDate:
      return IsDigit(c) || c == '-';
    case Format::kTime:
      return IsDigit(c) || in(":.Zz+-");
    case Format::kDateTime:
      return IsDigit(c) || in(":.TtZz+-");
    case Format::kDuration:
      return IsDigit(c) || in("PYMWDTHS");
    case Format::kEmail:
      return cp >= 0x20;  // a quoted local part may hold any printable ASCII
    case Format::kHostname:
      return IsAlpha(c) || IsDigit(c) || in(".-");
    case Format::kIpv4:
      return IsDigit(c) || c == '.';
    case Format::kIpv6:
      return IsHexDigit(c) || in(":.");
    case Format::kUuid:
      return IsHexDigit(c) || c == '-';
    case Format::kUri:
      return cp > 0x20;  // RFC 3986 characters are printable ASCII without space
  }
  return true;
}

// full-date = date-fullyear "-" date-month "-" date-mday (RFC 3339 section 5.6).
bool IsDate(std::string_view s) {
  int year = 0;
  int month = 0;
  int day = 0;
  if (s.size() != 10 || s[4] != '-' || s[7] != '-') return false;
  if (!ReadDigits(s, 0, 4, &year) || !ReadDigits(s, 5, 2, &month) || !ReadDigits(s, 8, 2, &day)) {
    return false;
  }
  return month >= 1 && month <= 12 && day >= 1 && day <= DaysInMonth(year, month);
}

// full-time = partial-time time-offset. A leap second (:60) is only valid at 23:59 UTC, so
// the local time is shifted by the offset before that check (RFC 3339 section 5.7).
bool IsTime(std::string_view s) {
  int hour = 0;
  int minute = 0;
  int second = 0;
  if (s.size() < 9 || s[2] != ':' || s[5] != ':') return false;
  if (!ReadDigits(s, 0, 2, &hour) || !ReadDigits(s, 3, 2, &minute) ||
      !ReadDigits(s, 6, 2, &second)) {
    return false;
  }
  if (hour > 23 || minute > 59 || second > 60) return false;
  size_t i = 8;
  if (i < s.size() && s[i] == '.') {
    size_t start = ++i;
    while (i < s.size() && IsDigit(s[i])) ++i;
    if (i == start) return false;
  }
  if (i >= s.size()) return false;  // the offset is required
  int offset_minutes = 0;
  if (s[i] == 'Z' || s[i] == 'z') {
    ++i;
  } else if (s[i] == '+' || s[i] == '-') {
    int offset_hour = 0;
    int offset_minute = 0;
    if (s.size() - i != 6 || s[i + 3] != ':' || !ReadDigits(s, i + 1, 2, &offset_hour) ||
        !ReadDigits(s, i + 4, 2, &offset_minute) || offset_hour > 23 || offset_minute > 59) {
      return false;
    }
    offset_minutes = (offset_hour * 60 + offset_minute) * (s[i] == '+' ? 1 : -1);
    i += 6;
  } else {
    return false;
  }
  if (i != s.size()) return false;
  if (second == 60) {
    int utc = ((hour * 60 + minute - offset_minutes) % 1440 + 1440) % 1440;
    if (utc != 23 * 60 + 59) return false;
  }
  return true;
}

bool IsDateTime(std::string_view s) {
  return s.size() > 11 && IsDate(s.substr(0, 10)) && (s[10] == 'T' || s[10] == 't') &&
         IsTime(s.substr(11));
}

// duration = "P" (dur-date / dur-time / dur-week) (RFC 3339 Appendix A).
bool IsDuration(std::string_view s) {
  if (s.size() < 3 || s[0] != 'P') return false;
  size_t pos = 1;
  // dur-week: "P" 1*DIGIT "W", alone.
  size_t digits_end = pos;
  while (digits_end < s.size() && IsDigit(s[digits_end])) ++digits_end;
  if (digits_end > pos && digits_end + 1 == s.size() && s[digits_end] == 'W') return true;
  int date_elements = 0;
  if (!ReadDurationPart(s, &pos, "YMD", &date_elements)) return false;
  if (pos == s.size()) return date_elements > 0;
  ++pos;  // 'T'
  int time_elements = 0;
  if (!ReadDurationPart(s, &pos, "HMS", &time_elements)) return false;
  return time_elements > 0 && pos == s.size();
}

// Mailbox = Local-part "@" ( Domain / address-literal ) (RFC 5321 section 4.1.2).
bool IsEmail(std::string_view s) {
  size_t at = 0;
  if (!s.empty() && s[0] == '"') {
    // Quoted-string: qtextSMTP (printable ASCII but '"' and '\') or "\" + printable ASCII.
    size_t i = 1;
    while (true) {
      if (i >= s.size()) return false;
      unsigned char c = static_cast<unsigned char>(s[i]);
      if (c == '"') break;
      if (c == '\\') {
        if (i + 1 >= s.size()) return false;
        unsigned char next = static_cast<unsigned char>(s[i + 1]);
        if (next < 32 || next > 126) return false;
        i += 2;
        continue;
      }
      if (c < 32 || c > 126) return false;
      ++i;
    }
    at = i + 1;
    if (at >= s.size() || s[at] != '@') return false;
  } else {
    at = s.find('@');
    if (at == std::string_view::npos || !IsDotString(s.substr(0, at))) return false;
  }
  std::string_view domain = s.substr(at + 1);
  if (domain.size() >= 2 && domain.front() == '[' && domain.back() == ']') {
    std::string_view literal = domain.substr(1, domain.size() - 2);
    if (literal.substr(0, 5) == "IPv6:") return IsIpv6(literal.substr(5));
    return IsIpv4(literal);
  }
  return IsHostname(domain);
}

bool IsHostname(std::string_view s) {
  if (s.empty() || s.size() > 253) return false;
  size_t start = 0;
  while (true) {
    size_t dot = s.find('.', start);
    std::string_view label = s.substr(start, dot == std::string_view::npos ? dot : dot - start);
    if (!IsLdhLabel(label)) return false;
    if (StartsWithAcePrefix(label) && !IsValidALabel(label)) return false;
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

// dotted-quad: four decimal octets 0-255 without leading zeros (RFC 2673 section 3.2).
bool IsIpv4(std::string_view s) {
  int parts = 0;
  size_t start = 0;
  while (true) {
    size_t dot = s.find('.', start);
    std::string_view part = s.substr(start, dot == std::string_view::npos ? dot : dot - start);
    if (part.empty() || part.size() > 3 || (part.size() > 1 && part[0] == '0')) return false;
    int value = 0;
    if (!ReadDigits(part, 0, part.size(), &value) || value > 255) return false;
    ++parts;
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return parts == 4;
}

// RFC 4291 section 2.2: eight groups, one "::" for a run of zero groups, an optional
// dotted-quad in the last 32 bits.
bool IsIpv6(std::string_view s) {
  size_t gap = s.find("::");
  if (gap == std::string_view::npos) {
    int groups = 0;
    return ReadIpv6Groups(s, true, &groups) && groups == 8;
  }
  if (s.find("::", gap + 1) != std::string_view::npos) return false;
  int left = 0;
  int right = 0;
  if (!ReadIpv6Groups(s.substr(0, gap), false, &left) ||
      !ReadIpv6Groups(s.substr(gap + 2), true, &right)) {
    return false;
  }
  return left + right <= 7;
}

bool IsUuid(std::string_view s) {
  if (s.size() != 36) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? s[i] != '-' : !IsHexDigit(s[i])) return false;
  }
  return true;
}

}  // namespace qs::json_schema
