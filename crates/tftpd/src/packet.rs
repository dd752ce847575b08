//! TFTP packets: RFC 1350's five, plus RFC 2347's OACK.
//!
//! Kept free of sockets so the wire format is tested with byte vectors, and
//! so the transfer code never builds a packet by hand.

use std::fmt;

/// Read request.
pub(crate) const OP_RRQ: u16 = 1;
/// Write request.
pub(crate) const OP_WRQ: u16 = 2;
/// Data.
pub(crate) const OP_DATA: u16 = 3;
/// Acknowledgment.
pub(crate) const OP_ACK: u16 = 4;
/// Error.
pub(crate) const OP_ERROR: u16 = 5;
/// Option acknowledgment (RFC 2347).
pub(crate) const OP_OACK: u16 = 6;

/// The error codes of an ERROR packet (RFC 1350 section 5, RFC 2347).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorCode {
    /// 0: not defined, see the message.
    NotDefined,
    /// 1: file not found.
    FileNotFound,
    /// 2: access violation.
    AccessViolation,
    /// 3: disk full or allocation exceeded.
    DiskFull,
    /// 4: illegal TFTP operation.
    IllegalOperation,
    /// 5: unknown transfer ID.
    UnknownTid,
    /// 6: file already exists.
    FileExists,
    /// 7: no such user.
    NoSuchUser,
    /// 8: option negotiation refused (RFC 2347).
    OptionRefused,
    /// Any other value.
    Other(u16),
}

impl ErrorCode {
    /// The number on the wire.
    pub fn code(self) -> u16 {
        match self {
            ErrorCode::NotDefined => 0,
            ErrorCode::FileNotFound => 1,
            ErrorCode::AccessViolation => 2,
            ErrorCode::DiskFull => 3,
            ErrorCode::IllegalOperation => 4,
            ErrorCode::UnknownTid => 5,
            ErrorCode::FileExists => 6,
            ErrorCode::NoSuchUser => 7,
            ErrorCode::OptionRefused => 8,
            ErrorCode::Other(n) => n,
        }
    }

    /// The code for a number on the wire.
    pub fn from_code(code: u16) -> Self {
        match code {
            0 => ErrorCode::NotDefined,
            1 => ErrorCode::FileNotFound,
            2 => ErrorCode::AccessViolation,
            3 => ErrorCode::DiskFull,
            4 => ErrorCode::IllegalOperation,
            5 => ErrorCode::UnknownTid,
            6 => ErrorCode::FileExists,
            7 => ErrorCode::NoSuchUser,
            8 => ErrorCode::OptionRefused,
            n => ErrorCode::Other(n),
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.code())
    }
}

/// A read or write request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Request {
    /// The file name, as sent (not UTF-8 necessarily).
    pub filename: Vec<u8>,
    /// The transfer mode, lower-cased.
    pub mode: String,
    /// The RFC 2347 options in request order: names lower-cased, values as sent.
    pub options: Vec<(String, String)>,
}

/// One parsed packet; DATA borrows its payload from the datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Packet<'a> {
    /// RRQ.
    Read(Request),
    /// WRQ.
    Write(Request),
    /// DATA with its block number.
    Data { block: u16, data: &'a [u8] },
    /// ACK of a block number.
    Ack(u16),
    /// ERROR with its code and message.
    Error { code: ErrorCode, message: String },
    /// OACK with its options.
    Oack(Vec<(String, String)>),
}

/// Why a datagram is not a TFTP packet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PacketError {
    /// Shorter than the fixed fields of its opcode.
    #[error("packet: truncated ({len} bytes)")]
    Truncated {
        /// The datagram length.
        len: usize,
    },
    /// The opcode is none of RRQ, WRQ, DATA, ACK, ERROR, OACK.
    #[error("packet: unknown opcode {0}")]
    UnknownOpcode(u16),
    /// A string field is missing its terminating NUL.
    #[error("packet: {0} is not NUL-terminated")]
    Unterminated(&'static str),
    /// An option name has no value.
    #[error("packet: option {0:?} has no value")]
    OptionWithoutValue(String),
}

/// Parses one datagram.
pub(crate) fn parse(buf: &[u8]) -> Result<Packet<'_>, PacketError> {
    let truncated = PacketError::Truncated { len: buf.len() };
    let (op, rest) = match buf {
        [a, b, rest @ ..] => (u16::from_be_bytes([*a, *b]), rest),
        _ => return Err(truncated),
    };
    match op {
        OP_RRQ | OP_WRQ => {
            let req = parse_request(rest)?;
            Ok(if op == OP_RRQ {
                Packet::Read(req)
            } else {
                Packet::Write(req)
            })
        }
        OP_DATA => match rest {
            [a, b, data @ ..] => Ok(Packet::Data {
                block: u16::from_be_bytes([*a, *b]),
                data,
            }),
            _ => Err(truncated),
        },
        // Some clients pad ACKs; only the block number counts.
        OP_ACK => match rest {
            [a, b, ..] => Ok(Packet::Ack(u16::from_be_bytes([*a, *b]))),
            _ => Err(truncated),
        },
        OP_ERROR => match rest {
            [a, b, msg @ ..] => {
                // A missing NUL is tolerated: the message is only logged.
                let end = msg.iter().position(|&c| c == 0).unwrap_or(msg.len());
                Ok(Packet::Error {
                    code: ErrorCode::from_code(u16::from_be_bytes([*a, *b])),
                    message: String::from_utf8_lossy(&msg[..end]).into_owned(),
                })
            }
            _ => Err(truncated),
        },
        OP_OACK => Ok(Packet::Oack(parse_options(rest)?)),
        other => Err(PacketError::UnknownOpcode(other)),
    }
}

