//! The RFC 1035 §5 master file format: a tokenizer and a reader that turns a
//! file into [`Record`]s, handling `$ORIGIN`, `$TTL`, `$INCLUDE`, omitted
//! owner/TTL/class, parentheses and comments. It collects *every* error rather
//! than stopping at the first, each as `FILE:LINE: RRTYPE: reason`.

use crate::name::Name;
use crate::rdata::{parse_rdata, parse_ttl, Token};
use crate::types::{Class, Rtype};
use std::fmt;
use std::path::{Path, PathBuf};

/// How deep `$INCLUDE` may nest before we call it a loop.
pub const MAX_INCLUDE_DEPTH: usize = 8;
/// TTL used when a file sets none before its first record, as knotd's
/// `default-ttl` does.
pub const DEFAULT_TTL: u32 = 3600;
/// RFC 2181 §8: TTLs are 31-bit unsigned.
pub const MAX_TTL: u32 = 0x7fff_ffff;

/// One resource record as read from a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub owner: Name,
    pub ttl: u32,
    pub class: Class,
    pub rtype: Rtype,
    /// Uncompressed wire-form rdata.
    pub rdata: Vec<u8>,
    pub pos: Pos,
}

impl Record {
    /// A record of class IN made in code, not read from a file (no source
    /// position).
    pub fn new(owner: &Name, rtype: Rtype, ttl: u32, rdata: Vec<u8>) -> Record {
        Record {
            owner: owner.clone(),
            ttl,
            class: Class::IN,
            rtype,
            rdata,
            pos: Pos::default(),
        }
    }

    /// The record in wire form (RFC 1035 §4.1.3), its owner uncompressed,
    /// appended to `out`.
    pub fn write_wire(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.owner.as_wire());
        out.extend_from_slice(&self.rtype.0.to_be_bytes());
        out.extend_from_slice(&self.class.0.to_be_bytes());
        out.extend_from_slice(&self.ttl.to_be_bytes());
        out.extend_from_slice(&(self.rdata.len() as u16).to_be_bytes());
        out.extend_from_slice(&self.rdata);
    }
}

/// Where a record or error came from: an index into [`Parsed::files`] and a
/// 1-based line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pos {
    pub file: u16,
    pub line: u32,
}

/// An error with its place. Printed as `FILE:LINE: RRTYPE: reason`, or
/// `FILE:LINE: reason` when no record type is involved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneError {
    pub file: String,
    pub line: u32,
    pub rtype: Option<Rtype>,
    pub message: String,
}

impl fmt::Display for ZoneError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.rtype {
            Some(t) => write!(f, "{}:{}: {}: {}", self.file, self.line, t, self.message),
            None => write!(f, "{}:{}: {}", self.file, self.line, self.message),
        }
    }
}

impl std::error::Error for ZoneError {}

/// Everything read from a file and the files it included.
#[derive(Debug, Default)]
pub struct Parsed {
    pub records: Vec<Record>,
    pub errors: Vec<ZoneError>,
    /// File names, indexed by [`Pos::file`].
    pub files: Vec<String>,
    /// The origin the reader was given to start with.
    pub origin: Option<Name>,
    /// The owner of the first SOA record.
    pub soa_owner: Option<Name>,
    /// The first `$ORIGIN`.
    pub origin_directive: Option<Name>,
}

impl Parsed {
    /// The zone's apex when none is given: the first SOA's owner, else the
    /// first `$ORIGIN`, else the origin the reader started with.
    pub fn apex(&self) -> Option<&Name> {
        self.soa_owner
            .as_ref()
            .or(self.origin_directive.as_ref())
            .or(self.origin.as_ref())
    }
}

impl Parsed {
    pub fn error_at(&self, pos: Pos, rtype: Option<Rtype>, message: impl Into<String>) -> ZoneError {
        ZoneError {
            file: self.files.get(pos.file as usize).cloned().unwrap_or_default(),
            line: pos.line,
            rtype,
            message: message.into(),
        }
    }
}

/// Where `$INCLUDE`d text comes from; tests give a map, the server the file system.
pub trait Includes {
    fn read(&mut self, path: &Path) -> Result<String, String>;
}

