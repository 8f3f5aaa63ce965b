// expect: none
#include <curl/curl.h>
void setup(CURL *h) {
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
}
