#include "model/tokenizer/tokenizer.h"

#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <nlohmann/json.hpp>

#include "base/files.h"
#include "model/tokenizer/bpe.h"
#include "model/tokenizer/split_regex.h"
#include "model/tokenizer/unicode.h"

namespace qs::model {

namespace {

using Json = nlohmann::json;

// GPT-2's pre-tokenizer regex, which ByteLevel applies when use_regex is true
// (openai/gpt-2 encoder.py; Hugging Face tokenizers byte_level.rs).
constexpr char kGpt2Pattern[] =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

// Ids index a dense table; this bound keeps a hostile file from asking for gigabytes.
constexpr int64_t kMaxTokenId = (int64_t{1} << 24) - 1;

// Reads one JSON object of tokenizer.json; messages name the file and the JSON path.
class Node {
 public:
  Node(const Json& j, std::string file, std::string path)
      : j_(j), file_(std::move(file)), path_(std::move(path)) {}

  const Json& json() const { return j_; }
  const std::string& path() const { return path_; }
  std::string Sub(const std::string& key) const { return path_.empty() ? key : path_ + "." + key; }
  // "FILE: path.key", to start a message about that key.
  std::string Where(const std::string& key) const { return file_ + ": " + Sub(key); }
  bool Has(const char* key) const { return j_.is_object() && j_.contains(key); }
  bool IsNull(const char* key) const { return !Has(key) || j_.at(key).is_null(); }
  Node At(const char* key) const { return Node(j_.at(key), file_, Sub(key)); }
  Node At(size_t i) const { return Node(j_.at(i), file_, path_ + "[" + std::to_string(i) + "]"); }

  Status Invalid(const std::string& what) const {
    return InvalidArgument(file_ + ": " + (path_.empty() ? "" : path_ + ": ") + what);
  }
  // "unsupported: FILE: normalizer.type "NFKC" (why)".
  Status UnsupportedValue(const char* key, const std::string& why) const {
    return Unsupported(Where(key) + " " + j_.at(key).dump() + " is not supported" +
                       (why.empty() ? "" : " (" + why + ")"));
  }

  Status ExpectObject() const {
    if (!j_.is_object()) return Invalid("expected an object, got " + Short(j_));
    return Status::Ok();
  }
  Status Bool(const char* key, bool default_value, bool* out) const {
    *out = default_value;
    if (IsNull(key)) return Status::Ok();
    if (!j_.at(key).is_boolean()) {
      return Invalid("\"" + std::string(key) + "\" must be true or false, got " +
                     Short(j_.at(key)));
    }
    *out = j_.at(key).get<bool>();
    return Status::Ok();
  }
  Status String(const char* key, std::string* out) const {
    if (IsNull(key)) return Status::Ok();
    if (!j_.at(key).is_string()) {
      return Invalid("\"" + std::string(key) + "\" must be a string, got " + Short(j_.at(key)));
    }
    *out = j_.at(key).get<std::string>();
    return Status::Ok();
  }
  // The "type" of a component (normalizer, pre-tokenizer, decoder).
  StatusOr<std::string> Type() const {
    QS_RETURN_IF_ERROR(ExpectObject());
    if (!Has("type") || !j_.at("type").is_string()) return Invalid("missing string \"type\"");
    return j_.at("type").get<std::string>();
  }

  static std::string Short(const Json& v) {
    std::string text = v.dump();
    return text.size() > 60 ? text.substr(0, 57) + "..." : text;
  }

