//! TSIG (RFC 8945): verifying a signed request and signing responses,
//! including the chained MACs of a multi-message zone transfer (§5.3.1).
//! HMAC with `ring` (already built for rustls): SHA-256, SHA-384, SHA-512.
//!
//! Only zone transfers and NOTIFY use TSIG here, never the query hot path,
//! so this module allocates freely.

use ring::hmac;

/// Unix seconds now: TSIG's Time Signed is wall-clock time (RFC 8945
/// §5.2.3), so every signer and verifier reads it here.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A random message ID for a query or NOTIFY we send (RFC 5452 §4.3: an
/// ID an off-path sender cannot guess).
pub fn message_id() -> u16 {
    use ring::rand::SecureRandom;
    let mut b = [0u8; 2];
    // The system's random source does not fail on Linux; a zero ID then is
    // still a valid ID.
    let _ = ring::rand::SystemRandom::new().fill(&mut b);
    u16::from_be_bytes(b)
}

/// RFC 8945 §6: the algorithms we sign with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    HmacSha256,
    HmacSha384,
    HmacSha512,
}

impl Algorithm {
    /// The algorithm's name in wire form (RFC 8945 §6 table).
    pub fn wire_name(self) -> &'static [u8] {
        match self {
            Algorithm::HmacSha256 => b"\x0bhmac-sha256\x00",
            Algorithm::HmacSha384 => b"\x0bhmac-sha384\x00",
            Algorithm::HmacSha512 => b"\x0bhmac-sha512\x00",
        }
    }

    /// From a lower-cased wire name.
    pub fn from_wire(name: &[u8]) -> Option<Algorithm> {
        [Algorithm::HmacSha256, Algorithm::HmacSha384, Algorithm::HmacSha512]
            .into_iter()
            .find(|a| a.wire_name() == name)
    }

    /// From its text name (`hmac-sha256`, ...).
    pub fn from_text(name: &str) -> Option<Algorithm> {
        match name.trim_end_matches('.').to_ascii_lowercase().as_str() {
            "hmac-sha256" => Some(Algorithm::HmacSha256),
            "hmac-sha384" => Some(Algorithm::HmacSha384),
            "hmac-sha512" => Some(Algorithm::HmacSha512),
            _ => None,
        }
    }

    fn ring(self) -> hmac::Algorithm {
        match self {
            Algorithm::HmacSha256 => hmac::HMAC_SHA256,
            Algorithm::HmacSha384 => hmac::HMAC_SHA384,
            Algorithm::HmacSha512 => hmac::HMAC_SHA512,
        }
    }
}

/// A shared secret.
#[derive(Clone)]
pub struct Key {
    /// The key's name, lower-cased wire form.
    pub name: Vec<u8>,
    pub algorithm: Algorithm,
    secret: hmac::Key,
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Key")
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

impl Key {
    pub fn new(name_wire: &[u8], algorithm: Algorithm, secret: &[u8]) -> Key {
        Key {
            name: name_wire.to_ascii_lowercase(),
            algorithm,
            secret: hmac::Key::new(algorithm.ring(), secret),
        }
    }
}

/// RFC 8945 §5.3 error codes (in the TSIG RR's Error field).
pub mod error {
    pub const BADSIG: u16 = 16;
    pub const BADKEY: u16 = 17;
    pub const BADTIME: u16 = 18;
}

/// The TSIG record of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Offset of the record's owner name in the message.
    pub start: usize,
    /// Key name and algorithm name, lower-cased wire form.
    pub key_name: Vec<u8>,
    pub algorithm_name: Vec<u8>,
    pub time_signed: u64,
    pub fudge: u16,
    pub mac: Vec<u8>,
    pub original_id: u16,
    pub error: u16,
    pub other: Vec<u8>,
}

/// Why a signed message is not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The record does not parse.
    Malformed,
    /// No such key (or another algorithm): BADKEY.
    BadKey,
    /// The MAC is wrong: BADSIG.
    BadSig,
    /// Signed outside the fudge window: BADTIME.
    BadTime,
}

