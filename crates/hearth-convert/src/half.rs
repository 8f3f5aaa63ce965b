//! Number formats: IEEE half and bfloat16 to and from f32, and ggml's Q8_0 blocks.

/// f32 to IEEE 754 half, rounding to nearest even (as ggml's `GGML_FP32_TO_FP16`).
pub(crate) fn f32_to_f16(x: f32) -> u16 {
    let b = x.to_bits();
    let sign = ((b >> 16) & 0x8000) as u16;
    let exp = ((b >> 23) & 0xff) as i32;
    let man = b & 0x7f_ffff;
    if exp == 0xff {
        // Infinity stays infinity; NaN stays a (quiet) NaN.
        let nan = if man != 0 {
            0x200 | (man >> 13) as u16
        } else {
            0
        };
        return sign | 0x7c00 | nan;
    }
    let e = exp - 127 + 15;
    if e >= 0x1f {
        return sign | 0x7c00;
    }
    if e <= 0 {
        if e < -10 {
            return sign;
        }
        let m = man | 0x80_0000;
        let shift = (14 - e) as u32;
        let half = 1u32 << (shift - 1);
        let rem = m & ((1u32 << shift) - 1);
        let mut r = m >> shift;
        if rem > half || (rem == half && r & 1 == 1) {
            r += 1;
        }
        return sign | r as u16;
    }
    let mut r = ((e as u32) << 10) | (man >> 13);
    let rem = man & 0x1fff;
    // A carry out of the mantissa correctly bumps the exponent (up to infinity).
    if rem > 0x1000 || (rem == 0x1000 && r & 1 == 1) {
        r += 1;
    }
    sign | r as u16
}

/// IEEE 754 half to f32 (exact).
pub(crate) fn f16_to_f32(h: u16) -> f32 {
    let sign = u32::from(h & 0x8000) << 16;
    let exp = u32::from((h >> 10) & 0x1f);
    let man = u32::from(h & 0x3ff);
    let bits = match (exp, man) {
        (0, 0) => sign,
        (0, _) => {
            // Subnormal: shift the mantissa up until its leading bit is the implicit one.
            let mut e = 127 - 14;
            let mut m = man;
            while m & 0x400 == 0 {
                m <<= 1;
                e -= 1;
            }
            sign | (e << 23) | ((m & 0x3ff) << 13)
        }
        (0x1f, _) => sign | 0x7f80_0000 | (man << 13),
        _ => sign | ((exp + 112) << 23) | (man << 13),
    };
    f32::from_bits(bits)
}

/// bfloat16 to f32 (exact).
pub(crate) fn bf16_to_f32(h: u16) -> f32 {
    f32::from_bits(u32::from(h) << 16)
}

/// Values per Q8_0 block.
pub(crate) const Q8_0_BLOCK: usize = 32;

/// Quantize to ggml's Q8_0 (per 32 values: an f16 scale, then 32 signed bytes), as
/// `quantize_row_q8_0_ref` does. `x.len()` must be a multiple of 32.
pub(crate) fn quantize_q8_0(x: &[f32], out: &mut Vec<u8>) {
    for block in x.chunks_exact(Q8_0_BLOCK) {
        let amax = block.iter().fold(0f32, |m, v| m.max(v.abs()));
        let d = amax / 127.0;
        let id = if d != 0.0 { 1.0 / d } else { 0.0 };
        out.extend_from_slice(&f32_to_f16(d).to_le_bytes());
        // `as` saturates; |v * id| <= 127 up to rounding.
        out.extend(block.iter().map(|v| (v * id).round() as i8 as u8));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_half_round_trips() {
        for h in 0..=u16::MAX {
            let f = f16_to_f32(h);
            if f.is_nan() {
                assert!(f16_to_f32(f32_to_f16(f)).is_nan());
                continue;
            }
            assert_eq!(f32_to_f16(f), h, "{h:#06x} -> {f}");
        }
    }

    #[test]
    fn rounds_to_nearest_even() {
        let one = 1.0f32;
        let ulp = 2f32.powi(-10);
        assert_eq!(f32_to_f16(one + ulp / 2.0), 0x3c00); // tie, even stays
        assert_eq!(f32_to_f16(one + ulp * 1.5), 0x3c02); // tie, odd rounds up
        assert_eq!(f32_to_f16(one + ulp * 0.75), 0x3c01);
        assert_eq!(f32_to_f16(65520.0), 0x7c00); // rounds past the largest half
        assert_eq!(f32_to_f16(65504.0), 0x7bff);
        assert_eq!(f32_to_f16(2f32.powi(-25)), 0); // tie at the smallest subnormal
        assert_eq!(f32_to_f16(2f32.powi(-25) * 1.5), 1);
        assert_eq!(f32_to_f16(-0.0), 0x8000);
        assert_eq!(f32_to_f16(f32::INFINITY), 0x7c00);
        assert_eq!(f16_to_f32(0x3555), 0.333_251_95);
        assert_eq!(bf16_to_f32(0x3f80), 1.0);
    }

    #[test]
    fn q8_0_blocks() {
        let x: Vec<f32> = (0..64).map(|i| (i as f32 - 20.0) / 10.0).collect();
        let mut out = Vec::new();
        quantize_q8_0(&x, &mut out);
        assert_eq!(out.len(), 2 * 34);
        let d = f16_to_f32(u16::from_le_bytes([out[0], out[1]]));
        assert!((d - 2.0 / 127.0).abs() < 1e-5);
        assert_eq!(out[2] as i8, -127);
        for (i, v) in x[..32].iter().enumerate() {
            let q = f32::from(out[2 + i] as i8) * d;
            assert!((q - v).abs() <= d, "{i}: {q} vs {v}");
        }
        let mut zeros = Vec::new();
        quantize_q8_0(&[0.0; 32], &mut zeros);
        assert!(zeros.iter().all(|&b| b == 0));
    }
}
