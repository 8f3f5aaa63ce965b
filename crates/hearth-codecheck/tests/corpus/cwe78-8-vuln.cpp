// expect: CWE-78
#include <cstdlib>
#include <string>
int compress(const std::string& path) {
    std::string cmd = "gzip " + path;
    return std::system(cmd.c_str());
}
