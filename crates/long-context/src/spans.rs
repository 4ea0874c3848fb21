//! Character spans for sharing key tokens between tokenizers (PKU-ML/LongPPL
//! `longppl/longppl.py`: `merge_intervals`, `cal_overlap`): the evaluator's key targets become
//! character spans through its offsets; an evaluated model's token is key iff its span lies
//! inside a key span.

/// Sorts and merges intervals `[start, end)` that overlap or touch (end == next start).
pub fn merge_intervals(mut v: Vec<(usize, usize)>) -> Vec<(usize, usize)> {
    v.sort_unstable();
    let mut out: Vec<(usize, usize)> = Vec::with_capacity(v.len());
    for (s, e) in v {
        match out.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => out.push((s, e)),
        }
    }
    out
}

/// Character spans of key targets: `key[i - 1]` flags target token `i`, whose characters
/// are `offsets[i]`.
///
/// # Panics
/// If `key.len() + 1 != offsets.len()`.
pub fn key_char_spans(offsets: &[(usize, usize)], key: &[bool]) -> Vec<(usize, usize)> {
    assert_eq!(key.len() + 1, offsets.len(), "key flags cover targets 1..T");
    merge_intervals(
        key.iter()
            .enumerate()
            .filter(|(_, k)| **k)
            .map(|(j, _)| offsets[j + 1])
            .collect(),
    )
}

/// Key flags (indexed by target - 1) for a tokenization with `offsets`: a token is key iff
/// its span lies inside one key span; a token straddling a span edge is not.
pub fn spans_to_key_targets(offsets: &[(usize, usize)], spans: &[(usize, usize)]) -> Vec<bool> {
    offsets
        .iter()
        .skip(1)
        .map(|&(s, e)| spans.iter().any(|&(a, b)| a <= s && e <= b))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merging_and_mapping() {
        assert_eq!(
            merge_intervals(vec![(7, 9), (0, 3), (3, 5)]),
            vec![(0, 5), (7, 9)]
        );
        // Tokens "ab|cd|ef|gh" at 0..2, 2..4, 4..6, 6..8; targets 1..3 -> key flags index i - 1.
        let offsets = [(0, 2), (2, 4), (4, 6), (6, 8)];
        let spans = key_char_spans(&offsets, &[true, true, false]);
        assert_eq!(spans, vec![(2, 6)]);
        // Another tokenization "abc|def|gh": "def" (3..6) lies inside, "abc" straddles 2.
        assert_eq!(
            spans_to_key_targets(&[(0, 3), (3, 6), (6, 8)], &spans),
            vec![true, false]
        );
        assert_eq!(
            spans_to_key_targets(&[(0, 1), (1, 3), (3, 6)], &spans),
            vec![false, true]
        );
    }
}