/// Refuses every `$INCLUDE`: for zone text that comes from an API, not a file.
pub struct NoIncludes;

impl Includes for NoIncludes {
    fn read(&mut self, _: &Path) -> Result<String, String> {
        Err("$INCLUDE is not allowed here".into())
    }
}

/// Reads includes from the file system.
pub struct FsIncludes;

impl Includes for FsIncludes {
    fn read(&mut self, path: &Path) -> Result<String, String> {
        std::fs::read_to_string(path).map_err(|e| e.to_string())
    }
}

/// Reads a zone file from disk, with `$INCLUDE` relative to it.
pub fn read_file(path: &Path, origin: Option<&Name>) -> Parsed {
    let mut parsed = Parsed::default();
    let name = path.display().to_string();
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let mut fs = FsIncludes;
            let mut reader = Reader::new(&mut parsed, &mut fs, origin.cloned());
            reader.read_text(&text, name, path.to_path_buf(), 0);
        }
        Err(e) => parsed.errors.push(ZoneError {
            file: name,
            line: 0,
            rtype: None,
            message: format!("cannot read: {e}"),
        }),
    }
    parsed
}

/// Parses zone text held in memory; `$INCLUDE` goes through `includes`.
pub fn parse_str(text: &str, file_name: &str, origin: Option<&Name>, includes: &mut dyn Includes) -> Parsed {
    let mut parsed = Parsed::default();
    let mut reader = Reader::new(&mut parsed, includes, origin.cloned());
    reader.read_text(text, file_name.to_string(), PathBuf::from(file_name), 0);
    parsed
}

/// A logical line: tokens across parentheses, the line it starts on, and
/// whether it began with blank space (owner omitted).
struct Entry<'a> {
    line: u32,
    blank_owner: bool,
    tokens: Vec<Token<'a>>,
}

/// Splits text into entries (RFC 1035 §5.1).
struct Lexer<'a> {
    text: &'a str,
    pos: usize,
    line: u32,
}

impl<'a> Lexer<'a> {
    /// The next entry, or `Err((line, message))` for a lexical error (the rest
    /// of that entry is skipped).
    fn next_entry(&mut self) -> Option<Result<Entry<'a>, (u32, String)>> {
        let b = self.text.as_bytes();
        loop {
            if self.pos >= b.len() {
                return None;
            }
            let start_line = self.line;
            let blank_owner = matches!(b[self.pos], b' ' | b'\t');
            let mut tokens = Vec::new();
            let mut depth = 0u32;
            let mut error: Option<String> = None;
            loop {
                if self.pos >= b.len() {
                    if depth > 0 && error.is_none() {
                        error = Some("unbalanced \"(\": end of file inside parentheses".into());
                    }
                    break;
                }
                let c = b[self.pos];
                match c {
                    b'\n' => {
                        self.pos += 1;
                        self.line += 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    b' ' | b'\t' | b'\r' => self.pos += 1,
                    b';' => {
                        while self.pos < b.len() && b[self.pos] != b'\n' {
                            self.pos += 1;
                        }
                    }
                    b'(' => {
                        depth += 1;
                        self.pos += 1;
                    }
                    b')' => {
                        if depth == 0 {
                            error.get_or_insert_with(|| "unbalanced \")\"".into());
                        } else {
                            depth -= 1;
                        }
                        self.pos += 1;
                    }
                    b'"' => {
                        self.pos += 1;
                        let s = self.pos;
                        let mut closed = false;
                        while self.pos < b.len() {
                            match b[self.pos] {
                                b'\\' => self.pos += 2,
                                b'"' => {
                                    closed = true;
                                    break;
                                }
                                b'\n' => {
                                    self.line += 1;
                                    self.pos += 1;
                                }
                                _ => self.pos += 1,
                            }
                        }
                        let end = self.pos.min(b.len());
                        if !closed {
                            error.get_or_insert_with(|| "unterminated quoted string".into());
                        } else {
                            self.pos += 1;
                        }
                        tokens.push(Token {
                            text: &self.text[s..end],
                            quoted: true,
                        });
                    }
                    _ => {
                        let s = self.pos;
                        while self.pos < b.len() {
                            match b[self.pos] {
                                b'\\' => self.pos = (self.pos + 2).min(b.len()),
                                // `key="a b"` (RFC 9460 values): the quotes stay
                                // in the token for the SVCB parser.
                                b'"' => {
                                    self.pos += 1;
                                    while self.pos < b.len() && b[self.pos] != b'"' && b[self.pos] != b'\n' {
                                        if b[self.pos] == b'\\' {
                                            self.pos += 1;
                                        }
                                        self.pos += 1;
                                    }
                                    self.pos = (self.pos + 1).min(b.len());
                                }
                                b' ' | b'\t' | b'\r' | b'\n' | b';' | b'(' | b')' => break,
                                _ => self.pos += 1,
                            }
                        }
                        let end = self.pos.min(b.len());
                        match self.text.get(s..end) {
                            Some(t) => tokens.push(Token::plain(t)),
                            None => {
                                error.get_or_insert_with(|| "invalid UTF-8 boundary".into());
                            }
                        }
                    }
                }
            }
            if let Some(e) = error {
                return Some(Err((start_line, e)));
            }
            if tokens.is_empty() {
                continue;
            }
            return Some(Ok(Entry {
                line: start_line,
                blank_owner,
                tokens,
            }));
        }
    }
}

