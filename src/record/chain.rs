//! The tamper-evident chain: `hash = SHA-256(prev_hash ‖ canonical JSON of the record
//! without hash)`, where `prev_hash` is the previous record's `hash` as 64 lower-case hex
//! characters (ASCII bytes) and canonical JSON is serde_json's compact output with object
//! keys sorted. The first record's `prev_hash` is [`GENESIS_HASH`].

use sha2::{Digest, Sha256};

use super::Record;

/// `prev_hash` of the first record of a chain.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Assigns `seq`, `prev_hash` and `hash` to records in the order they are sealed.
#[derive(Clone, Debug)]
pub struct Chain {
    next_seq: u64,
    prev_hash: String,
}

impl Default for Chain {
    fn default() -> Self {
        Chain::new()
    }
}

impl Chain {
    pub fn new() -> Chain {
        Chain {
            next_seq: 1,
            prev_hash: GENESIS_HASH.to_string(),
        }
    }

    /// Continues an existing chain after the record with `last_seq` and `last_hash`.
    pub fn resume(last_seq: u64, last_hash: String) -> Chain {
        Chain {
            next_seq: last_seq + 1,
            prev_hash: last_hash,
        }
    }

    /// Seals a record into the chain and returns its canonical JSON line (with `hash`).
    pub fn seal(&mut self, record: &mut Record) -> String {
        record.seq = self.next_seq;
        record.prev_hash.clone_from(&self.prev_hash);
        record.hash.clear();
        let mut value = match serde_json::to_value(&*record) {
            Ok(value) => value,
            // Records are plain data: serialisation to a Value has no failure mode left
            // (no maps with non-string keys, no non-finite floats are produced).
            Err(err) => serde_json::Value::String(format!("unserialisable record: {err}")),
        };
        let hash = hash_value(&self.prev_hash, &value);
        if let serde_json::Value::Object(map) = &mut value {
            map.insert("hash".into(), serde_json::Value::String(hash.clone()));
        }
        record.hash.clone_from(&hash);
        self.prev_hash = hash;
        self.next_seq += 1;
        value.to_string()
    }

    pub fn last_hash(&self) -> &str {
        &self.prev_hash
    }

    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }
}

/// The chain hash of a record given as a JSON value without its `hash` key.
pub fn hash_value(prev_hash: &str, value_without_hash: &serde_json::Value) -> String {
    let mut hasher = Sha256::new();
    hasher.update(prev_hash.as_bytes());
    hasher.update(value_without_hash.to_string().as_bytes());
    hex(&hasher.finalize())
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

/// Checks one JSON line against the chain: returns the record's hash when its `seq`,
/// `prev_hash` and `hash` are consistent with the previous record.
pub fn verify_line(prev_hash: &str, expected_seq: u64, line: &str) -> Result<String, &'static str> {
    let mut value: serde_json::Value = serde_json::from_str(line).map_err(|_| "not valid JSON")?;
    let map = value.as_object_mut().ok_or("not a JSON object")?;
    let hash = match map.remove("hash") {
        Some(serde_json::Value::String(h)) => h,
        _ => return Err("missing hash"),
    };
    if map.get("seq").and_then(|v| v.as_u64()) != Some(expected_seq) {
        return Err("seq out of order");
    }
    if map.get("prev_hash").and_then(|v| v.as_str()) != Some(prev_hash) {
        return Err("prev_hash does not match the previous record");
    }
    if hash_value(prev_hash, &value) != hash {
        return Err("hash does not match the record's content");
    }
    Ok(hash)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::Timestamp;
    use crate::record::{AppProto, Body, Common, DnsFields, FlowTuple};

    fn sample(query: &str) -> Record {
        let common = Common {
            session_id: None,
            device: None,
            app: None,
            flow_id: 7,
            community_id: "1:abc".into(),
            flow: FlowTuple {
                src_ip: "192.0.2.1".parse().unwrap(),
                src_port: 5353,
                dst_ip: "192.0.2.53".parse().unwrap(),
                dst_port: 53,
                proto: "udp",
            },
            app_proto: AppProto::Dns,
            host: None,
            sdk: None,
            third_party: false,
            consent_phase: "no_session",
        };
        let dns = DnsFields {
            kind: "query",
            query: query.into(),
            rrtype: "A".into(),
            ..DnsFields::default()
        };
        Record::new(Timestamp::from_secs(1), common, Body::Dns { dns })
    }

    #[test]
    fn chain_links_records_and_detects_a_changed_byte() {
        let mut chain = Chain::new();
        let lines: Vec<String> = ["a.example", "b.example", "c.example"]
            .iter()
            .map(|q| chain.seal(&mut sample(q)))
            .collect();
        let mut prev = GENESIS_HASH.to_string();
        for (i, line) in lines.iter().enumerate() {
            prev = verify_line(&prev, i as u64 + 1, line).expect("valid chain");
        }
        assert_eq!(prev, chain.last_hash());
        // Keys are sorted in the canonical form.
        assert!(lines[0].find("\"app\"").unwrap() < lines[0].find("\"ts\"").unwrap());
        let tampered = lines[1].replace("b.example", "x.example");
        let first = verify_line(GENESIS_HASH, 1, &lines[0]).unwrap();
        assert_eq!(
            verify_line(&first, 2, &tampered),
            Err("hash does not match the record's content")
        );
    }
}