 private:
  const Json& j_;
  std::string file_;
  std::string path_;
};

// The raw bytes of a vocabulary entry written in GPT-2's byte-level alphabet; false when
// the entry has a character outside that alphabet.
bool ByteLevelToBytes(const std::string& token, std::string* bytes) {
  bytes->clear();
  bytes->reserve(token.size());
  for (size_t pos = 0, len = 0; pos < token.size(); pos += len) {
    const int b = unicode::CharToByte(unicode::DecodeAt(token, pos, &len));
    if (b < 0) return false;
    bytes->push_back(static_cast<char>(b));
  }
  return true;
}

size_t PrevCharStart(std::string_view text, size_t pos) {
  size_t p = pos - 1;
  while (p > 0 && (static_cast<uint8_t>(text[p]) & 0xC0) == 0x80) --p;
  return p;
}

// The components a "Sequence" lists under list_key, or the component itself.
StatusOr<std::vector<Node>> Parts(const Node& node, const std::string& type, const char* list_key) {
  if (type != "Sequence") return std::vector<Node>{node};
  if (!node.Has(list_key) || !node.json().at(list_key).is_array()) {
    return node.Invalid("a Sequence needs a \"" + std::string(list_key) + "\" array");
  }
  const Node list = node.At(list_key);
  std::vector<Node> parts;
  for (size_t i = 0; i < list.json().size(); ++i) parts.push_back(list.At(i));
  return parts;
}

// model.* other than vocab and merges.
Status ParseModelOptions(const Node& model, Bpe::Options* options, std::string* unk_token) {
  QS_RETURN_IF_ERROR(model.ExpectObject());
  if (model.Has("type")) {
    QS_ASSIGN_OR_RETURN(std::string type, model.Type());
    if (type != "BPE") return model.UnsupportedValue("type", "only BPE is supported");
  }
  if (!model.IsNull("dropout")) {
    const Json& d = model.json().at("dropout");
    if (!d.is_number() || d.get<double>() != 0.0) {
      return model.UnsupportedValue("dropout", "BPE dropout is not implemented");
    }
  }
  bool byte_fallback = false;
  QS_RETURN_IF_ERROR(model.Bool("byte_fallback", false, &byte_fallback));
  if (byte_fallback) return model.UnsupportedValue("byte_fallback", "");
  QS_RETURN_IF_ERROR(model.Bool("fuse_unk", false, &options->fuse_unk));
  QS_RETURN_IF_ERROR(model.Bool("ignore_merges", false, &options->ignore_merges));
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    std::string affix;
    QS_RETURN_IF_ERROR(model.String(key, &affix));
    if (!affix.empty()) return model.UnsupportedValue(key, "");
  }
  return model.String("unk_token", unk_token);
}

// Checks that model.vocab maps tokens to ids in range; *max_id is the largest id.
Status CheckVocab(const Node& vocab, int64_t* max_id) {
  if (!vocab.json().is_object()) {
    return vocab.Invalid("expected an object of token -> id, got " + Node::Short(vocab.json()));
  }
  for (const auto& [token, id] : vocab.json().items()) {
    if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() > kMaxTokenId) {
      return vocab.Invalid("the id of " + Json(token).dump() + " must be an integer in [0, " +
                           std::to_string(kMaxTokenId) + "], got " + Node::Short(id));
    }
    *max_id = std::max(*max_id, id.get<int64_t>());
  }
  return Status::Ok();
}

struct RawAddedToken {
  int32_t id = -1;
  std::string content;
  bool special = false;
  bool normalized = false;
  bool lstrip = false;
  bool rstrip = false;
  bool single_word = false;
};

