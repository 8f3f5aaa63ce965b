// expect: CWE-798
struct Config { secret_key: String }
fn config() -> Config {
    Config { secret_key: "9f8e7d6c5b4a39281706f5e4".to_string() }
}
