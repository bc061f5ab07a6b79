//! Writes a synthetic capture of mixed lab traffic (HTTP/1.1 with JSON/form bodies, some
//! chunked+gzip, DNS, TLS handshakes with opaque records, UDP noise) of about the given
//! size, for benchmarks and the bounded-memory check. Deterministic for a seed.
//!
//! Run: `cargo run --release --example gen_capture -- SIZE_MB OUT.pcap [SEED]`

use std::path::PathBuf;

use leaktap::synth::traffic::MixedTraffic;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let size_mb: u64 = args
        .next()
        .ok_or("usage: gen_capture SIZE_MB OUT.pcap [SEED]")?
        .parse()?;
    let out = PathBuf::from(
        args.next()
            .ok_or("usage: gen_capture SIZE_MB OUT.pcap [SEED]")?,
    );
    let seed: u64 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(5);
    let stats = MixedTraffic::new(seed, size_mb << 20).write_to_path(&out)?;
    println!(
        "wrote {}: {} packets, {} bytes",
        out.display(),
        stats.packets,
        stats.bytes
    );
    Ok(())
}
