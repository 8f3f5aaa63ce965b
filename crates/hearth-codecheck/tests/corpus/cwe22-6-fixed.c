// expect: none
#include <stdio.h>
#include <string.h>
int main(int argc, char **argv) {
    char path[256];
    if (strstr(argv[1], "..") != NULL || strchr(argv[1], '/') != NULL) return 1;
    snprintf(path, sizeof path, "/var/app/reports/%s", argv[1]);
    FILE *f = fopen(path, "r");
    return f == NULL;
}
