//! What a client certificate says about who the client is, read as
//! nats-server reads it: the subject as Go's `pkix.Name.String()` writes it,
//! the email, DNS and URI SANs, and the SHA-256 of the SubjectPublicKeyInfo
//! (`pinned_certs`) and of the whole certificate (`/connz?auth=1`). Then
//! `verify_and_map`: which configured user the certificate names, tried in
//! nats-server's order (`isClientAuthorized`, target/notes/spec_tls.md 4.2).
//!
//! A minimal DER reader: only the fields above are looked at; anything
//! malformed gives `None`, never a panic.

use std::fmt::Write as _;

/// A distinguished name: its RDNs, each a list of (type, value).
pub type Dn = Vec<Vec<(String, String)>>;

/// One certificate the client presented, as `/connz?auth=1` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerCert {
    pub subject: String,
    pub spki_sha256: String,
    pub cert_sha256: String,
}

/// The identity a certificate carries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CertIdentity {
    /// Go's `Subject.String()`.
    pub subject: String,
    /// Go's `Subject.ToRDNSequence().String()`: the named fields only.
    pub rdn: String,
    /// The subject's RDNs in RFC 2253 order (last first), each attribute
    /// as (type, value), attributes within an RDN reversed too, as
    /// `ldap.FromRawCertSubject`; `None` when an attribute type is one it
    /// does not allow.
    pub dn: Option<Dn>,
    /// `DC=...` values, in certificate order.
    pub domain_components: Vec<String>,
    pub emails: Vec<String>,
    pub dns_names: Vec<String>,
    pub uris: Vec<String>,
    pub spki_sha256: String,
}

const OID_SAN: &[u8] = &[0x55, 0x1d, 0x11];

/// Short names Go gives attribute types (`attributeTypeNames`), by the
/// last arc of `2.5.4.x`.
fn short_name(oid: &[u8]) -> Option<&'static str> {
    if oid.len() != 3 || oid[0] != 0x55 || oid[1] != 0x04 {
        return None;
    }
    Some(match oid[2] {
        3 => "CN",
        5 => "SERIALNUMBER",
        6 => "C",
        7 => "L",
        8 => "ST",
        9 => "STREET",
        10 => "O",
        11 => "OU",
        17 => "POSTALCODE",
        _ => return None,
    })
}

/// `0.9.2342.19200300.100.1.25`, domainComponent.
const OID_DC: &[u8] = &[0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x19];

/// One DER element: its tag, its contents, and what follows it.
fn element(der: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = der.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 || rest.len() < count {
            return None;
        }
        let len = rest[..count]
            .iter()
            .fold(0usize, |n, &b| (n << 8) | usize::from(b));
        (len, &rest[count..])
    };
    if rest.len() < len {
        return None;
    }
    Some((tag, &rest[..len], &rest[len..]))
}

/// The elements of a constructed value's contents.
fn elements(mut der: &[u8]) -> impl Iterator<Item = (u8, &[u8])> {
    std::iter::from_fn(move || {
        let (tag, content, rest) = element(der)?;
        der = rest;
        Some((tag, content))
    })
}

fn sha256_hex(bytes: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, bytes);
    let mut hex = String::with_capacity(64);
    for b in digest.as_ref() {
        let _ = write!(hex, "{b:02x}");
    }
    hex
}

/// The parts of a certificate the identity is read from.
struct Parts<'a> {
    subject: &'a [u8],
    spki: &'a [u8],
    extensions: Option<&'a [u8]>,
}

fn parts(cert: &[u8]) -> Option<Parts<'_>> {
    let (0x30, certificate, _) = element(cert)? else {
        return None;
    };
    let (0x30, tbs, _) = element(certificate)? else {
        return None;
    };
    let mut fields = tbs;
    // [0] EXPLICIT version, when present.
    if fields.first() == Some(&0xa0) {
        fields = element(fields)?.2;
    }
    let mut next = || -> Option<(u8, &[u8], &[u8])> {
        let (tag, content, rest) = element(fields)?;
        let whole = &fields[..fields.len() - rest.len()];
        fields = rest;
        Some((tag, content, whole))
    };
    next()?; // serialNumber
    next()?; // signature
    next()?; // issuer
    next()?; // validity
    let (_, subject, _) = next()?;
    let (_, _, spki) = next()?;
    let mut extensions = None;
    while let Some((tag, content, _)) = next() {
        if tag == 0xa3 {
            extensions = Some(element(content)?.1);
        }
    }
    Some(Parts {
        subject,
        spki,
        extensions,
    })
}

