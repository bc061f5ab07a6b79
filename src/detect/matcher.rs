//! Compiled multi-pattern matching: the value patterns of all PI signatures as DFAs, and
//! the key-name index.
//!
//! Owns two dense DFAs built once per signature set (regex-automata; no backtracking
//! engine ever runs on packet data), both anchored and `MatchKind::All`:
//! - `free`: every pattern usable without key context. It runs from each *token start*
//!   (a position whose previous byte is allowed before a match by some pattern's boundary
//!   rule and whose byte can begin a match), reporting every (pattern, end) pair of all
//!   patterns in one overlapping run. An unanchored DFA of the same patterns would have to
//!   track every start offset inside a digit run at once, which blows up exponentially
//!   (phone, ID and IIN prefixes overlap); anchored runs keep the automaton small. Each run
//!   stops at [`MAX_MATCH_BYTES`], so a scan costs at most that many steps per token start
//!   and in practice a few steps per input byte.
//! - `keyed`: the patterns that only count under a matching key, anchored per pattern, used
//!   to test whether a whole value has the shape.
//!
//! Patterns support no look-around: boundary rules are applied by the caller around each
//! match. Searching allocates nothing. Limits: [`MAX_DFA_BYTES`] per automaton.

use std::collections::HashMap;

use regex_automata::dfa::{dense, Automaton, OverlappingState, StartKind};
use regex_automata::util::{start, syntax};
use regex_automata::{Anchored, Input, MatchKind, PatternID};

use super::signature::{Boundary, PiPattern, PiSignature, MAX_KEY_BYTES};

/// Largest compiled DFA (and determinisation working memory). The built-in patterns need a
/// few hundred KiB; the cap stops a pathological lab pattern from taking the host's memory.
pub const MAX_DFA_BYTES: usize = 64 * 1024 * 1024;
/// Longest match looked for: an email address is at most 254 bytes (RFC 5321
/// §4.5.3.1.3), every other identifier far shorter. Bounds the work per token start.
pub const MAX_MATCH_BYTES: usize = 320;

/// Checks one pattern on its own: valid syntax, no look-around or anchors, cannot match
/// the empty string.
pub fn check_pattern(pattern: &str) -> Result<(), String> {
    let hir = syntax::parse(pattern).map_err(|e| one_line(&e.to_string()))?;
    let props = hir.properties();
    if !props.look_set().is_empty() {
        return Err(
            "anchors, word boundaries and look-around are not supported \
                    (use `boundary = ...` instead)"
                .into(),
        );
    }
    if props.minimum_len().unwrap_or(0) == 0 {
        return Err("pattern matches the empty string".into());
    }
    Ok(())
}

/// Checks a host pattern: valid syntax, cannot match the empty string. Anchors are
/// allowed (`^ulogs\.umeng\.com$`): host patterns run on whole host names.
pub fn check_host_pattern(pattern: &str) -> Result<(), String> {
    let hir = syntax::parse(pattern).map_err(|e| one_line(&e.to_string()))?;
    if hir.properties().minimum_len().unwrap_or(0) == 0 {
        return Err("pattern matches the empty string".into());
    }
    Ok(())
}

/// Normalises a value for comparison with placeholder lists: ASCII letters and digits
/// only, lower case (`02:00:00:00:00:00` → `020000000000`). `None` if longer than
/// [`MAX_KEY_BYTES`].
pub fn normalize_value(raw: &[u8], out: &mut [u8; MAX_KEY_BYTES]) -> Option<usize> {
    let mut n = 0usize;
    for &c in raw.iter().filter(|c| c.is_ascii_alphanumeric()) {
        *out.get_mut(n)? = c.to_ascii_lowercase();
        n += 1;
    }
    Some(n)
}

