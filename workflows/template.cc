#include "workflows/template.h"

namespace qs::workflows {

namespace {

bool IsSegmentChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-';
}

std::string Trim(const std::string& s) {
  size_t begin = s.find_first_not_of(" \t");
  if (begin == std::string::npos) return "";
  size_t end = s.find_last_not_of(" \t");
  return s.substr(begin, end - begin + 1);
}

// Splits "a.b.c" into segments; false when a segment is empty or has other characters.
bool SplitPath(const std::string& text, std::vector<std::string>* segments) {
  segments->clear();
  size_t start = 0;
  while (true) {
    size_t dot = text.find('.', start);
    std::string segment =
        text.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (segment.empty()) return false;
    for (char c : segment) {
      if (!IsSegmentChar(c)) return false;
    }
    segments->push_back(segment);
    if (dot == std::string::npos) return true;
    start = dot + 1;
  }
}

// Parses the trimmed inside of {{...}} (or a bare value path when allow_item is false).
StatusOr<TemplateRef> ParseRef(const std::string& text, bool allow_item, const std::string& shown) {
  std::vector<std::string> segments;
  if (text.empty()) return InvalidArgument("empty reference " + shown);
  if (!SplitPath(text, &segments)) {
    return InvalidArgument("malformed reference " + shown +
                           " (use dotted names of letters, digits, _ and -)");
  }
  TemplateRef ref;
  ref.text = text;
  ref.root = segments[0];
  ref.path.assign(segments.begin() + 1, segments.end());
  if (ref.root == "inputs" || ref.root == "state") {
    if (ref.path.empty()) {
      return InvalidArgument("reference " + shown + " needs a key (" + ref.root + ".NAME)");
    }
    return ref;
  }
  if (allow_item && ref.root == "item") return ref;
  if (allow_item && ref.root == "index") {
    if (!ref.path.empty()) return InvalidArgument("{{index}} is a number; it has no fields");
    return ref;
  }
  return InvalidArgument("unknown reference " + shown + " (it must start with " +
                         (allow_item ? "inputs., state., item or index" : "inputs. or state.") +
                         ")");
}

}  // namespace

StatusOr<Template> ParseTemplate(const std::string& text) {
  Template tpl;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t open = text.find("{{", pos);
    if (open == std::string::npos) {
      tpl.parts.push_back({false, text.substr(pos), {}});
      break;
    }
    if (open > pos) tpl.parts.push_back({false, text.substr(pos, open - pos), {}});
    size_t close = text.find("}}", open + 2);
    if (close == std::string::npos) {
      return InvalidArgument("unclosed {{ in \"" + text.substr(open, 40) + "\"");
    }
    const std::string inner = text.substr(open + 2, close - open - 2);
    if (inner.find("{{") != std::string::npos) {
      return InvalidArgument("unclosed {{ in \"" + text.substr(open, 40) + "\"");
    }
    const std::string trimmed = Trim(inner);
    QS_ASSIGN_OR_RETURN(TemplateRef ref, ParseRef(trimmed, true, "{{" + trimmed + "}}"));
    TemplatePart part;
    part.is_ref = true;
    part.ref = std::move(ref);
    tpl.parts.push_back(std::move(part));
    pos = close + 2;
  }
  return tpl;
}

StatusOr<TemplateRef> ParseValuePath(const std::string& text) {
  return ParseRef(text, false, "'" + text + "'");
}

}  // namespace qs::workflows