impl Failure {
    pub fn code(self) -> u16 {
        match self {
            Failure::Malformed | Failure::BadSig => error::BADSIG,
            Failure::BadKey => error::BADKEY,
            Failure::BadTime => error::BADTIME,
        }
    }
}

/// A name of the TSIG record, lower-cased: the MAC covers it in canonical
/// form (RFC 8945 §4.3.3). A sender may compress the owner (RFC 1035
/// §4.1.4 allows it for any owner name; dnspython and ldns do).
fn read_name(m: &[u8], at: usize) -> Option<(Vec<u8>, usize)> {
    let (mut name, end) = crate::wire::read_name(m, at)?;
    name.make_ascii_lowercase();
    Some((name, end))
}

fn u16_at(m: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*m.get(at)?, *m.get(at + 1)?]))
}

/// Parses the TSIG record starting at `start` (the last record of `m`).
pub fn parse(m: &[u8], start: usize) -> Option<Record> {
    let (key_name, at) = read_name(m, start)?;
    if u16_at(m, at)? != 250 || u16_at(m, at + 2)? != 255 {
        return None;
    }
    let rdlen = u16_at(m, at + 8)? as usize;
    let rd = at + 10;
    if rd + rdlen != m.len() {
        return None;
    }
    let (algorithm_name, mut p) = read_name(m, rd)?;
    let t = m.get(p..p + 6)?;
    let time_signed = t.iter().fold(0u64, |acc, b| acc << 8 | u64::from(*b));
    let fudge = u16_at(m, p + 6)?;
    let mac_len = u16_at(m, p + 8)? as usize;
    p += 10;
    let mac = m.get(p..p + mac_len)?.to_vec();
    p += mac_len;
    let original_id = u16_at(m, p)?;
    let error = u16_at(m, p + 2)?;
    let other_len = u16_at(m, p + 4)? as usize;
    let other = m.get(p + 6..p + 6 + other_len)?.to_vec();
    if p + 6 + other_len != m.len() {
        return None;
    }
    Some(Record {
        start,
        key_name,
        algorithm_name,
        time_signed,
        fudge,
        mac,
        original_id,
        error,
        other,
    })
}

/// The TSIG variables (§4.3.3): key name, class, TTL, algorithm, time,
/// fudge, error, other data.
fn variables(key: &Key, time: u64, fudge: u16, error: u16, other: &[u8]) -> Vec<u8> {
    let mut v = key.name.clone();
    v.extend_from_slice(&255u16.to_be_bytes());
    v.extend_from_slice(&0u32.to_be_bytes());
    v.extend_from_slice(key.algorithm.wire_name());
    v.extend_from_slice(&time.to_be_bytes()[2..]);
    v.extend_from_slice(&fudge.to_be_bytes());
    v.extend_from_slice(&error.to_be_bytes());
    v.extend_from_slice(&(other.len() as u16).to_be_bytes());
    v.extend_from_slice(other);
    v
}

/// The message as it was before its TSIG record was added: cut at the
/// record, ARCOUNT one less, the original ID back.
fn unsigned(m: &[u8], r: &Record) -> Vec<u8> {
    let mut u = m[..r.start].to_vec();
    let ar = u16::from_be_bytes([u[10], u[11]]).saturating_sub(1);
    u[10..12].copy_from_slice(&ar.to_be_bytes());
    u[0..2].copy_from_slice(&r.original_id.to_be_bytes());
    u
}

/// The key a TSIG record names: its name and algorithm both.
fn key_of<'k>(keys: &'k [Key], r: &Record) -> Option<&'k Key> {
    keys.iter()
        .find(|k| k.name == r.key_name && k.algorithm.wire_name() == r.algorithm_name.as_slice())
}

