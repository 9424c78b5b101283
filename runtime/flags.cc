#include "runtime/flags.h"

#include <cerrno>
#include <cstdlib>
#include <sstream>

namespace qs {

FlagSet::FlagSet(std::string command, std::string summary, std::string positional_usage)
    : command_(std::move(command)),
      summary_(std::move(summary)),
      positional_usage_(std::move(positional_usage)) {}

void FlagSet::Add(Flag flag) {
  QS_CHECK(Find(flag.name) == nullptr, "flag declared twice: --" + flag.name);
  flags_.push_back(std::move(flag));
}

void FlagSet::String(const std::string& name, std::string* value, const std::string& help,
                     bool required) {
  Add({name, Kind::kString, value, help, required, value->empty() ? "" : "\"" + *value + "\""});
}
void FlagSet::Int(const std::string& name, int64_t* value, const std::string& help) {
  Add({name, Kind::kInt, value, help, false, std::to_string(*value)});
}
void FlagSet::Double(const std::string& name, double* value, const std::string& help) {
  std::ostringstream text;
  text << *value;
  Add({name, Kind::kDouble, value, help, false, text.str()});
}
void FlagSet::Bool(const std::string& name, bool* value, const std::string& help) {
  Add({name, Kind::kBool, value, help, false, ""});
}
void FlagSet::Repeated(const std::string& name, std::vector<std::string>* values,
                       const std::string& help) {
  Add({name, Kind::kRepeated, values, help, false, ""});
}

FlagSet::Flag* FlagSet::Find(const std::string& name) {
  for (Flag& f : flags_) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

Status FlagSet::Assign(Flag& flag, const std::string& value) {
  const std::string where = "--" + flag.name + "=" + value;
  switch (flag.kind) {
    case Kind::kString:
      *static_cast<std::string*>(flag.target) = value;
      break;
    case Kind::kRepeated:
      static_cast<std::vector<std::string>*>(flag.target)->push_back(value);
      break;
    case Kind::kInt: {
      char* end = nullptr;
      errno = 0;
      long long v = std::strtoll(value.c_str(), &end, 10);
      if (value.empty() || *end != '\0' || errno == ERANGE) {
        return InvalidArgument(where + ": expected an integer");
      }
      *static_cast<int64_t*>(flag.target) = v;
      break;
    }
    case Kind::kDouble: {
      char* end = nullptr;
      errno = 0;
      double v = std::strtod(value.c_str(), &end);
      if (value.empty() || *end != '\0' || errno == ERANGE) {
        return InvalidArgument(where + ": expected a number");
      }
      *static_cast<double*>(flag.target) = v;
      break;
    }
    case Kind::kBool:
      if (value == "true" || value == "1") {
        *static_cast<bool*>(flag.target) = true;
      } else if (value == "false" || value == "0") {
        *static_cast<bool*>(flag.target) = false;
      } else {
        return InvalidArgument(where + ": expected true or false");
      }
      break;
  }
  flag.seen = true;
  return Status::Ok();
}

Status FlagSet::Parse(const std::vector<std::string>& args) {
  bool only_positional = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (only_positional || arg.size() < 2 || arg.rfind("--", 0) != 0) {
      if (!only_positional && arg.size() >= 2 && arg[0] == '-' && arg[1] != '-' &&
          !(arg[1] >= '0' && arg[1] <= '9')) {
        if (arg == "-h") {
          help_requested_ = true;
          continue;
        }
        return InvalidArgument("unknown option " + arg + " (flags are spelled --name)");
      }
      positional_.push_back(arg);
      continue;
    }
    if (arg == "--") {
      only_positional = true;
      continue;
    }
    std::string name = arg.substr(2);
    std::string value;
    bool has_value = false;
    if (size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      has_value = true;
    }
    if (name == "help") {
      help_requested_ = true;
      continue;
    }
    Flag* flag = Find(name);
    if (flag == nullptr) return InvalidArgument("unknown flag --" + name);
    if (flag->kind == Kind::kBool && !has_value) {
      *static_cast<bool*>(flag->target) = true;
      flag->seen = true;
      continue;
    }
    if (!has_value) {
      if (i + 1 >= args.size()) return InvalidArgument("flag --" + name + " needs a value");
      value = args[++i];
    }
    QS_RETURN_IF_ERROR(Assign(*flag, value));
  }
  if (help_requested_) return Status::Ok();
  for (const Flag& f : flags_) {
    if (f.required && !f.seen) return InvalidArgument("missing required flag --" + f.name);
  }
  return Status::Ok();
}

std::string FlagSet::Help() const {
  std::ostringstream out;
  out << "usage: quicksilver " << command_;
  if (!flags_.empty()) out << " [flags]";
  if (!positional_usage_.empty()) out << " " << positional_usage_;
  out << "\n\n" << summary_ << "\n";
  if (!flags_.empty()) out << "\nflags:\n";
  for (const Flag& f : flags_) {
    std::string left = "  --" + f.name;
    switch (f.kind) {
      case Kind::kString:
        left += " TEXT";
        break;
      case Kind::kInt:
        left += " N";
        break;
      case Kind::kDouble:
        left += " X";
        break;
      case Kind::kRepeated:
        left += " VALUE (repeatable)";
        break;
      case Kind::kBool:
        break;
    }
    out << left;
    if (left.size() < 30)
      out << std::string(30 - left.size(), ' ');
    else
      out << "\n" << std::string(30, ' ');
    out << f.help;
    if (f.required)
      out << " (required)";
    else if (!f.default_text.empty())
      out << " (default " << f.default_text << ")";
    out << "\n";
  }
  out << "  --help                      show this help\n";
  return out.str();
}

}  // namespace qs