// added_tokens; *max_id grows to their largest id. Empty contents are skipped, as Hugging
// Face skips them.
Status ParseAddedTokens(const Node& top, std::vector<RawAddedToken>* out, int64_t* max_id) {
  if (top.IsNull("added_tokens")) return Status::Ok();
  const Node list = top.At("added_tokens");
  if (!list.json().is_array()) return list.Invalid("expected an array");
  for (size_t i = 0; i < list.json().size(); ++i) {
    const Node entry = list.At(i);
    QS_RETURN_IF_ERROR(entry.ExpectObject());
    const Json* id = entry.Has("id") ? &entry.json().at("id") : nullptr;
    if (id == nullptr || !id->is_number_integer() || id->get<int64_t>() < 0 ||
        id->get<int64_t>() > kMaxTokenId) {
      return entry.Invalid("\"id\" must be an integer in [0, " + std::to_string(kMaxTokenId) + "]");
    }
    RawAddedToken a;
    a.id = id->get<int32_t>();
    if (!entry.Has("content")) return entry.Invalid("missing \"content\"");
    QS_RETURN_IF_ERROR(entry.String("content", &a.content));
    QS_RETURN_IF_ERROR(entry.Bool("special", false, &a.special));
    QS_RETURN_IF_ERROR(entry.Bool("normalized", !a.special, &a.normalized));
    QS_RETURN_IF_ERROR(entry.Bool("lstrip", false, &a.lstrip));
    QS_RETURN_IF_ERROR(entry.Bool("rstrip", false, &a.rstrip));
    QS_RETURN_IF_ERROR(entry.Bool("single_word", false, &a.single_word));
    if (a.content.empty()) continue;
    *max_id = std::max<int64_t>(*max_id, a.id);
    out->push_back(std::move(a));
  }
  return Status::Ok();
}

// model.merges, as "left right" strings or [left, right] pairs; both halves and their
// concatenation must be in the vocabulary (`ids`).
Status ParseMerges(const Node& model, const std::unordered_map<std::string, int32_t>& ids,
                   Bpe* bpe) {
  if (model.IsNull("merges")) return model.Invalid("missing \"merges\"");
  const Node merges = model.At("merges");
  if (!merges.json().is_array()) return merges.Invalid("expected an array");
  const auto find = [&](const std::string& token) {
    auto it = ids.find(token);
    return it == ids.end() ? -1 : it->second;
  };
  for (size_t i = 0; i < merges.json().size(); ++i) {
    const Json& m = merges.json()[i];
    std::string left, right;
    if (m.is_string()) {
      const std::string& line = m.get_ref<const std::string&>();
      const size_t space = line.find(' ');
      if (space == std::string::npos || line.find(' ', space + 1) != std::string::npos) {
        return merges.At(i).Invalid("expected \"left right\" (two tokens and one space), got " +
                                    Node::Short(m));
      }
      left = line.substr(0, space);
      right = line.substr(space + 1);
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
      left = m[0].get<std::string>();
      right = m[1].get<std::string>();
    } else {
      return merges.At(i).Invalid("expected \"left right\" or [left, right], got " +
                                  Node::Short(m));
    }
    const int32_t l = find(left), r = find(right), merged = find(left + right);
    for (const auto& [id, token] : {std::pair{l, left}, std::pair{r, right}}) {
      if (id < 0) {
        return merges.At(i).Invalid("merge " + Node::Short(m) + " uses token " +
                                    Json(token).dump() + ", which is not in model.vocab");
      }
    }
    if (merged < 0) {
      return merges.At(i).Invalid("merge " + Node::Short(m) + " makes " +
                                  Json(left + right).dump() + ", which is not in model.vocab");
    }
    bpe->AddMerge(l, r, merged);
  }
  return Status::Ok();
}

// normalizer: null, NFC, or a Sequence of NFC. Returns whether NFC applies.
StatusOr<bool> ParseNormalizer(const Node& top) {
  if (top.IsNull("normalizer")) return false;
  const Node normalizer = top.At("normalizer");
  QS_ASSIGN_OR_RETURN(std::string type, normalizer.Type());
  QS_ASSIGN_OR_RETURN(std::vector<Node> parts, Parts(normalizer, type, "normalizers"));
  for (const Node& part : parts) {
    QS_ASSIGN_OR_RETURN(std::string t, part.Type());
    if (t != "NFC") return part.UnsupportedValue("type", "supported: NFC, Sequence, null");
  }
  return !parts.empty();
}

struct PreTokenizerSpec {
  std::vector<std::unique_ptr<SplitRegex>> splits;
  std::unique_ptr<SplitRegex> byte_level_regex;
  bool add_prefix_space = false;
};

