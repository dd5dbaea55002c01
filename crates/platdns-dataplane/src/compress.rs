//! Name compression (RFC 1035 §4.1.4) for owner names, with a fixed table of
//! label offsets already in the message: no hashing, no allocation.
//!
//! Rdata is copied pre-encoded and uncompressed (RFC 3597 §4 makes
//! compression there optional), which keeps the hot path a `memcpy`.

const CAP: usize = 64;

#[derive(Clone)]
pub struct Compressor {
    offsets: [u16; CAP],
    n: usize,
}

impl Default for Compressor {
    fn default() -> Self {
        Compressor {
            offsets: [0; CAP],
            n: 0,
        }
    }
}

impl Compressor {
    /// Starts a new message whose header and question are `head`; every label
    /// of the QNAME becomes a compression target.
    pub fn reset(&mut self, head: &[u8]) {
        self.n = 0;
        let mut at = 12;
        while at < head.len() && head[at] != 0 && self.n < CAP {
            self.offsets[self.n] = at as u16;
            self.n += 1;
            at += head[at] as usize + 1;
        }
    }

    pub fn mark(&self) -> usize {
        self.n
    }

    pub fn rollback(&mut self, mark: usize) {
        self.n = mark;
    }

    /// Writes `name` (uncompressed wire) at `buf[at..]`, pointing at the
    /// longest suffix already in the message. Returns the bytes written, or
    /// `None` if `buf` has no room.
    pub fn write_name(&mut self, name: &[u8], buf: &mut [u8], at: usize) -> Option<usize> {
        // Find the first (longest) suffix of `name` present in the message.
        let mut suffix = 0;
        let mut target = None;
        while name[suffix] != 0 {
            if let Some(&off) = self.offsets[..self.n]
                .iter()
                .find(|&&off| crate::wire::name_eq(buf, off as usize, &name[suffix..]))
            {
                target = Some(off);
                break;
            }
            suffix += name[suffix] as usize + 1;
        }
        let literal = &name[..suffix];
        let total = literal.len() + if target.is_some() { 2 } else { 1 };
        if at + total > buf.len() {
            return None;
        }
        buf[at..at + literal.len()].copy_from_slice(literal);
        // Register the labels just written, while offsets fit in a pointer.
        let mut l = 0;
        while l < literal.len() && self.n < CAP && at + l < 0x3fff {
            self.offsets[self.n] = (at + l) as u16;
            self.n += 1;
            l += literal[l] as usize + 1;
        }
        let end = at + literal.len();
        match target {
            Some(off) => buf[end..end + 2].copy_from_slice(&(0xC000 | off).to_be_bytes()),
            None => buf[end] = 0,
        }
        Some(total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_at_longest_known_suffix() {
        let mut buf = vec![0u8; 12];
        buf.extend_from_slice(b"\x03WWW\x07example\x03com\x00\x00\x01\x00\x01");
        let head_len = buf.len();
        buf.resize(100, 0);
        let mut c = Compressor::default();
        c.reset(&buf[..head_len]);
        let n = c
            .write_name(b"\x04mail\x07example\x03com\x00", &mut buf, head_len)
            .unwrap();
        assert_eq!(&buf[head_len..head_len + n], b"\x04mail\xc0\x10");
        // Now "mail.example.com" itself is a target.
        let n2 = c
            .write_name(b"\x04MAIL\x07example\x03com\x00", &mut buf, head_len + n)
            .unwrap();
        assert_eq!(&buf[head_len + n..head_len + n + n2], &[0xc0, head_len as u8]);
        let n3 = c.write_name(b"\x03org\x00", &mut buf, 60).unwrap();
        assert_eq!(&buf[60..60 + n3], b"\x03org\x00");
    }

    #[test]
    fn reports_no_room() {
        let mut buf = [0u8; 16];
        let mut c = Compressor::default();
        assert_eq!(c.write_name(b"\x07example\x00", &mut buf, 12), None);
    }
}
