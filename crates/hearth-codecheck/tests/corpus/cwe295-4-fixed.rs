// expect: none
fn client() -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder().https_only(true).build()
}