struct Reader<'p> {
    parsed: &'p mut Parsed,
    includes: &'p mut dyn Includes,
    origin: Option<Name>,
    default_ttl: Option<u32>,
    last_ttl: Option<u32>,
    last_owner: Option<Name>,
}

impl<'p> Reader<'p> {
    fn new(parsed: &'p mut Parsed, includes: &'p mut dyn Includes, origin: Option<Name>) -> Self {
        parsed.origin = origin.clone();
        Reader {
            parsed,
            includes,
            origin,
            default_ttl: None,
            last_ttl: None,
            last_owner: None,
        }
    }

    fn read_text(&mut self, text: &str, file_name: String, path: PathBuf, depth: usize) {
        let file = self.parsed.files.len() as u16;
        self.parsed.files.push(file_name);
        let mut lexer = Lexer { text, pos: 0, line: 1 };
        while let Some(entry) = lexer.next_entry() {
            match entry {
                Ok(e) => {
                    let pos = Pos { file, line: e.line };
                    if let Err((rtype, msg)) = self.entry(e, pos, &path, depth) {
                        let err = self.parsed.error_at(pos, rtype, msg);
                        self.parsed.errors.push(err);
                    }
                }
                Err((line, msg)) => {
                    let err = self.parsed.error_at(Pos { file, line }, None, msg);
                    self.parsed.errors.push(err);
                }
            }
        }
    }

    fn entry(&mut self, e: Entry, pos: Pos, path: &Path, depth: usize) -> Result<(), (Option<Rtype>, String)> {
        let first = e.tokens[0];
        if !e.blank_owner && !first.quoted && first.text.starts_with('$') {
            return self.directive(&e.tokens, path, depth);
        }
        let mut rest = &e.tokens[..];
        let owner = if e.blank_owner {
            self.last_owner
                .clone()
                .ok_or((None, "no owner name and no previous record to take it from".to_string()))?
        } else {
            rest = &rest[1..];
            Name::from_text(first.text, self.origin.as_ref()).map_err(|err| (None, format!("owner: {err}")))?
        };
        self.last_owner = Some(owner.clone());

        // [TTL] [class] type, or [class] [TTL] type (RFC 1035 §5.1).
        let mut ttl = None;
        let mut class = None;
        let rtype = loop {
            let t = rest.first().ok_or((None, "missing record type".to_string()))?;
            rest = &rest[1..];
            if t.quoted {
                return Err((None, format!("\"{}\" is not a record type", t.text)));
            }
            if ttl.is_none() && t.text.as_bytes()[0].is_ascii_digit() {
                let v = parse_ttl(t.text).ok_or((None, format!("TTL \"{}\" is not a number", t.text)))?;
                ttl = Some(v);
                continue;
            }
            if class.is_none() {
                if let Some(c) = Class::from_text(t.text) {
                    class = Some(c);
                    continue;
                }
            }
            match Rtype::from_text(t.text) {
                Some(r) => break r,
                None => return Err((None, format!("unknown record type \"{}\"", t.text))),
            }
        };
        let class = class.unwrap_or(Class::IN);
        if class != Class::IN {
            return Err((Some(rtype), format!("class {class} is not served (only IN)")));
        }
        if rtype.is_meta() {
            return Err((Some(rtype), "a meta-type cannot appear in a zone".into()));
        }
        if let Some(t) = ttl {
            if t > MAX_TTL {
                return Err((Some(rtype), format!("TTL {t} exceeds 2147483647 (RFC 2181 §8)")));
            }
            self.last_ttl = Some(t);
        }
        let origin = self.origin.clone().unwrap_or_else(Name::root);
        let rdata = parse_rdata(rtype, rest, &origin).map_err(|err| (Some(rtype), err.to_string()))?;
        if rtype == Rtype::SOA && self.parsed.soa_owner.is_none() {
            self.parsed.soa_owner = Some(owner.clone());
        }
        let ttl = ttl.or(self.default_ttl).or(self.last_ttl).unwrap_or(DEFAULT_TTL);
        self.parsed.records.push(Record {
            owner,
            ttl,
            class,
            rtype,
            rdata,
            pos,
        });
        Ok(())
    }