/// Verifies a signed request (§5.2): the key, the MAC, then the time
/// (`now` in unix seconds). Returns the key and the request's MAC, which
/// the response's MAC covers.
pub fn verify_request<'k>(m: &[u8], r: &Record, keys: &'k [Key], now: u64) -> Result<&'k Key, Failure> {
    let key = key_of(keys, r).ok_or(Failure::BadKey)?;
    let mut data = unsigned(m, r);
    data.extend_from_slice(&variables(key, r.time_signed, r.fudge, r.error, &r.other));
    // §5.2.2.1: a truncated MAC is not accepted below half the output or 10
    // octets; we take the full MAC only.
    hmac::verify(&key.secret, &data, &r.mac).map_err(|_| Failure::BadSig)?;
    if now.abs_diff(r.time_signed) > u64::from(r.fudge) {
        return Err(Failure::BadTime);
    }
    Ok(key)
}

/// Signs `m` (a complete message without TSIG) by appending a TSIG record,
/// and returns the MAC for the next message of the stream.
///
/// - `prior`: the request's MAC for the first message of a response, or
///   the previous message's MAC for the next ones (§5.3.1); `None` for a
///   request (a NOTIFY we send).
/// - `timers_only`: later messages of a stream digest only the time and
///   fudge, not the full variables.
pub fn sign(m: &mut Vec<u8>, key: &Key, prior: Option<&[u8]>, timers_only: bool, time: u64, error: u16) -> Vec<u8> {
    sign_with_other(m, key, prior, timers_only, time, error, &[])
}

fn sign_with_other(
    m: &mut Vec<u8>,
    key: &Key,
    prior: Option<&[u8]>,
    timers_only: bool,
    time: u64,
    error: u16,
    other: &[u8],
) -> Vec<u8> {
    let fudge = 300u16;
    let mut data = Vec::with_capacity(m.len() + 128);
    if let Some(p) = prior {
        data.extend_from_slice(&(p.len() as u16).to_be_bytes());
        data.extend_from_slice(p);
    }
    data.extend_from_slice(m);
    if timers_only {
        data.extend_from_slice(&time.to_be_bytes()[2..]);
        data.extend_from_slice(&fudge.to_be_bytes());
    } else {
        data.extend_from_slice(&variables(key, time, fudge, error, other));
    }
    let mac = hmac::sign(&key.secret, &data).as_ref().to_vec();
    let original_id = u16::from_be_bytes([m[0], m[1]]);
    m.extend_from_slice(&key.name);
    rr_tail(
        m,
        key.algorithm.wire_name(),
        time,
        fudge,
        &mac,
        original_id,
        error,
        other,
    );
    mac
}

/// Turns `m` (a NOTAUTH reply's header and question) into the answer to a
/// request whose TSIG `r` failed as `failure` (RFC 8945 §5.3.2):
/// - BADKEY and BADSIG: an unsigned TSIG record with the error (the MAC
///   cannot be trusted, so nothing is signed with it).
/// - BADTIME: signed with the key, covering the request's MAC (which
///   verified); Time Signed is the request's and Other Data our time, six
///   octets, so the client learns its clock's offset (§5.2.3).
pub fn append_failure(m: &mut Vec<u8>, r: &Record, keys: &[Key], failure: Failure, now: u64) {
    match (failure, key_of(keys, r)) {
        (Failure::BadTime, Some(key)) => {
            let other = &now.to_be_bytes()[2..];
            sign_with_other(m, key, Some(&r.mac), false, r.time_signed, error::BADTIME, other);
        }
        _ => {
            let original_id = u16::from_be_bytes([m[0], m[1]]);
            m.extend_from_slice(&r.key_name);
            rr_tail(m, &r.algorithm_name, now, 300, &[], original_id, failure.code(), &[]);
        }
    }
}

