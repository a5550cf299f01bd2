// Basic auth (see web_auth.hpp).
#include "views/web_auth.hpp"

#include <crypt.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <strings.h>

#include <cstring>

namespace tcpfsm {
namespace {

int bcrypt_cost(const std::string& hash) { return (hash[4] - '0') * 10 + (hash[5] - '0'); }

// RFC 7617's "Basic base64(user:password)"; false for anything else.
bool decode_basic(std::string_view header, std::string& user, std::string& password) {
  constexpr std::string_view kScheme = "Basic ";
  if (header.size() <= kScheme.size() || strncasecmp(header.data(), kScheme.data(), kScheme.size()) != 0) return false;
  std::string_view b64 = header.substr(kScheme.size());
  // A scrape's header is short; anything this long is not a credential.
  if (b64.empty() || b64.size() % 4 != 0 || b64.size() > 1024) return false;
  std::string out(b64.size() / 4 * 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(b64.data()), static_cast<int>(b64.size()));
  if (n < 0) return false;
  // EVP_DecodeBlock counts the padding as zero bytes.
  size_t len = static_cast<size_t>(n);
  for (size_t i = b64.size(); i > 0 && b64[i - 1] == '='; --i) --len;
  out.resize(len);
  const size_t colon = out.find(':');
  if (colon == std::string::npos) return false;
  user = out.substr(0, colon);
  password = out.substr(colon + 1);
  return true;
}

}  // namespace

BasicAuth::BasicAuth(std::map<std::string, std::string> users, size_t cache_entries)
    : users_(std::move(users)), capacity_(cache_entries), crypt_(std::make_unique<crypt_data>()) {
  // The costliest configured hash: an unknown user costs as much as the
  // slowest known one (exporter-toolkit checks a fixed decoy hash instead).
  for (const auto& [user, hash] : users_) {
    if (decoy_hash_.empty() || bcrypt_cost(hash) > bcrypt_cost(decoy_hash_)) decoy_hash_ = hash;
  }
}

BasicAuth::~BasicAuth() = default;

bool BasicAuth::allows(std::string_view authorization) {
  if (!enabled()) return true;
  std::string user, password;
  const bool ok = decode_basic(authorization, user, password) && verify(user, password);
  if (!ok) ++rejected_;
  return ok;
}

bool BasicAuth::verify(const std::string& user, const std::string& password) {
  // crypt_r reads a C string: a NUL would cut the password short.
  if (password.find('\0') != std::string::npos) return false;
  const auto it = users_.find(user);
  const bool known = it != users_.end();
  const std::string& hash = known ? it->second : decoy_hash_;
  // The cache is keyed by a digest of user, hash and password, so it holds
  // no password; the hash is part of it as in exporter-toolkit's key.
  Key key{};
  {
    EVP_MD_CTX* md = EVP_MD_CTX_new();
    bool ok = md && EVP_DigestInit_ex(md, EVP_sha256(), nullptr) == 1;
    for (const std::string* part : {&user, &hash, &password}) {
      const uint64_t len = part->size();  // length-prefixed: no two triples feed the same bytes
      ok = ok && EVP_DigestUpdate(md, &len, sizeof len) == 1 && EVP_DigestUpdate(md, part->data(), part->size()) == 1;
    }
    unsigned int n = 0;
    ok = ok && EVP_DigestFinal_ex(md, key.data(), &n) == 1 && n == key.size();
    EVP_MD_CTX_free(md);
    if (!ok) return false;
  }
  if (known) {
    std::lock_guard<std::mutex> lock(cache_mu_);
    if (cache_.count(key)) {
      ++hits_;
      return true;
    }
  }
  bool match = false;
  {
    std::lock_guard<std::mutex> lock(crypt_mu_);
    std::memset(crypt_.get(), 0, sizeof(crypt_data));
    const char* out = crypt_r(password.c_str(), hash.c_str(), crypt_.get());
    // A failed crypt_r returns NULL or a string starting with '*', never the hash.
    match = out && std::strlen(out) == hash.size() && CRYPTO_memcmp(out, hash.data(), hash.size()) == 0;
  }
  if (!known || !match) return false;
  std::lock_guard<std::mutex> lock(cache_mu_);
  if (capacity_ == 0) return true;
  if (cache_.insert(key).second) {
    order_.push_back(key);
    if (order_.size() > capacity_) {
      cache_.erase(order_.front());
      order_.pop_front();
      ++dropped_;
    }
  }
  return true;
}

BasicAuthCounters BasicAuth::counters() const { return {dropped_.load(), rejected_.load(), hits_.load()}; }

}  // namespace tcpfsm
