// expect: none
use std::fs;
use std::path::Path;
fn read_upload(params: &std::collections::HashMap<String, String>) -> std::io::Result<String> {
    let name = Path::new(&params["file"]).file_name().unwrap_or_default();
    fs::read_to_string(Path::new("/srv/uploads").join(name))
}