// One Split step: Isolated behaviour, no invert, a Regex or String pattern.
StatusOr<std::unique_ptr<SplitRegex>> ParseSplit(const Node& step) {
  std::string behavior;
  QS_RETURN_IF_ERROR(step.String("behavior", &behavior));
  if (!step.Has("behavior")) return step.Invalid("missing \"behavior\"");
  if (behavior != "Isolated") return step.UnsupportedValue("behavior", "only Isolated");
  bool invert = false;
  QS_RETURN_IF_ERROR(step.Bool("invert", false, &invert));
  if (invert) return step.UnsupportedValue("invert", "");
  if (step.IsNull("pattern") || !step.json().at("pattern").is_object()) {
    return step.Invalid("\"pattern\" must be {\"Regex\": ...} or {\"String\": ...}");
  }
  const Node pattern = step.At("pattern");
  std::string text;
  if (pattern.Has("Regex")) {
    QS_RETURN_IF_ERROR(pattern.String("Regex", &text));
    return SplitRegex::Compile(text, pattern.Where("Regex"));
  }
  if (pattern.Has("String")) {
    QS_RETURN_IF_ERROR(pattern.String("String", &text));
    return SplitRegex::Literal(text, pattern.Where("String"));
  }
  return pattern.Invalid("expected a \"Regex\" or \"String\" key");
}

// pre_tokenizer: Split steps, then one ByteLevel step (alone or in a Sequence).
Status ParsePreTokenizer(const Node& top, PreTokenizerSpec* spec) {
  if (top.IsNull("pre_tokenizer")) {
    return Unsupported(top.Where("pre_tokenizer") +
                       " null is not supported (byte-level BPE needs a ByteLevel step)");
  }
  const Node pre = top.At("pre_tokenizer");
  QS_ASSIGN_OR_RETURN(std::string pre_type, pre.Type());
  QS_ASSIGN_OR_RETURN(std::vector<Node> steps, Parts(pre, pre_type, "pretokenizers"));
  bool byte_level = false;
  for (const Node& step : steps) {
    QS_ASSIGN_OR_RETURN(std::string type, step.Type());
    if (byte_level) {
      return step.UnsupportedValue("type", "after ByteLevel: ByteLevel must be the last step");
    }
    if (type == "Split") {
      QS_ASSIGN_OR_RETURN(std::unique_ptr<SplitRegex> split, ParseSplit(step));
      spec->splits.push_back(std::move(split));
    } else if (type == "ByteLevel") {
      bool use_regex = true;
      QS_RETURN_IF_ERROR(step.Bool("add_prefix_space", true, &spec->add_prefix_space));
      QS_RETURN_IF_ERROR(step.Bool("use_regex", true, &use_regex));
      if (use_regex) {
        QS_ASSIGN_OR_RETURN(spec->byte_level_regex,
                            SplitRegex::Compile(kGpt2Pattern, "GPT-2's ByteLevel regex"));
      }
      byte_level = true;
    } else {
      return step.UnsupportedValue("type", "supported: Split, ByteLevel, Sequence");
    }
  }
  if (!byte_level) {
    return Unsupported(top.Where("pre_tokenizer") +
                       " without a ByteLevel step is not supported (only byte-level BPE is)");
  }
  return Status::Ok();
}

// decoder: ByteLevel, alone or as the only kind in a Sequence.
Status CheckDecoder(const Node& top) {
  if (top.IsNull("decoder")) {
    return Unsupported(top.Where("decoder") + " null is not supported (only ByteLevel)");
  }
  const Node decoder = top.At("decoder");
  QS_ASSIGN_OR_RETURN(std::string type, decoder.Type());
  QS_ASSIGN_OR_RETURN(std::vector<Node> parts, Parts(decoder, type, "decoders"));
  for (const Node& part : parts) {
    QS_ASSIGN_OR_RETURN(std::string t, part.Type());
    if (t != "ByteLevel") return part.UnsupportedValue("type", "only ByteLevel");
  }
  return Status::Ok();
}

}  // namespace

