// expect: CWE-338
#include <stdlib.h>
unsigned int make_session_key(void) {
    return (unsigned int)rand();
}