fn one_line(s: &str) -> String {
    s.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Normalises a key name as regulation-cn.md §7 says: ASCII lower case, without `_`, `-`,
/// `.` and spaces; `%XX` escapes are decoded first. Writes into `out` and returns the
/// length, or `None` when the result would not fit ([`MAX_KEY_BYTES`]).
pub fn normalize_key(raw: &[u8], out: &mut [u8; MAX_KEY_BYTES]) -> Option<usize> {
    let mut n = 0usize;
    let mut i = 0usize;
    while let Some(&c) = raw.get(i) {
        let mut byte = c;
        i += 1;
        if c == b'%' {
            if let (Some(h), Some(l)) = (
                raw.get(i).and_then(|&h| hex_digit(h)),
                raw.get(i + 1).and_then(|&l| hex_digit(l)),
            ) {
                byte = h << 4 | l;
                i += 2;
            }
        }
        if matches!(byte, b'_' | b'-' | b'.' | b' ' | b'+') {
            continue;
        }
        *out.get_mut(n)? = byte.to_ascii_lowercase();
        n += 1;
    }
    Some(n)
}

fn hex_digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// What a key name says about its value: one bit per PI signature (index in the set).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KeyInfo {
    /// The key is one of the signature's `keys`.
    pub sigs: u128,
    /// The key is one of the signature's `hash_keys`.
    pub hash: u128,
    /// The key is one of the signature's `lat_keys`.
    pub lat: u128,
    /// The key is one of the signature's `lng_keys`.
    pub lng: u128,
    /// The key is one of the signature's `not_keys`: a match without key context is
    /// dropped (an 11-digit campaign id under `cid` is no phone number).
    pub not: u128,
}

impl KeyInfo {
    fn or(&mut self, other: &KeyInfo) {
        self.sigs |= other.sigs;
        self.hash |= other.hash;
        self.lat |= other.lat;
        self.lng |= other.lng;
        self.not |= other.not;
    }

    /// No signature cares about this key.
    pub fn is_empty(&self) -> bool {
        self.sigs | self.hash | self.lat | self.lng | self.not == 0
    }
}

/// Picks one mask of a [`KeyInfo`].
type KeySlot = fn(&mut KeyInfo) -> &mut u128;

/// Normalised key name → [`KeyInfo`], exact names in a hash map, `prefix*` and `*suffix`
/// names in a short list.
#[derive(Debug, Default)]
pub struct KeyIndex {
    exact: HashMap<Box<[u8]>, KeyInfo>,
    /// (is suffix, affix, info).
    affix: Vec<(bool, Box<[u8]>, KeyInfo)>,
}

impl KeyIndex {
    pub fn build(sigs: &[PiSignature]) -> KeyIndex {
        let mut index = KeyIndex::default();
        for (i, sig) in sigs.iter().enumerate() {
            let bit = 1u128 << i;
            let lists: [(&Vec<String>, KeySlot); 5] = [
                (&sig.keys, |k| &mut k.sigs),
                (&sig.hash_keys, |k| &mut k.hash),
                (&sig.lat_keys, |k| &mut k.lat),
                (&sig.lng_keys, |k| &mut k.lng),
                (&sig.not_keys, |k| &mut k.not),
            ];
            for (list, slot) in lists {
                for key in list {
                    let affix = match (key.strip_prefix('*'), key.strip_suffix('*')) {
                        (Some(suffix), _) => Some((true, suffix)),
                        (None, Some(prefix)) => Some((false, prefix)),
                        (None, None) => None,
                    };
                    let entry = match affix {
                        Some((is_suffix, text)) => {
                            let text: Box<[u8]> = text.as_bytes().into();
                            let at = match index
                                .affix
                                .iter()
                                .position(|(s, k, _)| *s == is_suffix && *k == text)
                            {
                                Some(at) => at,
                                None => {
                                    index.affix.push((is_suffix, text, KeyInfo::default()));
                                    index.affix.len() - 1
                                }
                            };
                            match index.affix.get_mut(at) {
                                Some((_, _, info)) => info,
                                None => continue,
                            }
                        }
                        None => index.exact.entry(key.as_bytes().into()).or_default(),
                    };
                    *slot(entry) |= bit;
                }
            }
        }
        index
    }

    /// Everything known about a normalised key.
    pub fn lookup(&self, key: &[u8]) -> KeyInfo {
        let mut info = self.exact.get(key).copied().unwrap_or_default();
        for (is_suffix, affix, i) in &self.affix {
            let hit = if *is_suffix {
                key.ends_with(affix)
            } else {
                key.starts_with(affix)
            };
            if hit {
                info.or(i);
            }
        }
        info
    }
}

/// The compiled automata of a signature set.
#[derive(Debug, Default)]
pub struct Matcher {
    free: Option<FreeSet>,
    keyed: Option<KeyedSet>,
}

#[derive(Debug)]
struct FreeSet {
    dfa: dense::DFA<Vec<u32>>,
    /// DFA pattern id → index in the signature set's pattern list.
    pattern: Vec<usize>,
    /// `after[b]`: some pattern may start right after byte `b` (its boundary allows it).
    after: [bool; 256],
    /// `first[b]`: some pattern can begin with byte `b`.
    first: [bool; 256],
}