Tokenizer::Tokenizer() = default;
Tokenizer::~Tokenizer() = default;

StatusOr<std::unique_ptr<Tokenizer>> Tokenizer::Load(const std::string& dir_or_file) {
  std::string path = dir_or_file;
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) path += "/tokenizer.json";
  QS_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  return FromJson(text, path);
}

StatusOr<std::unique_ptr<Tokenizer>> Tokenizer::FromJson(const std::string& json_text,
                                                         const std::string& path) {
  std::unique_ptr<Tokenizer> tokenizer(new Tokenizer());
  try {
    QS_RETURN_IF_ERROR(tokenizer->ParseJson(json_text, path));
  } catch (const std::exception& e) {
    // The parser checks types before reading; this is a safety net, not a code path.
    return InvalidArgument(path + ": " + e.what());
  }
  return tokenizer;
}

Status Tokenizer::ParseJson(const std::string& json_text, const std::string& path) {
  Json root;
  try {
    root = Json::parse(json_text);
  } catch (const Json::parse_error& e) {
    return InvalidArgument(path + ": not valid JSON: " + e.what());
  }
  const Node top(root, path, "");
  if (!root.is_object()) return top.Invalid("expected a JSON object, got " + Node::Short(root));
  if (top.IsNull("model")) return top.Invalid("missing \"model\"");
  const Node model = top.At("model");
  Bpe::Options bpe_options;
  std::string unk_token;
  QS_RETURN_IF_ERROR(ParseModelOptions(model, &bpe_options, &unk_token));
  if (model.IsNull("vocab")) return model.Invalid("missing \"vocab\"");
  const Node vocab = model.At("vocab");
  int64_t max_id = -1;
  QS_RETURN_IF_ERROR(CheckVocab(vocab, &max_id));
  std::vector<RawAddedToken> added;
  QS_RETURN_IF_ERROR(ParseAddedTokens(top, &added, &max_id));

  // The vocabulary.
  tokens_.assign(static_cast<size_t>(max_id + 1), TokenInfo{});
  token_ids_.reserve(vocab.json().size() + added.size());
  std::vector<std::pair<std::string, int32_t>> whole_words;  // for ignore_merges
  for (const auto& [token, id_json] : vocab.json().items()) {
    const auto id = id_json.get<int32_t>();
    TokenInfo& info = tokens_[id];
    if (info.present) {
      return vocab.Invalid("id " + std::to_string(id) + " is used by two tokens, one being " +
                           Json(token).dump());
    }
    info.present = true;
    // An entry outside the byte-level alphabet stands for its own UTF-8, as the ByteLevel
    // decoder treats it; BPE never produces it from bytes.
    if (!ByteLevelToBytes(token, &info.bytes)) {
      info.bytes = token;
    } else if (bpe_options.ignore_merges) {
      whole_words.emplace_back(info.bytes, id);
    }
    token_ids_.emplace(token, id);
  }
  if (!unk_token.empty()) {
    auto it = token_ids_.find(unk_token);
    if (it == token_ids_.end()) {
      return model.Invalid("unk_token " + Json(unk_token).dump() + " is not in model.vocab");
    }
    bpe_options.unk_id = it->second;
  }

  // BPE: the single-byte tokens and the merges.
  std::array<int32_t, 256> byte_ids{};
  for (int b = 0; b < 256; ++b) {
    std::string ch;
    unicode::AppendUtf8(unicode::ByteToChar(static_cast<uint8_t>(b)), &ch);
    auto it = token_ids_.find(ch);
    byte_ids[b] = it == token_ids_.end() ? -1 : it->second;
  }
  bpe_ = std::make_unique<Bpe>(byte_ids, bpe_options);
  for (const auto& [bytes, id] : whole_words) bpe_->AddWord(bytes, id);
  QS_RETURN_IF_ERROR(ParseMerges(model, token_ids_, bpe_.get()));

  QS_ASSIGN_OR_RETURN(nfc_, ParseNormalizer(top));

  // Added tokens override vocabulary entries with the same id or content. Those marked
  // "normalized" are matched in normalized text, so their content is normalized too.
  for (RawAddedToken& a : added) {
    TokenInfo& info = tokens_[a.id];
    info.present = true;
    info.added = true;
    info.special = a.special;
    info.bytes = a.content;
    token_ids_[a.content] = a.id;
    AddedToken token{a.id, a.normalized && nfc_ ? unicode::Nfc(a.content) : a.content, a.lstrip,
                     a.rstrip, a.single_word};
    (a.normalized ? normalized_added_ : raw_added_).tokens.push_back(std::move(token));
  }
  raw_added_.Build();
  normalized_added_.Build();

  PreTokenizerSpec pre;
  QS_RETURN_IF_ERROR(ParsePreTokenizer(top, &pre));
  splits_ = std::move(pre.splits);
  byte_level_regex_ = std::move(pre.byte_level_regex);
  add_prefix_space_ = pre.add_prefix_space;
  QS_RETURN_IF_ERROR(CheckDecoder(top));
  // post_processor, truncation and padding are not read: the post-processor only adds
  // special tokens (Encode never adds them) or adjusts offsets, and transformers
  // overrides truncation and padding per call.
  return Status::Ok();
}

