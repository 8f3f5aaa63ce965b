// expect: none
use std::process::Command;
fn grep(pattern: &str) -> std::io::Result<std::process::Output> {
    Command::new("grep").arg("--").arg(pattern).arg("/var/log/app.log").output()
}
