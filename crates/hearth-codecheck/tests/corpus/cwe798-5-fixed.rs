// expect: none
struct Config { secret_key: String }
fn config() -> Config {
    Config { secret_key: std::env::var("SECRET_KEY").expect("SECRET_KEY") }
}