void Tokenizer::AddedMatcher::Build() {
  by_first_byte.assign(256, {});
  for (size_t i = 0; i < tokens.size(); ++i) {
    by_first_byte[static_cast<uint8_t>(tokens[i].content[0])].push_back(static_cast<int32_t>(i));
  }
  for (auto& list : by_first_byte) {
    std::stable_sort(list.begin(), list.end(), [&](int32_t a, int32_t b) {
      return tokens[a].content.size() > tokens[b].content.size();
    });
  }
}

void Tokenizer::ExtractAdded(const AddedMatcher& matcher, std::string text,
                             std::vector<Segment>* out) {
  if (matcher.empty()) {
    if (!text.empty()) out->push_back(Segment{-1, std::move(text)});
    return;
  }
  // Leftmost-longest matching with lstrip/rstrip/single_word, as Hugging Face's
  // AddedVocabulary::find_matches does it.
  size_t emitted = 0, pos = 0;
  const std::string_view view = text;
  size_t len = 0;
  while (pos < text.size()) {
    const AddedToken* found = nullptr;
    for (int32_t index : matcher.by_first_byte[static_cast<uint8_t>(text[pos])]) {
      const AddedToken& t = matcher.tokens[index];
      if (view.compare(pos, t.content.size(), t.content) == 0) {
        found = &t;
        break;
      }
    }
    if (found == nullptr) {
      ++pos;
      continue;
    }
    size_t start = pos, stop = pos + found->content.size();
    pos = stop;
    if (found->single_word) {
      const bool word_before = start > 0 && unicode::IsWordChar(unicode::DecodeAt(
                                                view, PrevCharStart(view, start), &len));
      const bool word_after =
          stop < text.size() && unicode::IsWordChar(unicode::DecodeAt(view, stop, &len));
      if (word_before || word_after) continue;
    }
    if (found->lstrip) {
      while (start > emitted) {
        const size_t prev = PrevCharStart(view, start);
        if (!unicode::IsWhiteSpace(unicode::DecodeAt(view, prev, &len))) break;
        start = prev;
      }
    }
    if (found->rstrip) {
      while (stop < text.size() && unicode::IsWhiteSpace(unicode::DecodeAt(view, stop, &len))) {
        stop += len;
      }
      pos = stop;
    }
    if (start > emitted) out->push_back(Segment{-1, text.substr(emitted, start - emitted)});
    out->push_back(Segment{found->id, std::string()});
    emitted = stop;
  }
  if (emitted < text.size()) out->push_back(Segment{-1, text.substr(emitted)});
}