#[allow(clippy::too_many_arguments)] // the TSIG RDATA's fields, in order (§4.2)
fn rr_tail(m: &mut Vec<u8>, alg: &[u8], time: u64, fudge: u16, mac: &[u8], original_id: u16, error: u16, other: &[u8]) {
    m.extend_from_slice(&250u16.to_be_bytes());
    m.extend_from_slice(&255u16.to_be_bytes());
    m.extend_from_slice(&0u32.to_be_bytes());
    let rdlen = alg.len() + 6 + 2 + 2 + mac.len() + 2 + 2 + 2 + other.len();
    m.extend_from_slice(&(rdlen as u16).to_be_bytes());
    m.extend_from_slice(alg);
    m.extend_from_slice(&time.to_be_bytes()[2..]);
    m.extend_from_slice(&fudge.to_be_bytes());
    m.extend_from_slice(&(mac.len() as u16).to_be_bytes());
    m.extend_from_slice(mac);
    m.extend_from_slice(&original_id.to_be_bytes());
    m.extend_from_slice(&error.to_be_bytes());
    m.extend_from_slice(&(other.len() as u16).to_be_bytes());
    m.extend_from_slice(other);
    let ar = u16::from_be_bytes([m[10], m[11]]) + 1;
    m[10..12].copy_from_slice(&ar.to_be_bytes());
}

