// The "format" values quicksilver asserts, each checked against its RFC at the level the
// official JSON Schema Test Suite tests it:
//   date, time, date-time  RFC 3339 section 5.6 (full-date, full-time, date-time), with
//                          real calendars (leap years) and leap seconds only at 23:59:60 UTC
//   duration               RFC 3339 Appendix A (ISO 8601 durations: P1Y2M3DT4H5M6S, P2W)
//   email                  RFC 5321 section 4.1.2 Mailbox (dot-string or quoted local part;
//                          a hostname or an IPv4 / IPv6 address literal as the domain)
//   hostname               RFC 1123 section 2.1 (LDH labels of 1-63 octets, 253 in all);
//                          "xn--" labels must be valid A-labels: Punycode (RFC 3492) that
//                          decodes to a U-label allowed by IDNA2008 (RFC 5891 section 4.2,
//                          RFC 5892 derived properties and contextual rules)
//   ipv4                   RFC 2673 dotted-quad (no leading zeros, no shorthand)
//   ipv6                   RFC 4291 section 2.2 text forms (no zone id, no prefix length)
//   uuid                   RFC 4122 string form (any version and variant)
//   uri                    RFC 3986 URI (a scheme is required; see uri.h)
// All checks are ASCII-strict: non-ASCII digits or letters never count as digits or LDH.
//
// Thread safety: stateless free functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace qs::json_schema {

enum class Format {
  kDate,
  kTime,
  kDateTime,
  kDuration,
  kEmail,
  kHostname,
  kIpv4,
  kIpv6,
  kUuid,
  kUri
};

// nullopt for a format name this library does not check.
std::optional<Format> FormatFromName(std::string_view name);
// "date-time" etc.
const char* FormatName(Format format);
// For messages: "an RFC 3339 date (YYYY-MM-DD)".
const char* FormatDescription(Format format);

bool MatchesFormat(Format format, std::string_view value);

// Whether a value of the format may contain this code point at all: a superset of every
// character MatchesFormat can accept (all of them ASCII), so a string holding any other
// code point can never match. Grammars use it to cut a format string short.
bool FormatMayContain(Format format, uint32_t cp);

bool IsDate(std::string_view s);
bool IsTime(std::string_view s);
bool IsDateTime(std::string_view s);
bool IsDuration(std::string_view s);
bool IsEmail(std::string_view s);
bool IsHostname(std::string_view s);
bool IsIpv4(std::string_view s);
bool IsIpv6(std::string_view s);
bool IsUuid(std::string_view s);

}  // namespace qs::json_schema
