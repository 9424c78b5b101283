// Status and StatusOr: expected failures (bad input, a missing file, an unsupported
// feature) travel as values with a message a user can act on. Broken invariants use
// QS_CHECK, which aborts loudly.
//
// Thread safety: values; safe to copy between threads.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <utility>

namespace qs {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,  // the input is malformed (bad YAML, bad JSON, bad flag value)
  kNotFound,         // a file, tool, node or key that does not exist
  kUnsupported,      // valid input that uses a feature we do not implement
  kFailedPrecondition,
  kOutOfRange,
  kUnavailable,  // a remote service failed or timed out
  kInternal,
};

const char* StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }
  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "invalid argument: <message>" or "ok".
  std::string ToString() const;
  // Returns a copy with "context: " put before the message (e.g. a file name).
  Status WithContext(const std::string& context) const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

inline Status InvalidArgument(std::string m) {
  return {StatusCode::kInvalidArgument, std::move(m)};
}
inline Status NotFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
inline Status Unsupported(std::string m) { return {StatusCode::kUnsupported, std::move(m)}; }
inline Status FailedPrecondition(std::string m) {
  return {StatusCode::kFailedPrecondition, std::move(m)};
}
inline Status OutOfRange(std::string m) { return {StatusCode::kOutOfRange, std::move(m)}; }
inline Status Unavailable(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
inline Status Internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }

// Either a value or a non-ok Status.
template <typename T>
class [[nodiscard]] StatusOr {
 public:
  StatusOr(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design
  StatusOr(Status status)                          // NOLINT: implicit by design
      : status_(status.ok() ? Internal("StatusOr constructed from an ok Status")
                            : std::move(status)) {}
  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }
  T& value() & { return CheckedValue(); }
  const T& value() const& { return const_cast<StatusOr*>(this)->CheckedValue(); }
  T&& value() && { return std::move(CheckedValue()); }
  T* operator->() { return &CheckedValue(); }
  const T* operator->() const { return &const_cast<StatusOr*>(this)->CheckedValue(); }
  T& operator*() & { return CheckedValue(); }
  const T& operator*() const& { return const_cast<StatusOr*>(this)->CheckedValue(); }

 private:
  T& CheckedValue() {
    if (!value_) {
      std::fprintf(stderr, "quicksilver: internal error: value() of a failed StatusOr: %s\n",
                   status_.ToString().c_str());
      std::abort();
    }
    return *value_;
  }
  Status status_;
  std::optional<T> value_;
};

[[noreturn]] void CheckFailed(const char* file, int line, const char* condition,
                              const std::string& message);

}  // namespace qs

// Internal invariants (never user input): abort with file:line.
#define QS_CHECK(cond, msg)                                           \
  do {                                                                \
    if (!(cond)) ::qs::CheckFailed(__FILE__, __LINE__, #cond, (msg)); \
  } while (0)

#define QS_RETURN_IF_ERROR(expr)             \
  do {                                       \
    ::qs::Status qs_status_ = (expr);        \
    if (!qs_status_.ok()) return qs_status_; \
  } while (0)

#define QS_CONCAT_INNER(a, b) a##b
#define QS_CONCAT(a, b) QS_CONCAT_INNER(a, b)
#define QS_ASSIGN_OR_RETURN(lhs, expr) \
  QS_ASSIGN_OR_RETURN_IMPL(QS_CONCAT(qs_statusor_, __LINE__), lhs, expr)
#define QS_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                             \
  if (!tmp.ok()) return tmp.status();            \
  lhs = std::move(tmp).value()