/// Verifies one message of a signed response stream (what a secondary
/// does with our NOTIFY answer or a primary's transfer): `prior` is the
/// request's MAC for the first, the previous message's for the others.
pub fn verify_response(m: &[u8], r: &Record, key: &Key, prior: &[u8], timers_only: bool) -> Result<(), Failure> {
    let mut data = Vec::with_capacity(m.len() + 128);
    data.extend_from_slice(&(prior.len() as u16).to_be_bytes());
    data.extend_from_slice(prior);
    data.extend_from_slice(&unsigned(m, r));
    if timers_only {
        data.extend_from_slice(&r.time_signed.to_be_bytes()[2..]);
        data.extend_from_slice(&r.fudge.to_be_bytes());
    } else {
        data.extend_from_slice(&variables(key, r.time_signed, r.fudge, r.error, &r.other));
    }
    hmac::verify(&key.secret, &data, &r.mac).map_err(|_| Failure::BadSig)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> Key {
        Key::new(
            b"\x03xfr\x07example\x00",
            Algorithm::HmacSha256,
            b"0123456789abcdef0123456789abcdef",
        )
    }

    /// A query for example. AXFR.
    fn query() -> Vec<u8> {
        let mut m = vec![0xab, 0xcd, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        m.extend_from_slice(b"\x07example\x00\x00\xfc\x00\x01");
        m
    }

    #[test]
    fn a_request_whose_tsig_owner_is_compressed_verifies() {
        // dnspython and ldns compress the TSIG owner name against the
        // question (RFC 1035 §4.1.4 allows it for any owner); the MAC is
        // over the canonical name, so the request verifies as if it were
        // written whole (issue 17).
        let k = key();
        let mut q = query();
        let start = q.len();
        sign(&mut q, &k, None, false, 1_000_000, 0);
        let whole = b"\x03xfr\x07example\x00";
        assert_eq!(&q[start..start + whole.len()], whole);
        let mut compressed = q[..start].to_vec();
        compressed.extend_from_slice(b"\x03xfr\xc0\x0c");
        compressed.extend_from_slice(&q[start + whole.len()..]);
        let r = parse(&compressed, start).unwrap();
        assert_eq!(r.key_name, whole.to_vec());
        assert!(verify_request(&compressed, &r, &[k], 1_000_100).is_ok());
    }

    #[test]
    fn a_signed_request_verifies_and_its_response_chain_too() {
        let k = key();
        let mut q = query();
        let start = q.len();
        let qmac = sign(&mut q, &k, None, false, 1_000_000, 0);
        let r = parse(&q, start).unwrap();
        assert_eq!(r.mac, qmac);
        assert_eq!(r.original_id, 0xabcd);
        let keys = [k.clone()];
        assert!(verify_request(&q, &r, &keys, 1_000_100).is_ok());
        // The answer and a second message of the stream.
        let mut a1 = q[..start].to_vec();
        a1[2] |= 0x80;
        let mut a2 = a1.clone();
        let a1_start = a1.len();
        let m1 = sign(&mut a1, &k, Some(&qmac), false, 1_000_001, 0);
        let a2_start = a2.len();
        sign(&mut a2, &k, Some(&m1), true, 1_000_002, 0);
        let r1 = parse(&a1, a1_start).unwrap();
        let r2 = parse(&a2, a2_start).unwrap();
        assert!(verify_response(&a1, &r1, &k, &qmac, false).is_ok());
        assert!(verify_response(&a2, &r2, &k, &m1, true).is_ok());
        assert_eq!(
            verify_response(&a2, &r2, &k, &qmac, true),
            Err(Failure::BadSig),
            "chained"
        );
    }

    #[test]
    fn badtime_is_signed_with_the_requests_time_and_ours_in_other_data() {
        let k = key();
        let mut q = query();
        let start = q.len();
        let qmac = sign(&mut q, &k, None, false, 1_000_000, 0);
        let r = parse(&q, start).unwrap();
        let keys = [k.clone()];
        let now = 1_000_000 + 3600;
        let failure = verify_request(&q, &r, &keys, now).unwrap_err();
        assert_eq!(failure, Failure::BadTime);
        let mut reply = q[..start].to_vec();
        reply[2] |= 0x80;
        let at = reply.len();
        append_failure(&mut reply, &r, &keys, failure, now);
        let t = parse(&reply, at).unwrap();
        assert_eq!((t.error, t.time_signed), (error::BADTIME, 1_000_000), "RFC 8945 §5.2.3");
        assert_eq!(t.other, now.to_be_bytes()[2..].to_vec(), "our time, 48 bits");
        assert!(
            verify_response(&reply, &t, &k, &qmac, false).is_ok(),
            "signed over the request's MAC"
        );
        // BADSIG and BADKEY: unsigned (§5.3.2).
        for f in [Failure::BadSig, Failure::BadKey] {
            let mut reply = q[..start].to_vec();
            append_failure(&mut reply, &r, &keys, f, now);
            let t = parse(&reply, start).unwrap();
            assert_eq!((t.error, t.mac.len(), t.other.len()), (f.code(), 0, 0));
        }
    }

    #[test]
    fn wrong_keys_tampering_and_late_requests_are_refused() {
        let k = key();
        let mut q = query();
        let start = q.len();
        sign(&mut q, &k, None, false, 1_000_000, 0);
        let r = parse(&q, start).unwrap();
        let other = Key::new(
            b"\x03xfr\x07example\x00",
            Algorithm::HmacSha256,
            b"another secret of the same name!",
        );
        assert_eq!(
            verify_request(&q, &r, &[other], 1_000_000).unwrap_err(),
            Failure::BadSig
        );
        let unknown = Key::new(b"\x05other\x00", Algorithm::HmacSha256, b"x");
        assert_eq!(
            verify_request(&q, &r, &[unknown], 1_000_000).unwrap_err(),
            Failure::BadKey
        );
        let sha512 = Key::new(
            b"\x03xfr\x07example\x00",
            Algorithm::HmacSha512,
            b"0123456789abcdef0123456789abcdef",
        );
        assert_eq!(
            verify_request(&q, &r, &[sha512], 1_000_000).unwrap_err(),
            Failure::BadKey
        );
        assert_eq!(
            verify_request(&q, &r, std::slice::from_ref(&k), 1_000_301).unwrap_err(),
            Failure::BadTime
        );
        let mut tampered = q.clone();
        tampered[14] ^= 0x20; // a letter of the question's name
        let r2 = parse(&tampered, start).unwrap();
        assert_eq!(
            verify_request(&tampered, &r2, &[k], 1_000_000).unwrap_err(),
            Failure::BadSig
        );
        assert!(parse(&q[..q.len() - 1], start).is_none(), "truncated");
    }

    #[test]
    fn algorithms_by_name() {
        assert_eq!(Algorithm::from_text("HMAC-SHA384."), Some(Algorithm::HmacSha384));
        assert_eq!(
            Algorithm::from_wire(b"\x0bhmac-sha512\x00"),
            Some(Algorithm::HmacSha512)
        );
        assert_eq!(Algorithm::from_text("hmac-md5"), None);
    }
}
