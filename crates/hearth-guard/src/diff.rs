//! A small line diff (longest common subsequence), enough to show how a chat template differs
//! from the closest pinned one. Quadratic in the number of lines, so callers cap the inputs.

/// One line of a diff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line<'a> {
    Same(&'a str),
    Removed(&'a str),
    Added(&'a str),
}

/// Most lines per side that [`diff_lines`] accepts (beyond, it returns `None`).
pub const MAX_LINES: usize = 4_000;

/// Line diff from `old` to `new`. `None` if either side has more than [`MAX_LINES`] lines.
pub fn diff_lines<'a>(old: &'a str, new: &'a str) -> Option<Vec<Line<'a>>> {
    let a: Vec<&str> = old.lines().collect();
    let b: Vec<&str> = new.lines().collect();
    if a.len() > MAX_LINES || b.len() > MAX_LINES {
        return None;
    }
    let (n, m) = (a.len(), b.len());
    // lcs[i][j] = LCS length of a[i..] and b[j..], stored row-major in u16/u32 cells.
    let w = m + 1;
    let mut lcs = vec![0u32; (n + 1) * w];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i * w + j] = if a[i] == b[j] {
                lcs[(i + 1) * w + j + 1] + 1
            } else {
                lcs[(i + 1) * w + j].max(lcs[i * w + j + 1])
            };
        }
    }
    let mut out = Vec::with_capacity(n.max(m));
    let (mut i, mut j) = (0, 0);
    while i < n && j < m {
        if a[i] == b[j] {
            out.push(Line::Same(a[i]));
            i += 1;
            j += 1;
        } else if lcs[(i + 1) * w + j] >= lcs[i * w + j + 1] {
            out.push(Line::Removed(a[i]));
            i += 1;
        } else {
            out.push(Line::Added(b[j]));
            j += 1;
        }
    }
    out.extend(a[i..].iter().map(|l| Line::Removed(l)));
    out.extend(b[j..].iter().map(|l| Line::Added(l)));
    Some(out)
}

/// Share of lines the two texts have in common, 0.0..=1.0 (for picking the closest template).
pub fn similarity(old: &str, new: &str) -> f64 {
    let Some(d) = diff_lines(old, new) else {
        return 0.0;
    };
    let same = d.iter().filter(|l| matches!(l, Line::Same(_))).count();
    let total = d.len().max(1);
    same as f64 / total as f64
}

/// Unified-style text: changed lines with `context` lines around them, `@@ line N @@` headers,
/// at most `max_lines` output lines.
pub fn unified(old: &str, new: &str, context: usize, max_lines: usize) -> Option<String> {
    let d = diff_lines(old, new)?;
    let changed: Vec<bool> = d.iter().map(|l| !matches!(l, Line::Same(_))).collect();
    let mut keep = vec![false; d.len()];
    for (k, &c) in changed.iter().enumerate() {
        if c {
            let lo = k.saturating_sub(context);
            let hi = (k + context + 1).min(d.len());
            keep[lo..hi].iter_mut().for_each(|x| *x = true);
        }
    }
    let mut out = Vec::new();
    let mut new_line = 1usize;
    let mut prev_kept = false;
    for (k, l) in d.iter().enumerate() {
        if keep[k] {
            if !prev_kept {
                out.push(format!("@@ line {new_line} @@"));
            }
            out.push(match l {
                Line::Same(s) => format!(" {s}"),
                Line::Removed(s) => format!("-{s}"),
                Line::Added(s) => format!("+{s}"),
            });
        }
        prev_kept = keep[k];
        if !matches!(l, Line::Removed(_)) {
            new_line += 1;
        }
        if out.len() >= max_lines {
            out.push("... (diff truncated)".into());
            break;
        }
    }
    Some(out.join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_texts_have_no_changes() {
        let d = diff_lines("a\nb\nc", "a\nb\nc").unwrap();
        assert!(d.iter().all(|l| matches!(l, Line::Same(_))));
        assert_eq!(similarity("a\nb", "a\nb"), 1.0);
        assert_eq!(unified("a\nb", "a\nb", 1, 10).unwrap(), "");
    }

    #[test]
    fn shows_changed_line_with_context() {
        let u = unified("a\nb\nc\nd\ne", "a\nb\nX\nd\ne", 1, 50).unwrap();
        assert_eq!(u, "@@ line 2 @@\n b\n-c\n+X\n d");
        let d = diff_lines("x", "").unwrap();
        assert_eq!(d, vec![Line::Removed("x")]);
    }

    #[test]
    fn similarity_orders_candidates() {
        let base = "1\n2\n3\n4";
        assert!(similarity(base, "1\n2\n3\n5") > similarity(base, "9\n8\n7\n4"));
    }
}
