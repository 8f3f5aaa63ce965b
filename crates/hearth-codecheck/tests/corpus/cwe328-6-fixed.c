// expect: none
#include <openssl/sha.h>
void digest(const unsigned char *d, size_t n, unsigned char *out) {
    SHA256(d, n, out);
}