/// What `/connz?auth=1` lists of a certificate.
pub fn peer_cert(cert: &[u8]) -> Option<PeerCert> {
    let parts = parts(cert)?;
    Some(PeerCert {
        subject: subject_string(parts.subject)?,
        spki_sha256: sha256_hex(parts.spki),
        cert_sha256: sha256_hex(cert),
    })
}

/// The identity a (leaf) certificate carries.
pub fn identity(cert: &[u8]) -> Option<CertIdentity> {
    let parts = parts(cert)?;
    let mut id = CertIdentity {
        subject: subject_string(parts.subject)?,
        rdn: named_fields_string(parts.subject)?,
        dn: ldap_dn(parts.subject),
        spki_sha256: sha256_hex(parts.spki),
        ..CertIdentity::default()
    };
    for rdn in rdns(parts.subject) {
        for (oid, value) in rdn {
            if oid == OID_DC {
                id.domain_components.push(value);
            }
        }
    }
    for (_, ext) in elements(parts.extensions.unwrap_or_default()) {
        let mut inner = elements(ext);
        let Some((0x06, oid)) = inner.next() else {
            continue;
        };
        if oid != OID_SAN {
            continue;
        }
        let Some((0x04, value)) = inner.find(|(tag, _)| *tag == 0x04) else {
            continue;
        };
        let Some((0x30, names, _)) = element(value) else {
            continue;
        };
        for (tag, name) in elements(names) {
            let Ok(text) = std::str::from_utf8(name) else {
                continue;
            };
            match tag {
                0x81 => id.emails.push(text.to_string()),
                0x82 => id.dns_names.push(text.to_string()),
                0x86 => id.uris.push(text.to_string()),
                _ => {}
            }
        }
    }
    Some(id)
}

/// The subject's RDNs in certificate order: (attribute type OID, value).
fn rdns(name: &[u8]) -> Vec<Vec<(&[u8], String)>> {
    elements(name)
        .filter(|(tag, _)| *tag == 0x31)
        .map(|(_, set)| {
            elements(set)
                .filter_map(|(_, atv)| {
                    let mut parts = elements(atv);
                    let (0x06, oid) = parts.next()? else {
                        return None;
                    };
                    let (_, value) = parts.next()?;
                    Some((oid, String::from_utf8_lossy(value).into_owned()))
                })
                .collect()
        })
        .collect()
}

