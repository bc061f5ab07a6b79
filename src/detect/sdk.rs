//! Host → SDK attribution.
//!
//! Owns the index built from the SDK entries of a signature set: a hash map from domain
//! suffix to SDK, and one multi-pattern regex over the optional `host_patterns`. Takes a
//! host name as seen in HTTP Host, TLS/QUIC SNI or DNS; emits the index of the SDK it
//! belongs to. The longest matching suffix wins (`push.umeng.com` before `umeng.com`),
//! then the first matching host pattern in load order.
//!
//! Must not allocate per lookup (the host is lower-cased into a stack buffer) or use a
//! backtracking engine on host names (the regex runs without the bounded backtracker).

use std::collections::HashMap;

use regex_automata::meta;
use regex_automata::Input;

use super::signature::Sdk;

/// Longest host name looked up (RFC 1035 §2.3.4: 255 octets on the wire, 253 as text).
pub const MAX_HOST_BYTES: usize = 253;

/// The SDK host index.
#[derive(Debug, Default)]
pub struct SdkIndex {
    by_domain: HashMap<String, usize>,
    patterns: Option<meta::Regex>,
    /// Regex pattern id → SDK index.
    pattern_sdk: Vec<usize>,
}

impl SdkIndex {
    /// Builds the index; `Err` if the host patterns cannot be compiled together.
    pub fn build(sdks: &[Sdk]) -> Result<SdkIndex, String> {
        let mut index = SdkIndex::default();
        let mut patterns = Vec::new();
        for (i, sdk) in sdks.iter().enumerate() {
            for d in &sdk.domains {
                index.by_domain.entry(d.clone()).or_insert(i);
            }
            for p in &sdk.host_patterns {
                patterns.push(p.as_str());
                index.pattern_sdk.push(i);
            }
        }
        if !patterns.is_empty() {
            let regex = meta::Builder::new()
                .configure(meta::Config::new().backtrack(false))
                .build_many(&patterns)
                .map_err(|e| e.to_string())?;
            index.patterns = Some(regex);
        }
        Ok(index)
    }

    /// The SDK index for `host` (case-insensitive; a trailing dot and a `:port` are
    /// ignored; IP literals match nothing unless a pattern says so).
    pub fn lookup(&self, host: &str) -> Option<usize> {
        let host = strip_port(host).trim_end_matches('.');
        if host.is_empty() || host.len() > MAX_HOST_BYTES {
            return None;
        }
        let mut buf = [0u8; MAX_HOST_BYTES];
        let lower = buf.get_mut(..host.len())?;
        lower.copy_from_slice(host.as_bytes());
        lower.make_ascii_lowercase();
        let lower = std::str::from_utf8(lower).ok()?;
        // Suffixes from the longest: the host itself, then after each dot.
        let mut rest = lower;
        loop {
            if let Some(&i) = self.by_domain.get(rest) {
                return Some(i);
            }
            match rest.split_once('.') {
                Some((_, tail)) if !tail.is_empty() => rest = tail,
                _ => break,
            }
        }
        let regex = self.patterns.as_ref()?;
        let m = regex.search(&Input::new(lower))?;
        self.pattern_sdk.get(m.pattern().as_usize()).copied()
    }
}

/// `host:port` → `host`; bracketed IPv6 literals lose their brackets and port; a bare IPv6
/// literal (several colons) is left alone.
fn strip_port(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match host.split_once(':') {
        Some((name, port)) if !port.contains(':') => name,
        _ => host,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sdk(id: &str, domains: &[&str], patterns: &[&str]) -> Sdk {
        Sdk {
            id: id.into(),
            name: id.into(),
            name_en: String::new(),
            vendor: "v".into(),
            category: "analytics".into(),
            domains: domains.iter().map(|d| d.to_string()).collect(),
            host_patterns: patterns.iter().map(|d| d.to_string()).collect(),
            sources: vec!["test".into()],
            notes: String::new(),
            file: "t".into(),
            line: 1,
        }
    }

    #[test]
    fn longest_suffix_then_patterns() {
        let sdks = [
            sdk("umeng", &["umeng.com"], &[]),
            sdk("umeng_push", &["push.umeng.com"], &[]),
            sdk(
                "gdt",
                &[],
                &[r"^mi\.gdt\.qq\.com$", r"^[a-z]+\.gdt\.qq\.com$"],
            ),
        ];
        let index = SdkIndex::build(&sdks).unwrap();
        assert_eq!(index.lookup("umeng.com"), Some(0));
        assert_eq!(index.lookup("Alog.UMENG.com."), Some(0));
        assert_eq!(index.lookup("msg.push.umeng.com"), Some(1));
        assert_eq!(index.lookup("push.umeng.com:8080"), Some(1));
        assert_eq!(index.lookup("notumeng.com"), None);
        assert_eq!(index.lookup("com"), None);
        assert_eq!(index.lookup("mi.gdt.qq.com"), Some(2));
        assert_eq!(index.lookup("v.gdt.qq.com"), Some(2));
        assert_eq!(index.lookup("qq.com"), None);
        assert_eq!(index.lookup("[2001:db8::1]:443"), None);
        assert_eq!(index.lookup(""), None);
        assert_eq!(index.lookup(&"a.".repeat(200)), None);
    }
}
