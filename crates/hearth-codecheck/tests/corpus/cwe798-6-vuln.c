// expect: CWE-798
#define ADMIN_PASSWORD "letmein-2024"
int check(const char *p) { return strcmp(p, ADMIN_PASSWORD) == 0; }
