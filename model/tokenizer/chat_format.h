// Chat markup: turns a conversation into the prompt text a chat model was trained on, ending
// with the opening of the assistant's turn. Two families, recognized rather than run (no
// Jinja engine here):
//
//   header (LLaDA, Llama 3):
//     BOS<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>
//     <|start_header_id|>assistant<|end_header_id|>\n\n
//     BOS (LLaDA's <|startoftext|>) comes once, at the start. Content is trimmed of
//     surrounding white space, as the templates' `| trim` does. Every role, "tool" included,
//     is written as its own header, as LLaDA's template does.
//   ChatML (Dream, Qwen2/2.5/3):
//     <|im_start|>system\nYou are a helpful assistant.<|im_end|>\n
//     <|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n
//     The default system message (Dream, Qwen2) is added when the first message is not a
//     system message. Tool results follow Qwen's template: consecutive "tool" messages
//     share one user turn, each wrapped as \n<tool_response>\n...\n</tool_response>.
//
// Thread safety: a plain value.
#pragma once

#include <string>
#include <vector>

#include "base/status.h"

namespace qs::model {

struct ChatMessage {
  std::string role;  // "system", "user", "assistant", "tool"
  std::string content;
};

struct ChatFormat {
  enum class Family { kHeader, kChatMl };

  Family family = Family::kChatMl;
  std::string bos;             // header family: written once at the start ("" for none)
  std::string default_system;  // ChatML: system message when none is given ("" for none)

  // The prompt text; with add_generation_prompt, ends with the assistant's turn opened.
  std::string Render(const std::vector<ChatMessage>& messages,
                     bool add_generation_prompt = true) const;
  // "header" or "chatml".
  const char* family_name() const;

  static ChatFormat Llada();   // header, BOS <|startoftext|>
  static ChatFormat Llama3();  // header, BOS <|begin_of_text|>
  static ChatFormat Dream();   // ChatML, default system "You are a helpful assistant."
  static ChatFormat ChatMl();  // ChatML without a default system message (Qwen3)
};

// The family of a Jinja chat_template, recognized by its markers: <|im_start|> is ChatML
// (with the default system message the template writes when there is none, if any),
// <|start_header_id|> is the header family (BOS = bos_token when the template uses it).
// Anything else is Unsupported.
StatusOr<ChatFormat> ChatFormatFromTemplate(const std::string& chat_template,
                                            const std::string& bos_token);

// From a config.json model_type: "llada" -> Llada, "dream" / "qwen2" -> Dream,
// "llama" -> Llama3 (case-insensitive); anything else is Unsupported.
StatusOr<ChatFormat> ChatFormatForModelType(const std::string& model_type);

// A checkpoint's format: the chat_template of dir/tokenizer_config.json when there is one,
// else ChatFormatForModelType(model_type).
StatusOr<ChatFormat> ChatFormatForCheckpoint(const std::string& dir, const std::string& model_type);

}  // namespace qs::model
