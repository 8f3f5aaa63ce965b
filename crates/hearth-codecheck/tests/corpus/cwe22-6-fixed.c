// expect: none
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
int main(void) {
    const char *q = getenv("QUERY_STRING");
    char path[256];
    if (strstr(q, "..") != NULL || strchr(q, '/') != NULL) return 1;
    snprintf(path, sizeof path, "/var/app/reports/%s", q);
    FILE *f = fopen(path, "r");
    return f == NULL;
}
