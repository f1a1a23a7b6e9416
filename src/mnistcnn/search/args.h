// Command-line words for the trials of a search: --base "..." split as a POSIX shell
// would (quotes and backslashes, no expansion), words quoted back for a copyable command,
// and the questions the search asks of a flag list (is --epochs there, what is --schedule).
#pragma once
#include <optional>
#include <string>
#include <vector>

namespace mnistcnn::search {

// "--arch 'conv(4,3) relu' --lr 1e-3" -> {"--arch", "conv(4,3) relu", "--lr", "1e-3"}.
// Error on an unclosed quote or a trailing backslash.
std::vector<std::string> split_args(const std::string& text);
// A word as a shell reads it back: unchanged when safe, else in single quotes.
std::string quote_arg(const std::string& word);
std::string join_args(const std::vector<std::string>& words);

// Whether `words` give the flag `name` ("epochs" matches "--epochs", "--epochs=3"; "quiet"
// also matches a short alias given in `aliases`).
bool has_flag(const std::vector<std::string>& words, const std::string& name,
              const std::vector<std::string>& aliases = {});
// The value of the last "--name VALUE" or "--name=VALUE" in `words`.
std::optional<std::string> flag_value(const std::vector<std::string>& words, const std::string& name);

}  // namespace mnistcnn::search