#[derive(Debug)]
struct KeyedSet {
    dfa: dense::DFA<Vec<u32>>,
    /// Index in the pattern list → DFA pattern id.
    pid: HashMap<usize, PatternID>,
}

/// A matcher problem: the set's pattern index involved (best effort) and the reason.
pub type BuildError = (usize, String);

fn dense_config(kind: StartKind, per_pattern: bool) -> dense::Config {
    dense::Config::new()
        .match_kind(MatchKind::All)
        .start_kind(kind)
        .starts_for_each_pattern(per_pattern)
        .dfa_size_limit(Some(MAX_DFA_BYTES))
        .determinize_size_limit(Some(MAX_DFA_BYTES))
}

impl Matcher {
    /// Compiles the patterns; `Err` names a pattern index and why.
    pub fn build(patterns: &[PiPattern]) -> Result<Matcher, BuildError> {
        let free: Vec<usize> = (0..patterns.len())
            .filter(|&i| patterns.get(i).is_some_and(|p| !p.require_key))
            .collect();
        let keyed: Vec<usize> = (0..patterns.len())
            .filter(|&i| patterns.get(i).is_some_and(|p| p.require_key))
            .collect();
        let regexes = |list: &[usize]| -> Vec<String> {
            list.iter()
                .filter_map(|&i| patterns.get(i).map(|p| p.regex.clone()))
                .collect()
        };
        let first = |list: &[usize]| list.first().copied().unwrap_or(0);
        let mut m = Matcher::default();
        if !free.is_empty() {
            let res = regexes(&free);
            let dfa = dense::Builder::new()
                .configure(dense_config(StartKind::Anchored, false))
                .build_many(&res)
                .map_err(|e| (first(&free), one_line(&e.to_string())))?;
            let start_id = dfa
                .start_state(&start::Config::new().anchored(Anchored::Yes))
                .map_err(|e| (first(&free), e.to_string()))?;
            let mut first_byte = [false; 256];
            for (b, slot) in first_byte.iter_mut().enumerate() {
                let next = dfa.next_state(start_id, b as u8);
                *slot = !dfa.is_dead_state(next);
            }
            let mut after = [false; 256];
            for (b, slot) in after.iter_mut().enumerate() {
                *slot = free.iter().any(|&i| {
                    patterns
                        .get(i)
                        .is_some_and(|p| !in_boundary_class(p.boundary, b as u8))
                });
            }
            m.free = Some(FreeSet {
                dfa,
                pattern: free,
                after,
                first: first_byte,
            });
        }
        if !keyed.is_empty() {
            let res = regexes(&keyed);
            let dfa = dense::Builder::new()
                .configure(dense_config(StartKind::Anchored, true))
                .build_many(&res)
                .map_err(|e| (first(&keyed), one_line(&e.to_string())))?;
            let pid = keyed
                .iter()
                .enumerate()
                .filter_map(|(n, &i)| PatternID::new(n).ok().map(|p| (i, p)))
                .collect();
            m.keyed = Some(KeyedSet { dfa, pid });
        }
        Ok(m)
    }

    /// Bytes used by the compiled automata.
    pub fn memory_bytes(&self) -> usize {
        self.free.as_ref().map_or(0, |f| f.dfa.memory_usage())
            + self.keyed.as_ref().map_or(0, |k| k.dfa.memory_usage())
    }

    /// Runs every free pattern over `hay`: one anchored overlapping run from each token
    /// start, reporting `found(pattern, start, end)` for every match. Returns `false` if the
    /// automaton stopped early (never expected with this configuration; counted by the
    /// caller).
    pub fn for_each_free(&self, hay: &[u8], mut found: impl FnMut(usize, usize, usize)) -> bool {
        let Some(set) = &self.free else {
            return true;
        };
        let mut prev_ok = true;
        for (start, &b) in hay.iter().enumerate() {
            let here = set.first[usize::from(b)] && (prev_ok || after_escape(hay, start));
            prev_ok = set.after[usize::from(b)];
            if !here {
                continue;
            }
            let end = hay.len().min(start + MAX_MATCH_BYTES);
            let input = Input::new(hay).range(start..end).anchored(Anchored::Yes);
            let mut state = OverlappingState::start();
            loop {
                if set
                    .dfa
                    .try_search_overlapping_fwd(&input, &mut state)
                    .is_err()
                {
                    return false;
                }
                let Some(half) = state.get_match() else {
                    break;
                };
                if let Some(&pattern) = set.pattern.get(half.pattern().as_usize()) {
                    found(pattern, start, half.offset());
                }
            }
        }
        true
    }

