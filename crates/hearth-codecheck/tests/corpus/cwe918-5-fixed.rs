// expect: none
async fn fetch_avatar(params: Query<AvatarParams>) -> reqwest::Result<bytes::Bytes> {
    let url = format!("https://avatars.example.com/{}", params.user_id);
    reqwest::get("https://avatars.example.com/default.png").await?.bytes().await
}
