// The vocabulary as a byte trie in depth-first order, so a grammar can compute the mask of
// allowed tokens by walking it once: a rejected byte skips the whole subtree of tokens
// that start with it. Layout after llguidance's "toktrie" idea (Microsoft, 2024): nodes in
// preorder with the index just past each subtree.
//
// Thread safety: immutable after construction; walks may run concurrently.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace qs::structured {

class TokenTrie {
 public:
  // token_bytes[id] are the bytes token id stands for; tokens with no bytes (special
  // tokens) are left out of the trie: grammars handle them explicitly.
  explicit TokenTrie(const std::vector<std::string>& token_bytes);

  struct Node {
    uint8_t byte;
    uint16_t depth;        // 1 for the first byte of a token
    uint32_t subtree_end;  // index just past this node's subtree
    int32_t first_token;   // index into tokens_ending_ of the tokens that end here
    int32_t num_tokens;
  };
  const std::vector<Node>& nodes() const { return nodes_; }
  // Token ids whose bytes end exactly at node i.
  const int32_t* TokensAt(const Node& n) const { return tokens_ending_.data() + n.first_token; }
  int vocab_size() const { return vocab_size_; }
  int max_depth() const { return max_depth_; }

  // Walks the trie. `step(byte, depth)` is called entering a node whose parent chain was
  // accepted; it returns whether the byte is accepted at that depth (the caller keeps one
  // grammar state per depth). Tokens ending at accepted nodes are reported to `accept`.
  template <typename Step, typename Accept>
  void Walk(Step&& step, Accept&& accept) const {
    size_t i = 0;
    while (i < nodes_.size()) {
      const Node& n = nodes_[i];
      if (!step(n.byte, n.depth)) {
        i = n.subtree_end;
        continue;
      }
      for (int k = 0; k < n.num_tokens; ++k) accept(tokens_ending_[n.first_token + k]);
      ++i;
    }
  }

 private:
  std::vector<Node> nodes_;
  std::vector<int32_t> tokens_ending_;
  int vocab_size_ = 0;
  int max_depth_ = 0;
};

}  // namespace qs::structured
