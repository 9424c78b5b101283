// Values the model may only copy from the conversation: the "x-from-context" schema keyword.
//
// A string schema in a tool's parameters or in an answer schema may say where its value
// comes from:
//   "x-from-context": "words"      one word of the conversation: an order id, an account
//                                  name, a tracking id, a citation
//   "x-from-context": "sentences"  one sentence of it: an extractive answer quoted from
//                                  retrieved passages
// Before each turn, the agent replaces the keyword with an "enum" of the candidates that
// the rest of the schema accepts (its type, pattern, lengths), so the constraint lets the
// model choose among them and never invent a value. The conversation here is the user
// messages and tool results, not the system message or the model's own turns. With no
// candidate, the keyword is dropped and the value is free within its schema, except for
// tools: a tool whose required parameter has no candidate is not offered that turn
// (CallableTools), since calling it would mean inventing the value. A schema that already
// has "enum" or "const" keeps them. The tools' own validation is
// unchanged: an enum only narrows what the schema accepts.
//
// Words: the text is split at white space and at " ' ` ( ) [ ] { } < > , ; = | and the
// ends of each piece lose . : ! ? (so "A1001?" gives A1001, "returns.md:3-9" stays whole).
// Sentences: each line is split after . ! ? followed by white space; a piece without white
// space inside (one word, a citation) is no sentence. A message that holds
// JSON (a tool result; passages after "Passages:") is read as its string values, so
// citations and passage text come unescaped; the text before the JSON counts too.
//
// Thread safety: pure functions.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/status.h"
#include "workflows/agent_model.h"

namespace qs::agent {

// The texts values may come from, in conversation order.
std::vector<std::string> ContextTexts(const std::vector<workflows::ChatMessage>& messages);
// Distinct words / sentences of `texts`, in order of first appearance.
std::vector<std::string> ContextWords(const std::vector<std::string>& texts);
std::vector<std::string> ContextSentences(const std::vector<std::string>& texts);

// Most candidates one keyword becomes (the first ones in the conversation).
constexpr size_t kMaxContextCandidates = 256;
// Longest sentence offered, in bytes (longer ones are left out).
constexpr size_t kMaxContextSentenceBytes = 600;

// The words and sentences of a conversation, read on first use and then kept, so that one
// turn's tools and answer schema share them. Holds a pointer to `messages`.
class ConversationValues {
 public:
  explicit ConversationValues(const std::vector<workflows::ChatMessage>& messages)
      : messages_(&messages) {}
  const std::vector<std::string>& words() const {
    Read();
    return words_;
  }
  const std::vector<std::string>& sentences() const {
    Read();
    return sentences_;
  }

 private:
  void Read() const;
  const std::vector<workflows::ChatMessage>* messages_;
  mutable bool read_ = false;
  mutable std::vector<std::string> words_, sentences_;
};

// Replaces every "x-from-context" keyword in `schema` as described above. A value other than
// "words" or "sentences" is InvalidArgument naming its JSON pointer (`quicksilver validate`
// reports it with file:line:column before a run starts).
Status ResolveContextValues(const std::vector<workflows::ChatMessage>& messages,
                            nlohmann::ordered_json* schema);
Status ResolveContextValues(const ConversationValues& values, nlohmann::ordered_json* schema);

// The tools the model may call this turn: all of `tools` except those with a required
// top-level parameter that says "x-from-context" and has no candidate in the conversation
// (say, track_shipment before any tracking id was written). Errors as above.
StatusOr<std::vector<tools::ToolSpec>> CallableTools(
    const std::vector<workflows::ChatMessage>& messages, const std::vector<tools::ToolSpec>& tools);
StatusOr<std::vector<tools::ToolSpec>> CallableTools(const ConversationValues& values,
                                                     const std::vector<tools::ToolSpec>& tools);

}  // namespace qs::agent
