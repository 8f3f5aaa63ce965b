// expect: CWE-78
use std::process::Command;
fn grep(pattern: &str) -> std::io::Result<std::process::Output> {
    Command::new("sh").arg("-c").arg(format!("grep {} /var/log/app.log", pattern)).output()
}
