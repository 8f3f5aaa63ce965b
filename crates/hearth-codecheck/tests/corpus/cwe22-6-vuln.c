// expect: CWE-22
#include <stdio.h>
#include <stdlib.h>
int main(void) {
    const char *q = getenv("QUERY_STRING");
    char path[256];
    snprintf(path, sizeof path, "/var/app/reports/%s", q);
    FILE *f = fopen(path, "r");
    return f == NULL;
}
