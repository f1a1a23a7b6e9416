// Shell-like word splitting and quoting for the search's trial command lines.
#include "mnistcnn/search/args.h"

#include "mnistcnn/core/error.h"

namespace mnistcnn::search {

std::vector<std::string> split_args(const std::string& text) {
  std::vector<std::string> words;
  std::string word;
  bool in_word = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == ' ' || c == '\t' || c == '\n') {
      if (in_word) words.push_back(word), word.clear(), in_word = false;
    } else if (c == '\'' || c == '"') {
      const size_t end = text.find(c, i + 1);
      if (end == std::string::npos)
        throw Error("--base: unclosed " + std::string(c == '"' ? "double" : "single") + " quote in: " + text);
      word += text.substr(i + 1, end - i - 1);
      in_word = true;
      i = end;
    } else if (c == '\\') {
      if (i + 1 == text.size()) throw Error("--base: a trailing backslash in: " + text);
      word += text[++i];
      in_word = true;
    } else {
      word += c;
      in_word = true;
    }
  }
  if (in_word) words.push_back(word);
  return words;
}

std::string quote_arg(const std::string& word) {
  if (!word.empty() && word.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_=.,/:+@%") ==
                           std::string::npos)
    return word;
  std::string q = "'";
  for (char c : word) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

std::string join_args(const std::vector<std::string>& words) {
  std::string s;
  for (const std::string& w : words) {
    if (!s.empty()) s += ' ';
    s += quote_arg(w);
  }
  return s;
}

bool has_flag(const std::vector<std::string>& words, const std::string& name, const std::vector<std::string>& aliases) {
  const std::string flag = "--" + name;
  for (const std::string& w : words) {
    if (w == flag || w.rfind(flag + "=", 0) == 0) return true;
    for (const std::string& a : aliases)
      if (w == a) return true;
  }
  return false;
}

std::optional<std::string> flag_value(const std::vector<std::string>& words, const std::string& name) {
  const std::string flag = "--" + name;
  std::optional<std::string> value;
  for (size_t i = 0; i < words.size(); ++i) {
    if (words[i] == flag && i + 1 < words.size()) value = words[i + 1];
    else if (words[i].rfind(flag + "=", 0) == 0) value = words[i].substr(flag.size() + 1);
  }
  return value;
}

}  // namespace mnistcnn::search