    /// True if the whole of `value` matches the key-gated pattern `pattern`.
    pub fn keyed_full_match(&self, pattern: usize, value: &[u8]) -> bool {
        let Some(set) = &self.keyed else {
            return false;
        };
        let Some(&pid) = set.pid.get(&pattern) else {
            return false;
        };
        let input = Input::new(value).anchored(Anchored::Pattern(pid));
        // MatchKind::All runs to the longest match, so a full-length match is found if one
        // exists.
        matches!(set.dfa.try_search_fwd(&input), Ok(Some(m)) if m.offset() == value.len())
    }
}

/// A letter or digit right before `start` that ends a `%XX` or `\x` escape does not join
/// the match: in raw text `k%3D13912345678` the value starts after `%3D`.
pub fn after_escape(hay: &[u8], start: usize) -> bool {
    let at = |i: usize| start.checked_sub(i).and_then(|j| hay.get(j)).copied();
    let percent = at(3) == Some(b'%')
        && at(2).is_some_and(|c| c.is_ascii_hexdigit())
        && at(1).is_some_and(|c| c.is_ascii_hexdigit());
    let backslash = at(2) == Some(b'\\') && at(1).is_some_and(|c| c.is_ascii_alphabetic());
    percent || backslash
}

/// Whether byte `c` would continue a match under `boundary` (so a match may not start
/// right after it).
pub fn in_boundary_class(boundary: Boundary, c: u8) -> bool {
    match boundary {
        Boundary::Alnum => c.is_ascii_alphanumeric(),
        Boundary::Digit => c.is_ascii_digit(),
        Boundary::Hex => c.is_ascii_hexdigit(),
        Boundary::Email => {
            c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'%' | b'+' | b'-')
        }
        Boundary::None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::signature::Boundary;
    use crate::detect::validate::Validator;

    fn pat(regex: &str, require_key: bool) -> PiPattern {
        PiPattern {
            sig: 0,
            regex: regex.into(),
            boundary: Boundary::None,
            validator: Validator::None,
            require_key,
            confidence: 0.5,
            confidence_with_key: 0.9,
            line: 1,
        }
    }

    #[test]
    fn normalizes_keys() {
        let mut buf = [0u8; MAX_KEY_BYTES];
        let n = normalize_key(b"Android_ID", &mut buf).unwrap();
        assert_eq!(&buf[..n], b"androidid");
        let n = normalize_key(b"mac%5Faddr.wifi-X", &mut buf).unwrap();
        assert_eq!(&buf[..n], b"macaddrwifix");
        assert!(normalize_key(&[b'a'; 65], &mut buf).is_none());
        let n = normalize_key(&[b'_'; 100], &mut buf).unwrap();
        assert_eq!(n, 0);
    }

    #[test]
    fn checks_patterns() {
        assert!(check_pattern("[0-9]{11}").is_ok());
        assert!(check_pattern("(?<=a)b").is_err());
        assert!(check_pattern(r"\bfoo").is_err());
        assert!(check_pattern("^foo").is_err());
        assert!(check_pattern("a*").is_err());
        assert!(check_pattern("(unclosed").is_err());
    }

    #[test]
    fn overlapping_pass_finds_every_pattern() {
        let mut patterns = vec![
            pat("1[3-9][0-9]{9}", false),
            pat("[0-9]{15}", false),
            pat("[0-9a-f]{16}", true),
        ];
        for p in &mut patterns {
            p.boundary = Boundary::Alnum;
        }
        let m = Matcher::build(&patterns).unwrap();
        let hay = b"x=861234567890123&p=13912345678a13912345678";
        let mut hits = Vec::new();
        assert!(m.for_each_free(hay, |p, s, e| hits.push((p, s, e))));
        // The 15-digit run from its start, the phone after '=', nothing after 'a' (an
        // alnum boundary), nothing inside the 15 digits.
        assert_eq!(hits, [(1, 2, 17), (0, 20, 31)]);
        assert!(m.keyed_full_match(2, b"9774d56d682e549c"));
        assert!(!m.keyed_full_match(2, b"9774d56d682e549c0"));
        assert!(!m.keyed_full_match(0, b"13912345678"));
        assert!(m.memory_bytes() > 0);
    }
}
