//! Signing keys: generation, the DNSKEY / DS / CDS / CDNSKEY data derived from
//! them, their serialised form, and sealing that form under an operator key.
//!
//! All cryptography is `ring`'s (already in the tree through rustls): it has
//! ECDSA P-256 with the fixed-width `r || s` signature DNSSEC uses (RFC 6605
//! §4), Ed25519 (RFC 8080 §4), SHA-1 (for NSEC3, RFC 5155 §5), SHA-256 (DS,
//! RFC 4509) and AES-256-GCM. No other crypto crate is needed.

use platdns_zone::Name;
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair};

/// DNSSEC algorithm numbers we sign with (IANA "DNS Security Algorithm Numbers").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// ECDSA P-256 with SHA-256 (RFC 6605): the default, RFC 8624 §3.1 "MUST".
    EcdsaP256Sha256,
    /// Ed25519 (RFC 8080): RFC 8624 §3.1 "RECOMMENDED".
    Ed25519,
}

impl Algorithm {
    pub fn number(self) -> u8 {
        match self {
            Algorithm::EcdsaP256Sha256 => 13,
            Algorithm::Ed25519 => 15,
        }
    }

    pub fn from_number(n: u8) -> Option<Algorithm> {
        match n {
            13 => Some(Algorithm::EcdsaP256Sha256),
            15 => Some(Algorithm::Ed25519),
            _ => None,
        }
    }
}

/// What a key signs. The DNSKEY flags say it (RFC 4034 §2.1.1: bit 7 Zone Key,
/// bit 15 Secure Entry Point): a KSK (257) signs the DNSKEY RRset and is what
/// the parent's DS names; a ZSK (256) signs everything else.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    Ksk,
    Zsk,
}

impl Role {
    pub fn flags(self) -> u16 {
        match self {
            Role::Ksk => 257,
            Role::Zsk => 256,
        }
    }
}

/// DNSKEY protocol field, always 3 (RFC 4034 §2.1.2).
pub const PROTOCOL: u8 = 3;
/// DS digest type SHA-256 (RFC 4509 §2), the one RFC 8624 §3.3 makes mandatory.
pub const DIGEST_SHA256: u8 = 2;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    #[error("key generation failed")]
    Generate,
    #[error("malformed key: {0}")]
    Malformed(&'static str),
    #[error("unsupported DNSSEC algorithm {0}")]
    Algorithm(u8),
    #[error("signing failed")]
    Sign,
    #[error("operator key must be 32 octets")]
    OperatorKey,
    #[error("sealed key does not open with this operator key (wrong key or damaged data)")]
    Open,
}

enum Pair {
    Ecdsa(EcdsaKeyPair),
    Ed25519(Ed25519KeyPair),
}

/// A private key with its role. Cheap to share behind an `Arc`; `ring`'s key
/// pairs are `Send + Sync`, so one key signs from several threads.
pub struct SigningKey {
    algorithm: Algorithm,
    flags: u16,
    pkcs8: Vec<u8>,
    /// The public key as DNSKEY carries it: `X || Y` for P-256 (RFC 6605 §4,
    /// without SEC1's 0x04 prefix), the 32 octets for Ed25519 (RFC 8080 §3).
    public: Vec<u8>,
    dnskey: Vec<u8>,
    tag: u16,
    pair: Pair,
    rng: SystemRandom,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the private key.
        write!(
            f,
            "SigningKey(alg {}, flags {}, tag {})",
            self.algorithm.number(),
            self.flags,
            self.tag
        )
    }
}

/// Serialised form version (first octets: `PDK` and this).
const KEY_FORMAT: u8 = 1;

impl SigningKey {
    /// A new random key.
    pub fn generate(algorithm: Algorithm, role: Role) -> Result<SigningKey, KeyError> {
        let rng = SystemRandom::new();
        let doc = match algorithm {
            Algorithm::EcdsaP256Sha256 => {
                EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            }
            Algorithm::Ed25519 => Ed25519KeyPair::generate_pkcs8(&rng),
        }
        .map_err(|_| KeyError::Generate)?;
        SigningKey::from_pkcs8(algorithm, role.flags(), doc.as_ref())
    }

