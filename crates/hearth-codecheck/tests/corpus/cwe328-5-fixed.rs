// expect: none
use sha2::{Digest, Sha256};
fn etag(body: &[u8]) -> String {
    format!("{:x}", Sha256::digest(body))
}