/// Splits `s` at its first NUL: (field, rest).
fn cstr<'a>(s: &'a [u8], what: &'static str) -> Result<(&'a [u8], &'a [u8]), PacketError> {
    let end = s
        .iter()
        .position(|&c| c == 0)
        .ok_or(PacketError::Unterminated(what))?;
    Ok((&s[..end], &s[end + 1..]))
}

fn parse_request(rest: &[u8]) -> Result<Request, PacketError> {
    let (filename, rest) = cstr(rest, "file name")?;
    let (mode, rest) = cstr(rest, "mode")?;
    Ok(Request {
        filename: filename.to_vec(),
        mode: String::from_utf8_lossy(mode).to_ascii_lowercase(),
        options: parse_options(rest)?,
    })
}

/// `name NUL value NUL ...`; trailing NUL padding, which some clients
/// send, is ignored.
fn parse_options(mut rest: &[u8]) -> Result<Vec<(String, String)>, PacketError> {
    let mut options = Vec::new();
    while !rest.is_empty() && rest.iter().any(|&c| c != 0) {
        let (name, after) = cstr(rest, "option name")?;
        let name = String::from_utf8_lossy(name).to_ascii_lowercase();
        if after.is_empty() {
            return Err(PacketError::OptionWithoutValue(name));
        }
        let (value, after) = cstr(after, "option value")?;
        options.push((name, String::from_utf8_lossy(value).into_owned()));
        rest = after;
    }
    Ok(options)
}

/// Appends the 4-byte DATA header for `block`; the payload follows.
pub(crate) fn data_header(block: u16) -> [u8; 4] {
    let [a, b] = OP_DATA.to_be_bytes();
    let [c, d] = block.to_be_bytes();
    [a, b, c, d]
}

/// An ERROR packet.
pub(crate) fn error(code: ErrorCode, message: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(5 + message.len());
    out.extend_from_slice(&OP_ERROR.to_be_bytes());
    out.extend_from_slice(&code.code().to_be_bytes());
    out.extend(message.bytes().filter(|&c| c != 0));
    out.push(0);
    out
}

/// An OACK packet.
pub(crate) fn oack(options: &[(String, String)]) -> Vec<u8> {
    let mut out = OP_OACK.to_be_bytes().to_vec();
    for (name, value) in options {
        out.extend_from_slice(name.as_bytes());
        out.push(0);
        out.extend_from_slice(value.as_bytes());
        out.push(0);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rrq_with_options() {
        let buf = b"\x00\x01\
            uImage\x00\
            OCTET\x00\
            blksize\x001468\x00\
            TSize\x000\x00";
        assert_eq!(
            parse(buf),
            Ok(Packet::Read(Request {
                filename: b"uImage".to_vec(),
                mode: "octet".into(),
                options: vec![
                    ("blksize".into(), "1468".into()),
                    ("tsize".into(), "0".into())
                ],
            }))
        );
    }

    #[test]
    fn wrq_without_options_and_padding() {
        // opcode 2, "x", "netascii", then two padding NULs.
        let buf = b"\x00\x02x\x00netascii\x00\x00\x00";
        assert_eq!(
            parse(buf),
            Ok(Packet::Write(Request {
                filename: b"x".to_vec(),
                mode: "netascii".into(),
                options: vec![],
            }))
        );
    }

    #[test]
    fn malformed_requests() {
        assert_eq!(parse(b"\x00"), Err(PacketError::Truncated { len: 1 }));
        assert_eq!(
            parse(b"\x00\x01name"),
            Err(PacketError::Unterminated("file name"))
        );
        assert_eq!(
            parse(b"\x00\x01name\x00octet"),
            Err(PacketError::Unterminated("mode"))
        );
        assert_eq!(
            parse(b"\x00\x01name\x00octet\x00blksize\x00"),
            Err(PacketError::OptionWithoutValue("blksize".into()))
        );
        assert_eq!(parse(b"\x00\x09"), Err(PacketError::UnknownOpcode(9)));
    }

    #[test]
    fn data_ack_error() {
        // DATA, block 0x0102, payload "hi".
        assert_eq!(
            parse(b"\x00\x03\x01\x02hi"),
            Ok(Packet::Data {
                block: 0x0102,
                data: b"hi"
            })
        );
        // ACK of block 0xffff.
        assert_eq!(parse(b"\x00\x04\xff\xff"), Ok(Packet::Ack(0xffff)));
        assert_eq!(
            parse(b"\x00\x04\x01"),
            Err(PacketError::Truncated { len: 3 })
        );
        // ERROR 8, "no".
        assert_eq!(
            parse(b"\x00\x05\x00\x08no\x00"),
            Ok(Packet::Error {
                code: ErrorCode::OptionRefused,
                message: "no".into()
            })
        );
    }

    #[test]
    fn emit_round_trips() {
        let e = error(ErrorCode::AccessViolation, "read-only");
        assert_eq!(e, b"\x00\x05\x00\x02read-only\x00");
        assert_eq!(
            parse(&e),
            Ok(Packet::Error {
                code: ErrorCode::AccessViolation,
                message: "read-only".into()
            })
        );
        let opts = vec![("blksize".to_string(), "1468".to_string())];
        let o = oack(&opts);
        assert_eq!(o, b"\x00\x06blksize\x001468\x00");
        assert_eq!(parse(&o), Ok(Packet::Oack(opts)));
        assert_eq!(data_header(0x1234), [0, 3, 0x12, 0x34]);
    }

    #[test]
    fn error_codes_round_trip() {
        for n in 0..=10u16 {
            assert_eq!(ErrorCode::from_code(n).code(), n);
        }
    }
}
