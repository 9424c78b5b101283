#include "runtime/agent/context_values.h"

#include <algorithm>
#include <cctype>
#include <set>
#include <string_view>

#include "runtime/json_schema/schema.h"
#include "runtime/json_schema/validator.h"

namespace qs::agent {
namespace {

using nlohmann::json;
using nlohmann::ordered_json;

void CollectStrings(const ordered_json& value, std::vector<std::string>* out) {
  if (value.is_string()) {
    out->push_back(value.get<std::string>());
  } else if (value.is_structured()) {
    for (const ordered_json& item : value) CollectStrings(item, out);
  }
}

bool IsWordBreak(char c) {
  return std::string_view(" \t\r\n\f\v\"'`()[]{}<>,;=|").find(c) != std::string_view::npos;
}

bool IsEdgePunctuation(char c) { return c == '.' || c == ':' || c == '!' || c == '?'; }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// Appends `s` unless it is empty, already there or over the caps.
void AddCandidate(std::string_view s, std::set<std::string>* seen, std::vector<std::string>* out) {
  if (s.empty() || out->size() >= kMaxContextCandidates) return;
  if (seen->insert(std::string(s)).second) out->emplace_back(s);
}

}  // namespace

std::vector<std::string> ContextTexts(const std::vector<workflows::ChatMessage>& messages) {
  std::vector<std::string> texts;
  for (const workflows::ChatMessage& m : messages) {
    if (m.role != "user" && m.role != "tool") continue;
    const size_t at = m.content.find_first_of("{[");
    if (at != std::string::npos) {
      // In document order, so candidates come in the order the model read them.
      const ordered_json parsed =
          ordered_json::parse(m.content.substr(at), nullptr, /*allow_exceptions=*/false);
      if (!parsed.is_discarded()) {
        texts.push_back(m.content.substr(0, at));
        CollectStrings(parsed, &texts);
        continue;
      }
    }
    texts.push_back(m.content);
  }
  return texts;
}

std::vector<std::string> ContextWords(const std::vector<std::string>& texts) {
  std::vector<std::string> words;
  std::set<std::string> seen;
  for (const std::string& text : texts) {
    size_t i = 0;
    while (i < text.size()) {
      while (i < text.size() && IsWordBreak(text[i])) ++i;
      size_t end = i;
      while (end < text.size() && !IsWordBreak(text[end])) ++end;
      std::string_view word(text.data() + i, end - i);
      while (!word.empty() && IsEdgePunctuation(word.front())) word.remove_prefix(1);
      while (!word.empty() && IsEdgePunctuation(word.back())) word.remove_suffix(1);
      AddCandidate(word, &seen, &words);
      i = end;
    }
  }
  return words;
}

std::vector<std::string> ContextSentences(const std::vector<std::string>& texts) {
  std::vector<std::string> sentences;
  std::set<std::string> seen;
  auto add = [&](std::string_view s) {
    s = Trim(s);
    // A sentence has two words at least: a lone token such as a citation
    // ("shipping.md:10-10") is a word, not something to quote.
    const bool has_space = std::any_of(
        s.begin(), s.end(), [](char c) { return std::isspace(static_cast<unsigned char>(c)); });
    if (has_space && s.size() <= kMaxContextSentenceBytes) AddCandidate(s, &seen, &sentences);
  };
  for (const std::string& text : texts) {
    size_t start = 0;
    for (size_t i = 0; i < text.size(); ++i) {
      const bool line_end = text[i] == '\n';
      const bool sentence_end = (text[i] == '.' || text[i] == '!' || text[i] == '?') &&
                                i + 1 < text.size() &&
                                std::isspace(static_cast<unsigned char>(text[i + 1]));
      if (line_end || sentence_end) {
        add(std::string_view(text).substr(start, i + (line_end ? 0 : 1) - start));
        start = i + 1;
      }
    }
    add(std::string_view(text).substr(start));
  }
  return sentences;
}

namespace {

// Replaces the keyword in one schema object.
Status ResolveAt(ordered_json* node, const std::string& pointer, const ConversationValues& values,
                 std::vector<std::string>* without_candidates) {
  const ordered_json& kind = (*node)[workflows::kFromContextKeyword];
  const std::vector<std::string>* candidates = nullptr;
  if (kind == "words") candidates = &values.words();
  if (kind == "sentences") candidates = &values.sentences();
  if (candidates == nullptr) {
    return InvalidArgument(pointer + "/" + workflows::kFromContextKeyword +
                           ": must be \"words\" or \"sentences\", got " + kind.dump());
  }
  node->erase(workflows::kFromContextKeyword);
  if (node->contains("enum") || node->contains("const")) return Status::Ok();
  // Keep the candidates the rest of the schema accepts. A node that does not compile on its
  // own (a local $ref) keeps them all: the grammar filters enum values by the schema too.
  std::vector<std::string> accepted;
  StatusOr<json_schema::Schema> alone = json_schema::Compile(*node);
  for (const std::string& c : *candidates) {
    if (!alone.ok() || !json_schema::FindViolation(*alone, json(c))) accepted.push_back(c);
  }
  if (!accepted.empty()) {
    (*node)["enum"] = accepted;
  } else if (without_candidates) {
    without_candidates->push_back(pointer);
  }
  return Status::Ok();
}

Status ResolveAll(ordered_json* node, const std::string& pointer, const ConversationValues& values,
                  std::vector<std::string>* without_candidates) {
  if (node->is_object()) {
    // A property called "x-from-context" holds a schema (an object), the keyword a string.
    auto it = node->find(workflows::kFromContextKeyword);
    if (it != node->end() && !it->is_object()) {
      QS_RETURN_IF_ERROR(ResolveAt(node, pointer, values, without_candidates));
    }
    for (auto& [key, value] : node->items()) {
      QS_RETURN_IF_ERROR(ResolveAll(&value, pointer + "/" + json_schema::EscapePointerToken(key),
                                    values, without_candidates));
    }
  } else if (node->is_array()) {
    for (size_t i = 0; i < node->size(); ++i) {
      QS_RETURN_IF_ERROR(
          ResolveAll(&(*node)[i], pointer + "/" + std::to_string(i), values, without_candidates));
    }
  }
  return Status::Ok();
}

bool MentionsKeyword(const ordered_json& node) {
  if (node.is_object()) {
    if (node.contains(workflows::kFromContextKeyword)) return true;
    for (const auto& item : node) {
      if (MentionsKeyword(item)) return true;
    }
  } else if (node.is_array()) {
    for (const auto& item : node) {
      if (MentionsKeyword(item)) return true;
    }
  }
  return false;
}

}  // namespace

void ConversationValues::Read() const {
  if (read_) return;
  const std::vector<std::string> texts = ContextTexts(*messages_);
  words_ = ContextWords(texts);
  sentences_ = ContextSentences(texts);
  read_ = true;
}

Status ResolveContextValues(const ConversationValues& values, ordered_json* schema) {
  if (!MentionsKeyword(*schema)) return Status::Ok();
  return ResolveAll(schema, "", values, nullptr);
}

Status ResolveContextValues(const std::vector<workflows::ChatMessage>& messages,
                            ordered_json* schema) {
  return ResolveContextValues(ConversationValues(messages), schema);
}

StatusOr<std::vector<tools::ToolSpec>> CallableTools(const ConversationValues& values,
                                                     const std::vector<tools::ToolSpec>& tools) {
  std::vector<tools::ToolSpec> callable;
  for (const tools::ToolSpec& tool : tools) {
    ordered_json parameters = tool.parameters;
    if (!MentionsKeyword(parameters)) {
      callable.push_back(tool);
      continue;
    }
    std::vector<std::string> without;
    if (Status s = ResolveAll(&parameters, "", values, &without); !s.ok()) {
      return Status(s.code(), "tool '" + tool.name + "': parameters" + s.message());
    }
    bool can_fill = true;
    if (parameters.contains("required") && parameters["required"].is_array()) {
      for (const ordered_json& name : parameters["required"]) {
        if (!name.is_string()) continue;
        const std::string pointer =
            "/properties/" + json_schema::EscapePointerToken(name.get<std::string>());
        if (std::find(without.begin(), without.end(), pointer) != without.end()) can_fill = false;
      }
    }
    if (can_fill) callable.push_back(tool);
  }
  return callable;
}

StatusOr<std::vector<tools::ToolSpec>> CallableTools(
    const std::vector<workflows::ChatMessage>& messages,
    const std::vector<tools::ToolSpec>& tools) {
  return CallableTools(ConversationValues(messages), tools);
}

}  // namespace qs::agent
