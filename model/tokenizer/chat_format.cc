#include "model/tokenizer/chat_format.h"

#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>

#include "base/files.h"

namespace qs::model {

namespace {

constexpr char kDefaultSystem[] = "You are a helpful assistant.";

std::string Trim(const std::string& s) {
  const auto space = [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; };
  size_t begin = 0, end = s.size();
  while (begin < end && space(s[begin])) ++begin;
  while (end > begin && space(s[end - 1])) --end;
  return s.substr(begin, end - begin);
}

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// Undoes the escapes of a Jinja string literal (\n, \t, \', \", \\).
std::string Unescape(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\\' || i + 1 == s.size()) {
      out.push_back(s[i]);
      continue;
    }
    const char e = s[++i];
    out.push_back(e == 'n' ? '\n' : e == 't' ? '\t' : e);
  }
  return out;
}

// The literal default system message of a ChatML template: a string literal of the form
// '<|im_start|>system\n...<|im_end|>' whose middle has no quote (so it is not the user's
// system message spliced in with +). Empty when the template has none.
std::string DefaultSystemMessage(const std::string& chat_template) {
  const std::string marker = "<|im_start|>system\\n";
  for (size_t at = chat_template.find(marker); at != std::string::npos;
       at = chat_template.find(marker, at + 1)) {
    const size_t begin = at + marker.size();
    const size_t end = chat_template.find("<|im_end|>", begin);
    if (end == std::string::npos) break;
    const std::string middle = chat_template.substr(begin, end - begin);
    if (!middle.empty() && middle.find_first_of("'\"{}") == std::string::npos) {
      return Unescape(middle);
    }
  }
  return "";
}

}  // namespace

ChatFormat ChatFormat::Llada() { return ChatFormat{Family::kHeader, "<|startoftext|>", ""}; }
ChatFormat ChatFormat::Llama3() { return ChatFormat{Family::kHeader, "<|begin_of_text|>", ""}; }
ChatFormat ChatFormat::Dream() { return ChatFormat{Family::kChatMl, "", kDefaultSystem}; }
ChatFormat ChatFormat::ChatMl() { return ChatFormat{Family::kChatMl, "", ""}; }

const char* ChatFormat::family_name() const {
  return family == Family::kHeader ? "header" : "chatml";
}

std::string ChatFormat::Render(const std::vector<ChatMessage>& messages,
                               bool add_generation_prompt) const {
  std::string out;
  if (family == Family::kHeader) {
    out = bos;
    for (const ChatMessage& m : messages) {
      out +=
          "<|start_header_id|>" + m.role + "<|end_header_id|>\n\n" + Trim(m.content) + "<|eot_id|>";
    }
    if (add_generation_prompt) out += "<|start_header_id|>assistant<|end_header_id|>\n\n";
    return out;
  }
  const bool has_system = !messages.empty() && messages[0].role == "system";
  if (!has_system && !default_system.empty()) {
    out += "<|im_start|>system\n" + default_system + "<|im_end|>\n";
  }
  for (size_t i = 0; i < messages.size(); ++i) {
    const ChatMessage& m = messages[i];
    if (m.role == "tool") {
      if (i == 0 || messages[i - 1].role != "tool") out += "<|im_start|>user";
      out += "\n<tool_response>\n" + m.content + "\n</tool_response>";
      if (i + 1 == messages.size() || messages[i + 1].role != "tool") out += "<|im_end|>\n";
      continue;
    }
    out += "<|im_start|>" + m.role + "\n" + m.content + "<|im_end|>\n";
  }
  if (add_generation_prompt) out += "<|im_start|>assistant\n";
  return out;
}

StatusOr<ChatFormat> ChatFormatFromTemplate(const std::string& chat_template,
                                            const std::string& bos_token) {
  if (chat_template.find("<|im_start|>") != std::string::npos) {
    ChatFormat format = ChatFormat::ChatMl();
    format.default_system = DefaultSystemMessage(chat_template);
    return format;
  }
  if (chat_template.find("<|start_header_id|>") != std::string::npos) {
    ChatFormat format = ChatFormat::Llada();
    format.bos = chat_template.find("bos_token") != std::string::npos ? bos_token : "";
    return format;
  }
  return Unsupported(
      "chat_template is not a known family (no <|im_start|> for ChatML, no "
      "<|start_header_id|> for the LLaDA/Llama 3 header format)");
}

StatusOr<ChatFormat> ChatFormatForModelType(const std::string& model_type) {
  const std::string type = Lower(model_type);
  if (type == "llada") return ChatFormat::Llada();
  if (type == "dream" || type == "qwen2") return ChatFormat::Dream();
  if (type == "llama") return ChatFormat::Llama3();
  return Unsupported("no chat format known for model type \"" + model_type +
                     "\" (known: llada, Dream, qwen2, llama; or give the checkpoint a "
                     "tokenizer_config.json with a chat_template)");
}

StatusOr<ChatFormat> ChatFormatForCheckpoint(const std::string& dir,
                                             const std::string& model_type) {
  const std::string path = dir + "/tokenizer_config.json";
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return ChatFormatForModelType(model_type);
  QS_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  nlohmann::json config = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (config.is_discarded() || !config.is_object()) {
    return InvalidArgument(path + ": not a JSON object");
  }
  std::string chat_template;
  if (config.contains("chat_template")) {
    const nlohmann::json& t = config["chat_template"];
    if (t.is_string()) {
      chat_template = t.get<std::string>();
    } else if (t.is_array()) {
      // The newer form: [{"name": "default", "template": "..."}, {"name": "tool_use", ...}].
      for (const nlohmann::json& entry : t) {
        if (entry.is_object() && entry.contains("name") && entry["name"] == "default" &&
            entry.contains("template") && entry["template"].is_string()) {
          chat_template = entry["template"].get<std::string>();
        }
      }
    } else if (!t.is_null()) {
      return InvalidArgument(path + ": chat_template must be a string or a list of templates");
    }
  }
  if (chat_template.empty()) return ChatFormatForModelType(model_type);
  std::string bos;
  if (config.contains("bos_token")) {
    const nlohmann::json& b = config["bos_token"];
    if (b.is_string()) {
      bos = b.get<std::string>();
    } else if (b.is_object() && b.contains("content") && b["content"].is_string()) {
      bos = b["content"].get<std::string>();
    }
  }
  StatusOr<ChatFormat> format = ChatFormatFromTemplate(chat_template, bos);
  if (!format.ok()) return format.status().WithContext(path);
  return format;
}

}  // namespace qs::model
