// expect: none
#include <cstdlib>
#include <string>
int compress_all() {
    return std::system("gzip -r /var/cache/app");
}