    /// A key from its PKCS#8 document (as `ring` generates them).
    pub fn from_pkcs8(algorithm: Algorithm, flags: u16, pkcs8: &[u8]) -> Result<SigningKey, KeyError> {
        let rng = SystemRandom::new();
        let (pair, public) = match algorithm {
            Algorithm::EcdsaP256Sha256 => {
                let p = EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8, &rng)
                    .map_err(|_| KeyError::Malformed("not a P-256 PKCS#8 key"))?;
                let sec1 = p.public_key().as_ref();
                if sec1.len() != 65 || sec1[0] != 4 {
                    return Err(KeyError::Malformed("P-256 public key is not uncompressed"));
                }
                let public = sec1[1..].to_vec();
                (Pair::Ecdsa(p), public)
            }
            Algorithm::Ed25519 => {
                let p =
                    Ed25519KeyPair::from_pkcs8(pkcs8).map_err(|_| KeyError::Malformed("not an Ed25519 PKCS#8 key"))?;
                let public = p.public_key().as_ref().to_vec();
                (Pair::Ed25519(p), public)
            }
        };
        let dnskey = dnskey_rdata(flags, algorithm.number(), &public);
        Ok(SigningKey {
            algorithm,
            flags,
            pkcs8: pkcs8.to_vec(),
            tag: key_tag(&dnskey),
            public,
            dnskey,
            pair,
            rng,
        })
    }

    /// The form a store keeps (then [`seal`]s): `PDK`, a format version, the
    /// algorithm, the flags, the PKCS#8 document.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(7 + self.pkcs8.len());
        out.extend_from_slice(b"PDK");
        out.push(KEY_FORMAT);
        out.push(self.algorithm.number());
        out.extend_from_slice(&self.flags.to_be_bytes());
        out.extend_from_slice(&self.pkcs8);
        out
    }

    /// The inverse of [`SigningKey::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Result<SigningKey, KeyError> {
        if bytes.len() < 7 || &bytes[..3] != b"PDK" {
            return Err(KeyError::Malformed("not a platdns key"));
        }
        if bytes[3] != KEY_FORMAT {
            return Err(KeyError::Malformed("unknown key format version"));
        }
        let alg = Algorithm::from_number(bytes[4]).ok_or(KeyError::Algorithm(bytes[4]))?;
        let flags = u16::from_be_bytes([bytes[5], bytes[6]]);
        SigningKey::from_pkcs8(alg, flags, &bytes[7..])
    }

    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    pub fn flags(&self) -> u16 {
        self.flags
    }

    /// KSK when the SEP bit (RFC 4034 §2.1.1) is set.
    pub fn role(&self) -> Role {
        if self.flags & 1 == 1 {
            Role::Ksk
        } else {
            Role::Zsk
        }
    }

    pub fn public_key(&self) -> &[u8] {
        &self.public
    }

    /// DNSKEY rdata (RFC 4034 §2.1); also the CDNSKEY rdata (RFC 7344 §3.2).
    pub fn dnskey_rdata(&self) -> &[u8] {
        &self.dnskey
    }

    /// RFC 4034 Appendix B key tag.
    pub fn key_tag(&self) -> u16 {
        self.tag
    }

    /// DS rdata with SHA-256 (RFC 4509); also the CDS rdata (RFC 7344 §3.1).
    pub fn ds_rdata(&self, owner: &Name) -> Vec<u8> {
        ds_rdata(owner, &self.dnskey)
    }

    /// Signs `data`: `r || s` for ECDSA (RFC 6605 §4), 64 octets for Ed25519.
    pub fn sign(&self, data: &[u8]) -> Result<Vec<u8>, KeyError> {
        match &self.pair {
            Pair::Ecdsa(p) => p
                .sign(&self.rng, data)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| KeyError::Sign),
            Pair::Ed25519(p) => Ok(p.sign(data).as_ref().to_vec()),
        }
    }
}

