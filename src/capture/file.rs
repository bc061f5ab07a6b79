//! Capture files read through libpcap (`pcap` crate): classic pcap (micro- and
//! nanosecond) and pcapng, several files one after another.

use std::path::{Path, PathBuf};

use super::{Frame, Timestamp};

/// A problem with one capture file. The source reports it and moves on to the next file.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("cannot open capture {path}: {reason}")]
    Open { path: PathBuf, reason: String },
    #[error("capture {path} is damaged after {packets} packets: {reason}")]
    Damaged {
        path: PathBuf,
        packets: u64,
        reason: String,
    },
}

/// Reads frames from capture files in the order given.
pub struct FileSource {
    paths: Vec<PathBuf>,
    next_index: usize,
    current: Option<Current>,
    /// Approximate bytes of all files consumed so far (record headers plus captured data),
    /// for progress display.
    consumed_bytes: u64,
    total_bytes: u64,
    files_done: usize,
    /// Set when the current file ended; it is closed at the start of the next step.
    finish_current: bool,
}

struct Current {
    path: PathBuf,
    reader: Reader,
    packets: u64,
    /// libpcap gave up on a pcapng file it cannot represent; continue with the built-in
    /// reader after skipping the frames already delivered.
    switch_after: Option<u64>,
}

enum Reader {
    Libpcap {
        capture: pcap::Capture<pcap::Offline>,
        link_type: u32,
    },
    Pcapng(super::pcapng::PcapngReader),
}

/// libpcap reads pcapng only when all interfaces share one link type and snaplen; these
/// are the messages it gives otherwise.
fn libpcap_refuses_pcapng(reason: &str) -> bool {
    reason.contains("different from") || reason.contains("interface")
}

impl FileSource {
    pub fn new(paths: Vec<PathBuf>) -> Self {
        let total_bytes = paths
            .iter()
            .filter_map(|p| std::fs::metadata(p).ok())
            .map(|m| m.len())
            .sum();
        FileSource {
            paths,
            next_index: 0,
            current: None,
            consumed_bytes: 0,
            total_bytes,
            files_done: 0,
            finish_current: false,
        }
    }

    /// Sum of the sizes of all input files, in bytes.
    pub fn total_bytes(&self) -> u64 {
        self.total_bytes
    }

    /// Roughly how far the source has read, in bytes of the input files.
    pub fn consumed_bytes(&self) -> u64 {
        self.consumed_bytes
    }

    /// The file currently being read.
    pub fn current_path(&self) -> Option<&Path> {
        self.current.as_ref().map(|c| c.path.as_path())
    }

    /// Number of files fully read (or given up on).
    pub fn files_done(&self) -> usize {
        self.files_done
    }

    /// Reads one step. Call in a loop until [`Step::Finished`]:
    ///
    /// ```ignore
    /// loop {
    ///     match source.next_step() {
    ///         Step::Frame(frame) => handle(frame),
    ///         Step::FileError(err) => report(err),
    ///         Step::FileDone => {}
    ///         Step::Finished => break,
    ///     }
    /// }
    /// ```
    ///
    /// The step API (instead of an iterator that loops over files internally) exists
    /// because the frame borrows libpcap's buffer: a borrow returned from inside a loop
    /// that also reopens files is rejected by today's borrow checker.
    pub fn next_step(&mut self) -> Step<'_> {
        if self.finish_current {
            self.finish_current = false;
            self.current = None;
            self.files_done += 1;
        }
        if self.current.is_none() {
            let Some(path) = self.paths.get(self.next_index).cloned() else {
                return Step::Finished;
            };
            self.next_index += 1;
            match pcap::Capture::from_file_with_precision(&path, pcap::Precision::Micro) {
                Ok(capture) => {
                    let link_type = u32::try_from(capture.get_datalink().0).unwrap_or(u32::MAX);
                    let reader = Reader::Libpcap { capture, link_type };
                    self.current = Some(Current {
                        path,
                        reader,
                        packets: 0,
                        switch_after: None,
                    });
                }
                Err(err)
                    if super::pcapng::is_pcapng(&path)
                        && libpcap_refuses_pcapng(&err.to_string()) =>
                {
                    match super::pcapng::PcapngReader::open(&path) {
                        Ok(r) => {
                            self.current = Some(Current {
                                path,
                                reader: Reader::Pcapng(r),
                                packets: 0,
                                switch_after: None,
                            })
                        }
                        Err(e) => {
                            self.files_done += 1;
                            return Step::FileError(SourceError::Open {
                                path,
                                reason: e.to_string(),
                            });
                        }
                    }
                }
                Err(err) => {
                    self.files_done += 1;
                    return Step::FileError(SourceError::Open {
                        path,
                        reason: err.to_string(),
                    });
                }
            }
        }
        if let Some(current) = self.current.as_mut() {
            if let Some(skip) = current.switch_after.take() {
                match super::pcapng::PcapngReader::open(&current.path) {
                    Ok(mut r) => {
                        for _ in 0..skip {
                            if !matches!(r.next_frame(), Ok(Some(_))) {
                                break;
                            }
                        }
                        current.reader = Reader::Pcapng(r);
                    }
                    Err(e) => {
                        self.finish_current = true;
                        return Step::FileError(SourceError::Damaged {
                            path: current.path.clone(),
                            packets: current.packets,
                            reason: e.to_string(),
                        });
                    }
                }
            }
        }
        let Some(current) = self.current.as_mut() else {
            return Step::Finished;
        };
        let packets = current.packets;
        let path = &current.path;
        match &mut current.reader {
            Reader::Libpcap { capture, link_type } => match capture.next_packet() {
                Ok(packet) => {
                    current.packets += 1;
                    self.consumed_bytes += 16 + u64::from(packet.header.caplen);
                    let ts = Timestamp::from_micros(
                        i64::from(packet.header.ts.tv_sec)
                            .saturating_mul(1_000_000)
                            .saturating_add(i64::from(packet.header.ts.tv_usec)),
                    );
                    Step::Frame(Frame {
                        ts,
                        link_type: *link_type,
                        data: packet.data,
                        wire_len: packet.header.len,
                    })
                }
                Err(pcap::Error::NoMorePackets) => {
                    self.finish_current = true;
                    Step::FileDone
                }
                Err(err)
                    if libpcap_refuses_pcapng(&err.to_string())
                        && super::pcapng::is_pcapng(path) =>
                {
                    current.switch_after = Some(packets);
                    Step::Switched
                }
                Err(err) => {
                    self.finish_current = true;
                    Step::FileError(SourceError::Damaged {
                        path: path.clone(),
                        packets,
                        reason: err.to_string(),
                    })
                }
            },
            Reader::Pcapng(reader) => match reader.next_frame() {
                Ok(Some(frame)) => {
                    current.packets += 1;
                    self.consumed_bytes += 32 + frame.data.len() as u64;
                    Step::Frame(frame)
                }
                Ok(None) => {
                    self.finish_current = true;
                    Step::FileDone
                }
                Err(reason) => {
                    self.finish_current = true;
                    Step::FileError(SourceError::Damaged {
                        path: path.clone(),
                        packets,
                        reason,
                    })
                }
            },
        }
    }
}

/// One step of reading: see [`FileSource::next_step`].
pub enum Step<'a> {
    Frame(Frame<'a>),
    /// A file could not be opened or broke off; reading continues with the next file.
    FileError(SourceError),
    /// The current file ended normally.
    FileDone,
    /// libpcap could not go on with a multi-interface pcapng file; the built-in reader
    /// takes over where it stopped. Nothing to do but call again.
    Switched,
    /// Every file is done.
    Finished,
}
