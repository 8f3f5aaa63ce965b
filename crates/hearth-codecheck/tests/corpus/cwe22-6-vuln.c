// expect: CWE-22
#include <stdio.h>
int main(int argc, char **argv) {
    char path[256];
    snprintf(path, sizeof path, "/var/app/reports/%s", argv[1]);
    FILE *f = fopen(path, "r");
    return f == NULL;
}
