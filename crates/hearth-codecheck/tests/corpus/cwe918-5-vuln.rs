// expect: CWE-918
async fn fetch_avatar(params: Query<AvatarParams>) -> reqwest::Result<bytes::Bytes> {
    let url = params.url.clone();
    reqwest::get(url).await?.bytes().await
}
