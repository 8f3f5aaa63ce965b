// expect: CWE-295
#include <curl/curl.h>
void setup(CURL *h) {
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
}