/// DNSKEY rdata from its fields (RFC 4034 §2.1).
pub fn dnskey_rdata(flags: u16, algorithm: u8, public: &[u8]) -> Vec<u8> {
    let mut d = Vec::with_capacity(4 + public.len());
    d.extend_from_slice(&flags.to_be_bytes());
    d.push(PROTOCOL);
    d.push(algorithm);
    d.extend_from_slice(public);
    d
}

/// RFC 4034 Appendix B: the key tag of a DNSKEY rdata (not algorithm 1).
pub fn key_tag(dnskey_rdata: &[u8]) -> u16 {
    let mut ac: u32 = 0;
    for (i, &b) in dnskey_rdata.iter().enumerate() {
        ac += if i & 1 == 1 { b as u32 } else { (b as u32) << 8 };
    }
    ac += (ac >> 16) & 0xffff;
    (ac & 0xffff) as u16
}

/// DS rdata with a SHA-256 digest (RFC 4034 §5.1.4, RFC 4509 §2.1):
/// digest = SHA-256(canonical owner name || DNSKEY rdata).
pub fn ds_rdata(owner: &Name, dnskey_rdata: &[u8]) -> Vec<u8> {
    let digest = ds_digest(owner, dnskey_rdata, DIGEST_SHA256).expect("SHA-256 is known");
    let mut d = Vec::with_capacity(36);
    d.extend_from_slice(&key_tag(dnskey_rdata).to_be_bytes());
    d.push(dnskey_rdata.get(3).copied().unwrap_or(0));
    d.push(DIGEST_SHA256);
    d.extend_from_slice(&digest);
    d
}

/// The digest a DS of `digest_type` carries for a DNSKEY (RFC 4034 §5.1.4):
/// SHA-1 (1, RFC 3658), SHA-256 (2, RFC 4509) or SHA-384 (4, RFC 6605);
/// `None` for a type we do not know.
pub fn ds_digest(owner: &Name, dnskey_rdata: &[u8], digest_type: u8) -> Option<Vec<u8>> {
    let alg = match digest_type {
        1 => &ring::digest::SHA1_FOR_LEGACY_USE_ONLY,
        2 => &ring::digest::SHA256,
        4 => &ring::digest::SHA384,
        _ => return None,
    };
    let mut ctx = ring::digest::Context::new(alg);
    ctx.update(owner.to_lowercase().as_wire());
    ctx.update(dnskey_rdata);
    Some(ctx.finish().as_ref().to_vec())
}

/// Does the DS (or CDS) rdata `ds` name this DNSKEY: key tag, algorithm and
/// digest all match (RFC 4035 §5.2)? A digest type we cannot compute never
/// matches, so an unknown DS is never taken for ours.
pub fn ds_matches(owner: &Name, dnskey_rdata: &[u8], ds: &[u8]) -> bool {
    let [t0, t1, alg, digest_type, digest @ ..] = ds else {
        return false;
    };
    u16::from_be_bytes([*t0, *t1]) == key_tag(dnskey_rdata)
        && dnskey_rdata.get(3) == Some(alg)
        && ds_digest(owner, dnskey_rdata, *digest_type).is_some_and(|d| d == digest)
}

/// Verifies `sig` over `data` with a DNSKEY public key of `algorithm`.
pub fn verify(algorithm: u8, public: &[u8], data: &[u8], sig: &[u8]) -> bool {
    match Algorithm::from_number(algorithm) {
        Some(Algorithm::EcdsaP256Sha256) => {
            let mut sec1 = Vec::with_capacity(65);
            sec1.push(4);
            sec1.extend_from_slice(public);
            signature::UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, sec1)
                .verify(data, sig)
                .is_ok()
        }
        Some(Algorithm::Ed25519) => signature::UnparsedPublicKey::new(&signature::ED25519, public)
            .verify(data, sig)
            .is_ok(),
        None => false,
    }
}

