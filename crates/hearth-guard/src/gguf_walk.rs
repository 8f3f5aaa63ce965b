//! An allocation-free pre-pass over a GGUF header.
//!
//! `hearth_gguf::parse` builds owned metadata (every string and array copied to the heap). A
//! hostile file can make that arbitrarily large while staying structurally valid: a 1 GiB chat
//! template in a sparse file, a u8 array of a billion elements, a million tiny keys. This walk
//! reads only lengths and counts, estimates the heap the full parse would need, and stops at
//! the first string or total over the limits, so the scanner can refuse the full parse and
//! still say exactly where the problem is. On a structural error it stops and lets the full
//! parser (whose cost up to that point is bounded by what was walked) report the precise error.

/// Where the walk stopped early because the full parse would need too much memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverLimit {
    pub field: String,
    pub offset: u64,
    pub what: String,
}

/// What the walk learned.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Walk {
    /// Estimated heap bytes of the full parse (strings, arrays, maps, tensor infos).
    pub estimated_heap: u64,
    /// Longest string seen: length, field, offset.
    pub longest_string: (u64, String, u64),
    /// Set when the walk stopped because of a limit.
    pub over_limit: Option<OverLimit>,
    /// Set when the bytes are malformed (the full parser reports the details).
    pub malformed: bool,
}

struct W<'a> {
    b: &'a [u8],
    pos: usize,
}

#[derive(Debug)]
enum Stop {
    Malformed,
    Limit(OverLimit),
}

const STRING_OVERHEAD: u64 = 24;

impl W<'_> {
    fn take(&mut self, n: u64) -> Result<&[u8], Stop> {
        let left = (self.b.len() - self.pos) as u64;
        if n > left {
            return Err(Stop::Malformed);
        }
        let s = &self.b[self.pos..self.pos + n as usize];
        self.pos += n as usize;
        Ok(s)
    }
    fn u32(&mut self) -> Result<u32, Stop> {
        let s = self.take(4)?;
        Ok(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
    }
    fn u64(&mut self) -> Result<u64, Stop> {
        let s = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(s);
        Ok(u64::from_le_bytes(a))
    }
}

struct Budget<'o> {
    max_total: u64,
    max_string: u64,
    walk: &'o mut Walk,
}

impl Budget<'_> {
    fn charge(&mut self, n: u64, field: &dyn Fn() -> String, at: u64) -> Result<(), Stop> {
        self.walk.estimated_heap = self.walk.estimated_heap.saturating_add(n);
        if self.walk.estimated_heap > self.max_total {
            return Err(Stop::Limit(OverLimit {
                field: field(),
                offset: at,
                what: format!(
                    "the metadata would need more than {} MiB of memory to load",
                    self.max_total >> 20
                ),
            }));
        }
        Ok(())
    }

    fn string(&mut self, w: &mut W<'_>, field: &dyn Fn() -> String) -> Result<(), Stop> {
        let at = w.pos as u64;
        let len = w.u64()?;
        if len > self.max_string {
            return Err(Stop::Limit(OverLimit {
                field: field(),
                offset: at,
                what: format!(
                    "string of {len} bytes is longer than the {} MiB limit",
                    self.max_string >> 20
                ),
            }));
        }
        if len > self.walk.longest_string.0 {
            self.walk.longest_string = (len, field(), at);
        }
        w.take(len)?;
        self.charge(len + STRING_OVERHEAD, field, at)
    }

    fn value(
        &mut self,
        w: &mut W<'_>,
        ty: u32,
        depth: usize,
        field: &dyn Fn() -> String,
    ) -> Result<(), Stop> {
        let fixed = |ty: u32| -> Option<u64> {
            Some(match ty {
                0 | 1 | 7 => 1,
                2 | 3 => 2,
                4..=6 => 4,
                10..=12 => 8,
                _ => return None,
            })
        };
        if let Some(n) = fixed(ty) {
            w.take(n)?;
            return Ok(());
        }
        match ty {
            8 => self.string(w, field),
            9 => {
                if depth > hearth_gguf::MAX_ARRAY_DEPTH {
                    return Err(Stop::Malformed);
                }
                let at = w.pos as u64;
                let et = w.u32()?;
                let count = w.u64()?;
                if let Some(size) = fixed(et) {
                    let bytes = count.checked_mul(size).ok_or(Stop::Malformed)?;
                    w.take(bytes)?;
                    // Typed vectors: bools and u8/i8 one byte, others their width (u16 etc.).
                    return self.charge(bytes.saturating_add(STRING_OVERHEAD), field, at);
                }
                let min = if et == 8 { 8 } else { 12 };
                let left = (w.b.len() - w.pos) as u64;
                if count.checked_mul(min).is_none_or(|need| need > left) {
                    return Err(Stop::Malformed);
                }
                self.charge(
                    count
                        .saturating_mul(STRING_OVERHEAD)
                        .saturating_add(STRING_OVERHEAD),
                    field,
                    at,
                )?;
                for _ in 0..count {
                    if et == 8 {
                        self.string(w, field)?;
                    } else if et == 9 {
                        self.value(w, 9, depth + 1, field)?;
                    } else {
                        return Err(Stop::Malformed);
                    }
                }
                Ok(())
            }
            _ => Err(Stop::Malformed),
        }
    }
}

/// Walk the header of `bytes` (which start with `GGUF`).
pub fn walk(bytes: &[u8], max_total: u64, max_string: u64) -> Walk {
    let mut out = Walk::default();
    let mut budget = Budget {
        max_total,
        max_string,
        walk: &mut out,
    };
    let mut w = W { b: bytes, pos: 0 };
    match walk_inner(&mut w, &mut budget) {
        Ok(()) => {}
        Err(Stop::Malformed) => out.malformed = true,
        Err(Stop::Limit(l)) => out.over_limit = Some(l),
    }
    out
}

fn walk_inner(w: &mut W<'_>, budget: &mut Budget<'_>) -> Result<(), Stop> {
    w.take(4)?;
    let version = w.u32()?;
    if !(2..=3).contains(&version) {
        return Err(Stop::Malformed);
    }
    let n_tensors = w.u64()?;
    let n_kv = w.u64()?;
    if n_tensors > 1 << 20 || n_kv > 1 << 20 {
        return Err(Stop::Malformed);
    }
    for i in 0..n_kv {
        let key_at = w.pos as u64;
        let klen = w.u64()?;
        let key = w.take(klen)?;
        let key_name = String::from_utf8_lossy(&key[..key.len().min(200)]).into_owned();
        let field = move || format!("metadata[{key_name:?}]");
        // key stored twice (entries + index) plus the value enum and the index slot.
        budget.charge(
            2 * (klen + STRING_OVERHEAD) + 48,
            &|| format!("metadata[{i}].key"),
            key_at,
        )?;
        let ty = w.u32()?;
        budget.value(w, ty, 0, &field)?;
    }
    for i in 0..n_tensors {
        let at = w.pos as u64;
        let field = move || format!("tensor[{i}]");
        let nlen = w.u64()?;
        if nlen > 256 {
            return Err(Stop::Malformed);
        }
        w.take(nlen)?;
        let n_dims = w.u32()?;
        if n_dims > 4 {
            return Err(Stop::Malformed);
        }
        w.take(u64::from(n_dims) * 8)?;
        w.u32()?;
        w.u64()?;
        // TensorInfo (~120 bytes) + the name twice (vector and duplicate-name set) + dims.
        budget.charge(120 + 2 * (nlen + STRING_OVERHEAD) + 32, &field, at)?;
    }
    Ok(())
}