std::vector<Tokenizer::Segment> Tokenizer::Segments(std::string_view text) const {
  std::vector<Segment> raw;
  ExtractAdded(raw_added_, unicode::ToValidUtf8(text), &raw);
  if (!nfc_ && normalized_added_.empty()) return raw;
  std::vector<Segment> out;
  for (Segment& segment : raw) {
    if (segment.added_id >= 0) {
      out.push_back(std::move(segment));
      continue;
    }
    ExtractAdded(normalized_added_, nfc_ ? unicode::Nfc(segment.text) : std::move(segment.text),
                 &out);
  }
  return out;
}

void Tokenizer::PreTokenizeSegment(const std::string& text, std::vector<std::string_view>* pieces,
                                   std::deque<std::string>* storage) const {
  std::vector<std::string_view> current = {text}, next;
  for (const auto& split : splits_) {
    next.clear();
    for (std::string_view piece : current) split->Split(piece, &next);
    current.swap(next);
  }
  if (add_prefix_space_) {
    for (std::string_view& piece : current) {
      if (piece.empty() || piece[0] != ' ') {
        storage->push_back(" " + std::string(piece));
        piece = storage->back();
      }
    }
  }
  if (byte_level_regex_ != nullptr) {
    for (std::string_view piece : current) byte_level_regex_->Split(piece, pieces);
  } else {
    pieces->insert(pieces->end(), current.begin(), current.end());
  }
}

std::vector<int32_t> Tokenizer::Encode(std::string_view text) const {
  std::vector<int32_t> ids;
  ids.reserve(text.size() / 3 + 1);
  std::vector<std::string_view> pieces;
  std::deque<std::string> storage;
  for (const Segment& segment : Segments(text)) {
    if (segment.added_id >= 0) {
      ids.push_back(segment.added_id);
      continue;
    }
    pieces.clear();
    storage.clear();
    PreTokenizeSegment(segment.text, &pieces, &storage);
    for (std::string_view piece : pieces) bpe_->EncodeWord(piece, &ids);
  }
  return ids;
}

std::vector<std::string> Tokenizer::PreTokenize(std::string_view text) const {
  std::vector<std::string> out;
  std::vector<std::string_view> pieces;
  std::deque<std::string> storage;
  for (const Segment& segment : Segments(text)) {
    if (segment.added_id >= 0) {
      out.push_back(tokens_[segment.added_id].bytes);
      continue;
    }
    pieces.clear();
    PreTokenizeSegment(segment.text, &pieces, &storage);
    out.insert(out.end(), pieces.begin(), pieces.end());
  }
  return out;
}

std::string Tokenizer::Decode(const std::vector<int32_t>& ids) const {
  std::string bytes;
  for (int32_t id : ids) {
    if (id >= 0 && id < vocab_size() && tokens_[id].present) bytes += tokens_[id].bytes;
  }
  return unicode::ToValidUtf8(bytes);
}

StatusOr<std::string> Tokenizer::DecodeChecked(const std::vector<int32_t>& ids) const {
  for (size_t i = 0; i < ids.size(); ++i) {
    const int32_t id = ids[i];
    if (id < 0 || id >= vocab_size() || !tokens_[id].present) {
      return OutOfRange("token id " + std::to_string(id) + " (at index " + std::to_string(i) +
                        ") is not in the vocabulary (" + std::to_string(vocab_size()) + " ids)");
    }
  }
  return Decode(ids);
}

int32_t Tokenizer::TokenId(std::string_view token) const {
  auto it = token_ids_.find(std::string(token));
  return it == token_ids_.end() ? -1 : it->second;
}

const std::string& Tokenizer::TokenBytes(int32_t id) const {
  static const std::string kEmpty;
  return id >= 0 && id < vocab_size() ? tokens_[id].bytes : kEmpty;
}

bool Tokenizer::IsAddedToken(int32_t id) const {
  return id >= 0 && id < vocab_size() && tokens_[id].added;
}

bool Tokenizer::IsSpecialToken(int32_t id) const {
  return id >= 0 && id < vocab_size() && tokens_[id].special;
}

}  // namespace qs::model
