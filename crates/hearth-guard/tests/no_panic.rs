//! Robustness: thousands of deterministic random mutations (byte flips, truncations, length
//! fields set to extremes) of valid GGUF, zip, tar-free pickle and safetensors inputs never
//! panic the scanner.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use hearth_guard::{scan_bytes, zip, ScanOptions};

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn mutate(base: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut b = base.to_vec();
    match rng.below(4) {
        0 => {
            for _ in 0..1 + rng.below(8) {
                let i = rng.below(b.len());
                b[i] = rng.next() as u8;
            }
        }
        1 => b.truncate(rng.below(b.len())),
        2 => {
            let i = rng.below(b.len().saturating_sub(8));
            let v = [0u64, 1, 0xFFFF_FFFF, u64::MAX, 1 << 40][rng.below(5)];
            let n = 8.min(b.len() - i);
            b[i..i + n].copy_from_slice(&v.to_le_bytes()[..n]);
        }
        _ => {
            let i = rng.below(b.len());
            let extra: Vec<u8> = (0..rng.below(64)).map(|_| rng.next() as u8).collect();
            b.splice(i..i, extra);
        }
    }
    b
}

#[test]
fn mutated_inputs_never_panic() {
    let mut pickle = b"\x80\x04\x95\x20\x00\x00\x00\x00\x00\x00\x00\x8c\x05posix\x94\x8c\x06system\x94\x93\x8c\x02id\x85R.".to_vec();
    pickle.extend_from_slice(b"ccollections\nOrderedDict\n)R.");
    let st = {
        let j =
            r#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"__metadata__":{"k":"v"}}"#;
        let mut b = (j.len() as u64).to_le_bytes().to_vec();
        b.extend_from_slice(j.as_bytes());
        b.extend_from_slice(&[0; 8]);
        b
    };
    let bases: Vec<Vec<u8>> = vec![
        hearth_gguf::writer::tiny_llama().to_bytes(),
        zip::build(
            &[
                ("archive/data.pkl", &pickle, true),
                ("archive/data/0", &[1; 64], false),
            ],
            &[],
        ),
        pickle.clone(),
        st,
    ];
    let opts = ScanOptions::default();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut scanned = 0;
    for base in &bases {
        for _ in 0..1500 {
            let m = mutate(base, &mut rng);
            let _ = scan_bytes(&m, &opts);
            scanned += 1;
        }
    }
    assert_eq!(scanned, 6000);
}
