//! Community ID v1 (corelight community-id-spec): a flow hash that Zeek, Suricata and
//! Arkime compute the same way, so investigators can pivot between tools.

use std::net::IpAddr;

use base64::Engine as _;
use sha1::{Digest, Sha1};

use super::Proto;

/// `1:` + base64(SHA-1(seed ‖ saddr ‖ daddr ‖ proto ‖ 0 ‖ sport ‖ dport)) with the
/// endpoints ordered so that both directions give the same value (spec §"Ordering":
/// the smaller address first, ports breaking ties). Seed 0 is the tools' default.
pub fn community_id_v1(
    src: IpAddr,
    src_port: u16,
    dst: IpAddr,
    dst_port: u16,
    proto: Proto,
    seed: u16,
) -> String {
    let swap = match (src, dst) {
        (IpAddr::V4(a), IpAddr::V4(b)) => (a.octets(), src_port) > (b.octets(), dst_port),
        (IpAddr::V6(a), IpAddr::V6(b)) => (a.octets(), src_port) > (b.octets(), dst_port),
        // Mixed families cannot form one flow; keep the given order.
        _ => false,
    };
    let (a, ap, b, bp) = if swap {
        (dst, dst_port, src, src_port)
    } else {
        (src, src_port, dst, dst_port)
    };
    let mut hasher = Sha1::new();
    hasher.update(seed.to_be_bytes());
    for addr in [a, b] {
        match addr {
            IpAddr::V4(v4) => hasher.update(v4.octets()),
            IpAddr::V6(v6) => hasher.update(v6.octets()),
        }
    }
    hasher.update([proto.0, 0]);
    // The spec hashes ports only for port-based transports (TCP, UDP, SCTP).
    if matches!(proto, Proto::TCP | Proto::UDP) || proto.0 == 132 {
        hasher.update(ap.to_be_bytes());
        hasher.update(bp.to_be_bytes());
    }
    let digest = hasher.finalize();
    let mut out = String::with_capacity(30);
    out.push_str("1:");
    base64::engine::general_purpose::STANDARD.encode_string(digest, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_spec_example_in_both_directions() {
        // Example from the Community ID specification's README: TCP
        // 128.232.110.120:34855 -> 66.35.250.204:80.
        let a: IpAddr = "128.232.110.120".parse().unwrap();
        let b: IpAddr = "66.35.250.204".parse().unwrap();
        let fwd = community_id_v1(a, 34855, b, 80, Proto::TCP, 0);
        let rev = community_id_v1(b, 80, a, 34855, Proto::TCP, 0);
        assert_eq!(fwd, "1:LQU9qZlK+B5F3KDmev6m5PMibrg=");
        assert_eq!(fwd, rev);
    }
}
