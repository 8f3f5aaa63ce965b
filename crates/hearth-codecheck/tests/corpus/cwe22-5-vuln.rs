// expect: CWE-22
use std::fs;
fn read_upload(params: &std::collections::HashMap<String, String>) -> std::io::Result<String> {
    let name = &params["file"];
    fs::read_to_string(format!("/srv/uploads/{}", name))
}
