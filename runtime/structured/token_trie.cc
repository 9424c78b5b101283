#include "runtime/structured/token_trie.h"

#include <algorithm>
#include <numeric>

namespace qs::structured {

TokenTrie::TokenTrie(const std::vector<std::string>& token_bytes)
    : vocab_size_(static_cast<int>(token_bytes.size())) {
  // Sorting the tokens by their bytes gives the preorder directly: a node is the longest
  // common prefix run, and its subtree is the contiguous range of tokens sharing it.
  std::vector<int32_t> order;
  for (int32_t id = 0; id < vocab_size_; ++id) {
    if (!token_bytes[id].empty()) order.push_back(id);
  }
  std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) {
    return token_bytes[a] < token_bytes[b] || (token_bytes[a] == token_bytes[b] && a < b);
  });
  // Open nodes along the current path: their index in nodes_.
  std::vector<size_t> path;
  std::string prev;
  for (int32_t id : order) {
    const std::string& bytes = token_bytes[id];
    size_t common = 0;
    while (common < prev.size() && common < bytes.size() && prev[common] == bytes[common]) ++common;
    // Close the nodes deeper than the common prefix.
    while (path.size() > common) {
      nodes_[path.back()].subtree_end = static_cast<uint32_t>(nodes_.size());
      path.pop_back();
    }
    for (size_t d = common; d < bytes.size(); ++d) {
      path.push_back(nodes_.size());
      nodes_.push_back(Node{static_cast<uint8_t>(bytes[d]), static_cast<uint16_t>(d + 1), 0, 0, 0});
    }
    Node& end = nodes_[path.back()];
    if (end.num_tokens == 0) end.first_token = static_cast<int32_t>(tokens_ending_.size());
    // Tokens with identical bytes end at the same node; they are adjacent in `order`.
    tokens_ending_.push_back(id);
    ++end.num_tokens;
    max_depth_ = std::max(max_depth_, static_cast<int>(bytes.size()));
    prev = bytes;
  }
  while (!path.empty()) {
    nodes_[path.back()].subtree_end = static_cast<uint32_t>(nodes_.size());
    path.pop_back();
  }
}

}  // namespace qs::structured
