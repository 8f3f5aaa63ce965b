//! KV states of prompts that no slot holds any more, kept in RAM (llama.cpp's `--cache-ram`).
//! Coding agents resend a long, mostly identical prefix every turn, often after another
//! request (a second agent, a title request, an autocomplete) took the only slot: restoring a
//! saved state costs a memory copy where re-evaluating the prefix costs minutes on a CPU.
//! Entries are bounded by a byte budget and evicted least recently used first.

use crate::types::Token;

/// Prompts shorter than this are not worth saving (cheap to evaluate again).
pub(crate) const MIN_TOKENS: usize = 256;

struct Entry<S> {
    tokens: Vec<Token>,
    state: S,
    bytes: usize,
    used: u64,
}

/// Saved states `S` by their token sequence.
pub(crate) struct PromptCache<S> {
    entries: Vec<Entry<S>>,
    budget: usize,
    used_bytes: usize,
    tick: u64,
}

/// Length of the longest common prefix of two token sequences.
pub(crate) fn common_prefix(a: &[Token], b: &[Token]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

impl<S> PromptCache<S> {
    /// A cache holding at most `budget` bytes of states (0: disabled).
    pub(crate) fn new(budget: usize) -> Self {
        PromptCache {
            entries: Vec::new(),
            budget,
            used_bytes: 0,
            tick: 0,
        }
    }

    /// Whether states are kept at all.
    pub(crate) fn enabled(&self) -> bool {
        self.budget > 0
    }

    /// The entry sharing the longest prefix with `prompt`, and that length (marked used).
    pub(crate) fn best(&mut self, prompt: &[Token]) -> Option<(&[Token], &S, usize)> {
        let (i, lcp) = self
            .entries
            .iter()
            .enumerate()
            .map(|(i, e)| (i, common_prefix(&e.tokens, prompt)))
            .max_by_key(|&(_, lcp)| lcp)?;
        if lcp == 0 {
            return None;
        }
        self.tick += 1;
        let e = &mut self.entries[i];
        e.used = self.tick;
        Some((&e.tokens, &e.state, lcp))
    }

    /// Whether a state of exactly these tokens (or of a longer sequence starting with them) is
    /// already kept.
    pub(crate) fn covers(&self, tokens: &[Token]) -> bool {
        self.entries
            .iter()
            .any(|e| e.tokens.len() >= tokens.len() && e.tokens[..tokens.len()] == *tokens)
    }

    /// Keep `state` of `tokens` (`bytes` long): entries it extends are dropped, then the least
    /// recently used until it fits. A state larger than the whole budget is not kept.
    pub(crate) fn insert(&mut self, tokens: Vec<Token>, state: S, bytes: usize) {
        if bytes > self.budget || tokens.len() < MIN_TOKENS {
            return;
        }
        let mut freed = 0;
        self.entries.retain(|e| {
            let dominated = e.tokens.len() <= tokens.len() && tokens[..e.tokens.len()] == *e.tokens;
            if dominated {
                freed += e.bytes;
            }
            !dominated
        });
        self.used_bytes -= freed;
        while self.used_bytes + bytes > self.budget {
            let Some((i, _)) = self.entries.iter().enumerate().min_by_key(|(_, e)| e.used) else {
                break;
            };
            let e = self.entries.swap_remove(i);
            self.used_bytes -= e.bytes;
        }
        self.tick += 1;
        self.used_bytes += bytes;
        self.entries.push(Entry {
            tokens,
            state,
            bytes,
            used: self.tick,
        });
    }

    /// `(entries, bytes)` held.
    pub(crate) fn usage(&self) -> (usize, usize) {
        (self.entries.len(), self.used_bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seq(start: i32, n: usize) -> Vec<i32> {
        (start..start + n as i32).collect()
    }

    #[test]
    fn best_prefix_lru_and_budget() {
        let mut c: PromptCache<&str> = PromptCache::new(1000);
        let a = seq(0, 300);
        let b = seq(10_000, 300);
        c.insert(a.clone(), "a", 400);
        c.insert(b.clone(), "b", 400);
        assert_eq!(c.usage(), (2, 800));
        let mut q = a[..280].to_vec();
        q.extend([7, 7]);
        let (_, s, lcp) = c.best(&q).unwrap();
        assert_eq!((*s, lcp), ("a", 280));
        // Over budget: the least recently used (b) goes.
        c.insert(seq(50_000, 300), "c", 400);
        assert_eq!(c.usage(), (2, 800));
        assert!(c.covers(&a) && !c.covers(&b));
        // A longer state of the same prefix replaces the shorter one.
        let mut a2 = a.clone();
        a2.extend(seq(90_000, 50));
        c.insert(a2.clone(), "a2", 450);
        assert_eq!(c.usage(), (2, 850));
        assert!(c.covers(&a) && c.covers(&a2));
        // Too short or too large: not kept.
        c.insert(seq(0, 10), "short", 1);
        c.insert(seq(70_000, 300), "huge", 5000);
        assert_eq!(c.usage(), (2, 850));
        assert!(c.best(&[999_999]).is_none());
        assert!(!PromptCache::<()>::new(0).enabled());
    }
}