/// Sealed form version (first octet).
const SEAL_FORMAT: u8 = 1;
/// Binds a sealed blob to its purpose, so it cannot be passed off as another
/// kind of secret sealed under the same operator key.
const SEAL_AAD: &[u8] = b"platdns-dnssec private key v1";

/// Encrypts a serialised key for storage with AES-256-GCM under a 32-octet
/// operator key: `version || nonce (12, random) || ciphertext || tag (16)`.
/// A random 96-bit nonce per seal is safe for far more keys than a zone store
/// will ever hold (NIST SP 800-38D §8.3: 2^32 messages per key).
pub fn seal(key_bytes: &[u8], operator_key: &[u8]) -> Result<Vec<u8>, KeyError> {
    use ring::aead;
    let key = aead::UnboundKey::new(&aead::AES_256_GCM, operator_key).map_err(|_| KeyError::OperatorKey)?;
    let key = aead::LessSafeKey::new(key);
    let mut nonce = [0u8; aead::NONCE_LEN];
    SystemRandom::new().fill(&mut nonce).map_err(|_| KeyError::Generate)?;
    let mut in_out = key_bytes.to_vec();
    key.seal_in_place_append_tag(
        aead::Nonce::assume_unique_for_key(nonce),
        aead::Aad::from(SEAL_AAD),
        &mut in_out,
    )
    .map_err(|_| KeyError::Sign)?;
    let mut out = Vec::with_capacity(1 + nonce.len() + in_out.len());
    out.push(SEAL_FORMAT);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&in_out);
    Ok(out)
}