    fn directive(&mut self, tokens: &[Token], path: &Path, depth: usize) -> Result<(), (Option<Rtype>, String)> {
        let d = tokens[0].text;
        let arg = |i: usize| tokens.get(i).map(|t| t.text);
        if d.eq_ignore_ascii_case("$ORIGIN") {
            let n = arg(1).ok_or((None, "$ORIGIN: missing name".to_string()))?;
            if tokens.len() > 2 {
                return Err((None, "$ORIGIN: unexpected trailing data".into()));
            }
            let name = Name::from_text(n, self.origin.as_ref()).map_err(|e| (None, format!("$ORIGIN: {e}")))?;
            if self.parsed.origin_directive.is_none() {
                self.parsed.origin_directive = Some(name.clone());
            }
            self.origin = Some(name);
        } else if d.eq_ignore_ascii_case("$TTL") {
            let t = arg(1).ok_or((None, "$TTL: missing value".to_string()))?;
            let v = parse_ttl(t).ok_or((None, format!("$TTL: \"{t}\" is not a TTL")))?;
            if v > MAX_TTL {
                return Err((None, format!("$TTL: {v} exceeds 2147483647 (RFC 2181 §8)")));
            }
            if tokens.len() > 2 {
                return Err((None, "$TTL: unexpected trailing data".into()));
            }
            self.default_ttl = Some(v);
        } else if d.eq_ignore_ascii_case("$INCLUDE") {
            let file = arg(1).ok_or((None, "$INCLUDE: missing file name".to_string()))?;
            if depth + 1 > MAX_INCLUDE_DEPTH {
                return Err((
                    None,
                    format!("$INCLUDE: nested deeper than {MAX_INCLUDE_DEPTH} (a loop?)"),
                ));
            }
            let inc_origin = match arg(2) {
                Some(o) => Some(
                    Name::from_text(o, self.origin.as_ref()).map_err(|e| (None, format!("$INCLUDE: origin: {e}")))?,
                ),
                None => self.origin.clone(),
            };
            // RFC 1035 §5.1: a relative file name is taken from the including file's directory.
            let target = match path.parent() {
                Some(dir) if Path::new(file).is_relative() => dir.join(file),
                _ => PathBuf::from(file),
            };
            let text = self
                .includes
                .read(&target)
                .map_err(|e| (None, format!("$INCLUDE {}: {e}", target.display())))?;
            // The included file's $ORIGIN does not leak back (RFC 1035 §5.1).
            let saved = (self.origin.clone(), self.last_owner.clone());
            self.origin = inc_origin;
            self.read_text(&text, target.display().to_string(), target.clone(), depth + 1);
            (self.origin, self.last_owner) = saved;
        } else {
            return Err((None, format!("unsupported directive {d}")));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct Map(HashMap<PathBuf, String>);
    impl Includes for Map {
        fn read(&mut self, path: &Path) -> Result<String, String> {
            self.0.get(path).cloned().ok_or_else(|| "not found".into())
        }
    }

    fn parse(text: &str) -> Parsed {
        parse_str(text, "z", None, &mut Map(HashMap::new()))
    }

    #[test]
    fn rfc1035_omitted_owner_ttl_and_class() {
        let p =
            parse("$ORIGIN example.\nwww 300 IN A 192.0.2.1\n    A 192.0.2.2\nmail IN 60 MX 10 www\n   TXT \"x\"\n");
        assert!(p.errors.is_empty(), "{:?}", p.errors);
        let r = &p.records;
        assert_eq!(r[1].owner.to_string(), "www.example.");
        // RFC 1035 §5.1: an omitted TTL is the last one stated (no $TTL here).
        assert_eq!(r[1].ttl, 300);
        assert_eq!((r[2].ttl, r[2].class), (60, Class::IN));
        assert_eq!((r[3].owner.to_string().as_str(), r[3].ttl), ("mail.example.", 60));
    }

    #[test]
    fn dollar_ttl_takes_precedence_over_the_last_explicit_ttl() {
        // RFC 2308 §4.
        let p = parse("$ORIGIN example.\n$TTL 120\na 300 A 192.0.2.1\nb A 192.0.2.2\n");
        assert_eq!(p.records[1].ttl, 120);
        assert_eq!(parse("$ORIGIN example.\na A 192.0.2.1\n").records[0].ttl, DEFAULT_TTL);
    }

    #[test]
    fn parentheses_comments_and_quotes_span_lines() {
        let p = parse(
            "$ORIGIN example.\n@ SOA ns host ( 1 ; serial\n 2 3 ; more\n 4 5 )\nt TXT \"a ; not a comment\" ( \"two\"\n \"three\" )\nafter A 192.0.2.9\n",
        );
        assert!(p.errors.is_empty(), "{:?}", p.errors);
        assert_eq!(p.records.len(), 3);
        assert_eq!(p.records[2].pos.line, 7, "line numbers count lines inside parentheses");
        assert_eq!(
            crate::present::format_rdata(Rtype::TXT, &p.records[1].rdata),
            "\"a ; not a comment\" \"two\" \"three\""
        );
    }

    #[test]
    fn include_is_relative_to_the_including_file_and_origin_does_not_leak() {
        let mut files = HashMap::new();
        files.insert(
            PathBuf::from("dir/inc.db"),
            "$ORIGIN other.\nx A 192.0.2.1\n".to_string(),
        );
        let mut inc = Map(files);
        let p = parse_str(
            "$ORIGIN example.\n$INCLUDE inc.db sub.example.\ny A 192.0.2.2\n",
            "dir/main.zone",
            None,
            &mut inc,
        );
        assert!(p.errors.is_empty(), "{:?}", p.errors);
        assert_eq!(p.records[0].owner.to_string(), "x.other.");
        assert_eq!(p.records[1].owner.to_string(), "y.example.");
        assert_eq!(p.files, vec!["dir/main.zone", "dir/inc.db"]);
        assert_eq!(p.records[0].pos.file, 1);
    }

    #[test]
    fn every_error_is_collected_not_just_the_first() {
        let p = parse("$ORIGIN example.\na A 1.2.3\nb MX x y\nc A 192.0.2.1\nd BOGUS 1\n");
        let lines: Vec<u32> = p.errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, vec![2, 3, 5]);
        assert_eq!(
            p.errors[0].to_string(),
            "z:2: A: address: \"1.2.3\" is not an IPv4 address"
        );
        assert_eq!(p.records.len(), 1);
    }

    #[test]
    fn generic_rfc3597_form_for_known_and_unknown_types() {
        let p = parse("$ORIGIN example.\na TYPE1 \\# 4 c0000201\nb TYPE65534 \\# 2 abcd\nc TYPE65535 \\# 0\n");
        assert!(p.errors.is_empty(), "{:?}", p.errors);
        assert_eq!(p.records[0].rtype, Rtype::A);
        assert_eq!(p.records[0].rdata, vec![192, 0, 2, 1]);
        assert_eq!(p.records[2].rdata, Vec::<u8>::new());
    }
}