/// Go's escaping of an attribute value in `RDNSequence.String()`.
fn escape(value: &str) -> String {
    let last = value.chars().count().saturating_sub(1);
    let mut out = String::with_capacity(value.len());
    for (i, c) in value.chars().enumerate() {
        let escaped = match c {
            ',' | '+' | '"' | '\\' | '<' | '>' | ';' => true,
            ' ' => i == 0 || i == last,
            '#' => i == 0,
            _ => false,
        };
        if escaped {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The dotted form of an OID.
fn dotted(oid: &[u8]) -> String {
    let mut arcs = Vec::new();
    let mut value: u64 = 0;
    for &b in oid {
        value = (value << 7) | u64::from(b & 0x7f);
        if b & 0x80 == 0 {
            if arcs.is_empty() {
                let first = (value / 40).min(2);
                arcs.push(first);
                arcs.push(value - first * 40);
            } else {
                arcs.push(value);
            }
            value = 0;
        }
    }
    arcs.iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(".")
}

/// The named fields in Go's `ToRDNSequence` order (C, ST, L, STREET,
/// POSTALCODE, O, OU, CN, SERIALNUMBER), each one RDN of its values.
fn named_rdns(name: &[u8]) -> Vec<Vec<(&'static str, String)>> {
    const ORDER: [&str; 9] = [
        "C",
        "ST",
        "L",
        "STREET",
        "POSTALCODE",
        "O",
        "OU",
        "CN",
        "SERIALNUMBER",
    ];
    let all: Vec<(&'static str, String)> = rdns(name)
        .into_iter()
        .flatten()
        .filter_map(|(oid, value)| Some((short_name(oid)?, value)))
        .collect();
    ORDER
        .iter()
        .filter_map(|&kind| {
            let values: Vec<_> = all.iter().filter(|(k, _)| *k == kind).cloned().collect();
            // Go keeps only the last common name and serial number.
            let values = if matches!(kind, "CN" | "SERIALNUMBER") {
                values.into_iter().last().into_iter().collect()
            } else {
                values
            };
            (!values.is_empty()).then_some(values)
        })
        .collect()
}

fn rdn_string(rdns: &[Vec<(String, String)>]) -> String {
    rdns.iter()
        .rev()
        .map(|rdn| {
            rdn.iter()
                .map(|(k, v)| format!("{k}={}", escape(v)))
                .collect::<Vec<_>>()
                .join("+")
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// Go's `Subject.ToRDNSequence().String()`.
fn named_fields_string(name: &[u8]) -> Option<String> {
    let named: Dn = named_rdns(name)
        .into_iter()
        .map(|rdn| rdn.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
        .collect();
    Some(rdn_string(&named))
}

/// Go's `Subject.String()`: the named fields, then (at the end of the
/// string) the other attributes by dotted OID.
fn subject_string(name: &[u8]) -> Option<String> {
    let mut all: Dn = rdns(name)
        .into_iter()
        .flatten()
        .filter(|(oid, _)| short_name(oid).is_none())
        .map(|(oid, value)| vec![(dotted(oid), value)])
        .collect();
    all.extend(
        named_rdns(name)
            .into_iter()
            .map(|rdn| rdn.into_iter().map(|(k, v)| (k.to_string(), v)).collect()),
    );
    Some(rdn_string(&all))
}

/// `ldap.FromRawCertSubject`: RFC 2253 order, only the types it knows.
fn ldap_dn(name: &[u8]) -> Option<Dn> {
    let mut dn = Vec::new();
    for rdn in rdns(name).into_iter().rev() {
        let mut attrs = Vec::new();
        for (oid, value) in rdn.into_iter().rev() {
            let kind = if oid == OID_DC {
                "DC"
            } else {
                short_name(oid)?
            };
            attrs.push((kind.to_string(), value));
        }
        dn.push(attrs);
    }
    Some(dn)
}

/// `ldap.ParseDN` of a configured user name: `CN=a,OU=b+O=c`, with `\`
/// escapes. `None` when it is not a DN.
pub fn parse_dn(text: &str) -> Option<Dn> {
    let mut dn = Vec::new();
    let mut rdn = Vec::new();
    let mut kind = String::new();
    let mut value = String::new();
    let mut in_value = false;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' if in_value => value.push(chars.next()?),
            '=' if !in_value => in_value = true,
            ',' | '+' if in_value => {
                rdn.push((kind.trim().to_string(), value.trim().to_string()));
                kind.clear();
                value.clear();
                in_value = false;
                if c == ',' {
                    dn.push(std::mem::take(&mut rdn));
                }
            }
            _ if in_value => value.push(c),
            _ => kind.push(c),
        }
    }
    if !in_value || kind.trim().is_empty() {
        return None;
    }
    rdn.push((kind.trim().to_string(), value.trim().to_string()));
    dn.push(rdn);
    Some(dn)
}

fn rdn_equal(a: &[(String, String)], b: &[(String, String)]) -> bool {
    a.len() == b.len()
        && a.iter().all(|(k, v)| {
            b.iter()
                .any(|(k2, v2)| k.eq_ignore_ascii_case(k2) && v == v2)
        })
}

/// `DN.Equal`: the same RDNs in the same order.
pub fn dn_equal(a: &[Vec<(String, String)>], b: &[Vec<(String, String)>]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| rdn_equal(x, y))
}

/// `DN.RDNsMatch`: the same RDNs in any order.
pub fn rdns_match(a: &[Vec<(String, String)>], b: &[Vec<(String, String)>]) -> bool {
    a.len() == b.len() && a.iter().all(|x| b.iter().any(|y| rdn_equal(x, y)))
}

/// Which user name the certificate maps to, in nats-server's order, given
/// a lookup of configured users; the debug line for each step tried.
pub fn map_to_user(
    id: &CertIdentity,
    users: &[&str],
    debug: &mut impl FnMut(String),
) -> Option<String> {
    let known = |name: &str| users.contains(&name);
    for email in &id.emails {
        if known(email) {
            debug(format!("Using email found in cert for auth [{email:?}]"));
            return Some(email.clone());
        }
    }
    for dns in &id.dns_names {
        if known(dns) {
            debug(format!("Using SAN found in cert for auth [{dns:?}]"));
            return Some(dns.clone());
        }
    }
    for uri in &id.uris {
        if known(uri) {
            debug(format!("Using URI found in cert for auth [{uri:?}]"));
            return Some(uri.clone());
        }
    }
    if let Some(cert_dn) = &id.dn {
        let parsed: Vec<(&str, Dn)> = users
            .iter()
            .filter_map(|u| Some((*u, parse_dn(u)?)))
            .collect();
        let found = parsed
            .iter()
            .find(|(_, dn)| dn_equal(cert_dn, dn))
            .or_else(|| parsed.iter().find(|(_, dn)| rdns_match(cert_dn, dn)));
        if let Some((user, _)) = found {
            debug(format!("Using DistinguishedNameMatch for auth [{user:?}]"));
            return Some(user.to_string());
        }
        debug(format!(
            "DistinguishedNameMatch could not be used for auth [{:?}]",
            id.rdn
        ));
    }
    if !id.domain_components.is_empty() {
        let dcs: Vec<String> = id
            .domain_components
            .iter()
            .map(|dc| format!("DC={dc}"))
            .collect();
        let with_dcs = format!("{},{}", id.rdn, dcs.join(","));
        if known(&with_dcs) {
            debug(format!("Using RDNSequence for auth [{with_dcs:?}]"));
            return Some(with_dcs);
        }
        debug(format!(
            "RDNSequence could not be used for auth [{with_dcs:?}]"
        ));
    }
    if known(&id.rdn) {
        debug(format!("Using certificate subject for auth [{:?}]", id.rdn));
        return Some(id.rdn.clone());
    }
    debug(format!("User in cert [{:?}], not found", id.rdn));
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_parse_and_match_as_ldap_does() {
        let dn = parse_dn("CN=alice,OU=NATS+O=Synadia,C=US").unwrap();
        assert_eq!(dn.len(), 3);
        assert_eq!(dn[1].len(), 2);
        let reordered = parse_dn("C=US,OU=NATS+O=Synadia,cn=alice").unwrap();
        assert!(!dn_equal(&dn, &reordered));
        assert!(rdns_match(&dn, &reordered));
        assert!(!rdns_match(
            &dn,
            &parse_dn("CN=Alice,OU=NATS+O=Synadia,C=US").unwrap()
        ));
        assert_eq!(parse_dn("CN=a\\,b").unwrap()[0][0].1, "a,b");
        assert!(parse_dn("alice@example.com").is_none());
    }

    #[test]
    fn values_escape_as_go_escapes_them() {
        assert_eq!(escape(" a,b+c "), "\\ a\\,b\\+c\\ ");
        assert_eq!(escape("#x#"), "\\#x#");
        assert_eq!(
            dotted(&[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01]),
            "1.2.840.113549.1.9.1"
        );
    }

    #[test]
    fn garbage_is_no_certificate() {
        assert!(identity(b"").is_none());
        assert!(identity(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]).is_none());
        assert!(peer_cert(&[0x30, 0x03, 0x30, 0x01, 0x00]).is_none());
    }
}