/// The inverse of [`seal`]; fails when the operator key is wrong or the data
/// was changed (the GCM tag does not match).
pub fn open(sealed: &[u8], operator_key: &[u8]) -> Result<Vec<u8>, KeyError> {
    use ring::aead;
    let key = aead::UnboundKey::new(&aead::AES_256_GCM, operator_key).map_err(|_| KeyError::OperatorKey)?;
    let key = aead::LessSafeKey::new(key);
    if sealed.len() < 1 + aead::NONCE_LEN + aead::AES_256_GCM.tag_len() || sealed[0] != SEAL_FORMAT {
        return Err(KeyError::Open);
    }
    let mut nonce = [0u8; aead::NONCE_LEN];
    nonce.copy_from_slice(&sealed[1..1 + aead::NONCE_LEN]);
    let mut in_out = sealed[1 + aead::NONCE_LEN..].to_vec();
    let plain = key
        .open_in_place(
            aead::Nonce::assume_unique_for_key(nonce),
            aead::Aad::from(SEAL_AAD),
            &mut in_out,
        )
        .map_err(|_| KeyError::Open)?;
    Ok(plain.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> Name {
        Name::from_text(s, None).unwrap()
    }

    #[test]
    fn key_tag_and_ds_match_rfc4034_5_4_example() {
        // RFC 4034 §5.4: the DNSKEY of dskey.example.com. has key tag 60485 and
        // its SHA-1 DS is known; we check the tag and the SHA-256 digest
        // computed independently of this code (ldns-key2ds gives the same).
        use data_encoding::BASE64;
        let public = BASE64
            .decode(
                b"AQOeiiR0GOMYkDshWoSKz9XzfwJr1AYtsmx3TGkJaNXVbfi/2pHm822aJ5iI9BMzNXxeYCmZDRD99WYwYqUSdjMmmAphXdvxegXd/M5+X7OrzKBaMbCVdFLUUh6DhweJBjEVv5f2wwjM9XzcnOf+EPbtG9DMBmADjFDc2w/rljwvFw==",
            )
            .unwrap();
        let dnskey = dnskey_rdata(256, 5, &public);
        assert_eq!(key_tag(&dnskey), 60485);
        let ds = ds_rdata(&n("dskey.example.com."), &dnskey);
        assert_eq!(&ds[..4], &[0xec, 0x45, 5, 2]);
        assert_eq!(ds.len(), 36);
        // The same input with SHA-1 gives the digest printed in §5.4, which
        // checks what the digest is taken over.
        let sha1 = ds_digest(&n("dskey.example.com."), &dnskey, 1).unwrap();
        assert_eq!(
            data_encoding::HEXUPPER.encode(&sha1),
            "2BB183AF5F22588179A53B0A98631FAD1A292118"
        );
        // §5.4's DS record itself names the key; so do our SHA-256 DS and
        // a SHA-384 one, in any letter case of the owner.
        let mut rfc_ds = vec![0xec, 0x45, 5, 1];
        rfc_ds.extend_from_slice(&sha1);
        assert!(ds_matches(&n("dskey.example.com."), &dnskey, &rfc_ds));
        assert!(ds_matches(&n("DSKEY.example.com."), &dnskey, &ds));
        let mut sha384 = vec![0xec, 0x45, 5, 4];
        sha384.extend_from_slice(&ds_digest(&n("dskey.example.com."), &dnskey, 4).unwrap());
        assert!(ds_matches(&n("dskey.example.com."), &dnskey, &sha384));
        // One bit off in the digest, another owner, another tag or
        // algorithm, an unknown digest type, or a short record: no match.
        let mut bad = ds.clone();
        bad[35] ^= 1;
        assert!(!ds_matches(&n("dskey.example.com."), &dnskey, &bad));
        assert!(!ds_matches(&n("other.example.com."), &dnskey, &ds));
        for (i, v) in [(0, 0xed), (2, 8), (3, 3)] {
            let mut bad = ds.clone();
            bad[i] = v;
            assert!(!ds_matches(&n("dskey.example.com."), &dnskey, &bad), "byte {i}");
        }
        assert!(!ds_matches(&n("dskey.example.com."), &dnskey, &ds[..3]));
    }

    #[test]
    fn generated_keys_sign_and_verify_and_round_trip() {
        for alg in [Algorithm::EcdsaP256Sha256, Algorithm::Ed25519] {
            let k = SigningKey::generate(alg, Role::Ksk).unwrap();
            assert_eq!(k.flags(), 257);
            assert_eq!(k.role(), Role::Ksk);
            let sig = k.sign(b"hello").unwrap();
            assert_eq!(sig.len(), 64);
            assert!(verify(alg.number(), k.public_key(), b"hello", &sig));
            assert!(!verify(alg.number(), k.public_key(), b"hellO", &sig));
            let back = SigningKey::from_bytes(&k.to_bytes()).unwrap();
            assert_eq!(back.dnskey_rdata(), k.dnskey_rdata());
            assert_eq!(back.key_tag(), k.key_tag());
            assert_eq!(k.public_key().len(), if alg == Algorithm::Ed25519 { 32 } else { 64 });
        }
        assert!(SigningKey::from_bytes(b"PDK\x01\x0d\x01\x01garbage").is_err());
        assert!(SigningKey::from_bytes(b"xx").is_err());
    }

    #[test]
    fn seal_opens_with_the_right_key_only() {
        let k = SigningKey::generate(Algorithm::EcdsaP256Sha256, Role::Zsk).unwrap();
        let bytes = k.to_bytes();
        let op = [7u8; 32];
        let sealed = seal(&bytes, &op).unwrap();
        assert_ne!(&sealed[13..13 + bytes.len()], &bytes[..]);
        assert_eq!(open(&sealed, &op).unwrap(), bytes);
        // Two seals of the same key differ (random nonce).
        assert_ne!(seal(&bytes, &op).unwrap(), sealed);
        assert_eq!(open(&sealed, &[8u8; 32]), Err(KeyError::Open));
        let mut damaged = sealed.clone();
        let last = damaged.len() - 1;
        damaged[last] ^= 1;
        assert_eq!(open(&damaged, &op), Err(KeyError::Open));
        assert_eq!(open(&sealed[..10], &op), Err(KeyError::Open));
        assert_eq!(seal(&bytes, &[0u8; 16]), Err(KeyError::OperatorKey));
    }
}
