//! `x509_decode(pem)`: a certificate or certificate request as Kyverno returns it, which is Go's
//! `x509.Certificate` (or `x509.CertificateRequest`) encoded as JSON: raw DER fields in base64,
//! algorithms as Go's enum numbers, names with their attribute lists, the RSA key as `{N, E}`
//! (`N` in decimal) and the serial number as a JSON number. Only RSA keys are accepted, as in
//! Kyverno.

use super::{Arg, EvalError, Interpreter, Result, owned, str_at};
use crate::coerce::gofmt::json_float;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value, json};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use x509_parser::certification_request::X509CertificationRequest;
use x509_parser::extensions::{GeneralName, ParsedExtension, X509Extension};
use x509_parser::num_bigint::BigUint;
use x509_parser::oid_registry::Oid;
use x509_parser::prelude::{FromDer, X509Certificate};
use x509_parser::public_key::PublicKey;
use x509_parser::x509::{AlgorithmIdentifier, SubjectPublicKeyInfo, X509Name};

pub(super) fn decode<'a>(_: &Interpreter<'_>, args: Vec<Arg<'a>>) -> Result<'a> {
    let text = str_at(&args, 0)?;
    let (label, der) =
        pem_block(text).ok_or_else(|| EvalError::failed("failed to decode PEM block"))?;
    match label.as_str() {
        "CERTIFICATE" => {
            let (_, certificate) = X509Certificate::from_der(&der)
                .map_err(|_| EvalError::failed("x509: malformed certificate"))?;
            owned(certificate_json(&certificate)?)
        }
        "CERTIFICATE REQUEST" => {
            let (_, request) = X509CertificationRequest::from_der(&der)
                .map_err(|_| EvalError::failed("x509: malformed certificate request"))?;
            owned(request_json(&request)?)
        }
        _ => Err(EvalError::failed(
            "PEM block neither contains a CERTIFICATE or CERTIFICATE REQUEST",
        )),
    }
}

/// Go's `pem.Decode`: the first `-----BEGIN X-----` … `-----END X-----` block anywhere in the
/// text, its headers skipped.
fn pem_block(text: &str) -> Option<(String, Vec<u8>)> {
    let start = text.find("-----BEGIN ")?;
    let rest = &text[start + "-----BEGIN ".len()..];
    let label_end = rest.find("-----")?;
    let label = &rest[..label_end];
    let body = &rest[label_end + 5..];
    let end = body.find(&format!("-----END {label}-----"))?;
    let encoded: String = body[..end]
        .lines()
        .filter(|line| !line.contains(':'))
        .flat_map(|line| line.chars().filter(|c| !c.is_whitespace()))
        .collect();
    let der = STANDARD.decode(encoded.as_bytes()).ok()?;
    Some((label.to_owned(), der))
}

fn b64(bytes: &[u8]) -> Value {
    Value::String(STANDARD.encode(bytes))
}

fn oid_arcs(oid: &Oid<'_>) -> Value {
    let arcs: Vec<Value> = oid
        .iter()
        .map(|arcs| arcs.map(Value::from).collect())
        .unwrap_or_default();
    Value::Array(arcs)
}

/// Go's `x509.SignatureAlgorithm` numbers.
fn signature_algorithm(algorithm: &AlgorithmIdentifier<'_>) -> i64 {
    match algorithm.algorithm.to_id_string().as_str() {
        "1.2.840.113549.1.1.2" => 1,
        "1.2.840.113549.1.1.4" => 2,
        "1.2.840.113549.1.1.5" => 3,
        "1.2.840.113549.1.1.11" => 4,
        "1.2.840.113549.1.1.12" => 5,
        "1.2.840.113549.1.1.13" => 6,
        "1.2.840.10040.4.3" => 7,
        "2.16.840.1.101.3.4.3.2" => 8,
        "1.2.840.10045.4.1" => 9,
        "1.2.840.10045.4.3.2" => 10,
        "1.2.840.10045.4.3.3" => 11,
        "1.2.840.10045.4.3.4" => 12,
        "1.2.840.113549.1.1.10" => 13,
        "1.3.101.112" => 16,
        _ => 0,
    }
}

/// `{N, E}` of an RSA key, or Kyverno's refusal of any other.
fn rsa_key(info: &SubjectPublicKeyInfo<'_>) -> std::result::Result<Value, EvalError> {
    let rsa_oid = info.algorithm.algorithm.to_id_string() == "1.2.840.113549.1.1.1";
    let Ok(PublicKey::RSA(key)) = info.parsed() else {
        return Err(EvalError::failed("certificate should use rsa algorithm"));
    };
    if !rsa_oid {
        return Err(EvalError::failed("certificate should use rsa algorithm"));
    }
    let exponent = key
        .exponent
        .iter()
        .fold(0u64, |e, &b| (e << 8) | u64::from(b));
    Ok(json!({
        "N": BigUint::from_bytes_be(key.modulus).to_string(),
        "E": exponent,
    }))
}

/// `pkix.Name` after `FillFromRDNSequence`.
fn name_json(name: &X509Name<'_>) -> Value {
    let mut lists: [Vec<Value>; 7] = Default::default();
    let (mut common_name, mut serial_number) = (String::new(), String::new());
    let mut names = Vec::new();
    for attribute in name.iter_attributes() {
        let value = attribute.as_str().map(str::to_owned).unwrap_or_default();
        names.push(json!({"Type": oid_arcs(attribute.attr_type()), "Value": value}));
        let slot = match attribute.attr_type().to_id_string().as_str() {
            "2.5.4.3" => {
                common_name = value;
                continue;
            }
            "2.5.4.5" => {
                serial_number = value;
                continue;
            }
            "2.5.4.6" => 0,
            "2.5.4.10" => 1,
            "2.5.4.11" => 2,
            "2.5.4.7" => 3,
            "2.5.4.8" => 4,
            "2.5.4.9" => 5,
            "2.5.4.17" => 6,
            _ => continue,
        };
        lists[slot].push(Value::String(value));
    }
    let list = |values: &[Value]| {
        if values.is_empty() {
            Value::Null
        } else {
            Value::Array(values.to_vec())
        }
    };
    json!({
        "Country": list(&lists[0]),
        "Organization": list(&lists[1]),
        "OrganizationalUnit": list(&lists[2]),
        "Locality": list(&lists[3]),
        "Province": list(&lists[4]),
        "StreetAddress": list(&lists[5]),
        "PostalCode": list(&lists[6]),
        "SerialNumber": serial_number,
        "CommonName": common_name,
        "Names": names,
        "ExtraNames": null,
    })
}

fn list_or_null(values: Vec<Value>) -> Value {
    if values.is_empty() {
        Value::Null
    } else {
        Value::Array(values)
    }
}

/// Go's `net.IP.String()`: IPv4-mapped addresses in dotted form.
fn ip_string(bytes: &[u8]) -> String {
    match bytes.len() {
        4 => Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3]).to_string(),
        16 => {
            let mut octets = [0u8; 16];
            octets.copy_from_slice(bytes);
            let ip = Ipv6Addr::from(octets);
            ip.to_ipv4_mapped()
                .map_or_else(|| IpAddr::V6(ip).to_string(), |v4| v4.to_string())
        }
        _ => format!(
            "?{}",
            bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
        ),
    }
}

/// `url.URL` as `encoding/json` writes it, for a URI in a subject alternative name.
fn url_json(text: &str) -> Value {
    let (without_fragment, fragment) = text.split_once('#').unwrap_or((text, ""));
    let (without_query, query) = without_fragment
        .split_once('?')
        .unwrap_or((without_fragment, ""));
    let (scheme, rest) = match without_query.split_once(':') {
        Some((scheme, rest))
            if scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c)) =>
        {
            (scheme.to_lowercase(), rest)
        }
        _ => (String::new(), without_query),
    };
    let (host, path, opaque) = match rest.strip_prefix("//") {
        Some(authority_and_path) => {
            let split = authority_and_path
                .find('/')
                .unwrap_or(authority_and_path.len());
            let authority = &authority_and_path[..split];
            let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
            (
                host.to_owned(),
                authority_and_path[split..].to_owned(),
                String::new(),
            )
        }
        None if !scheme.is_empty() && !rest.starts_with('/') => {
            (String::new(), String::new(), rest.to_owned())
        }
        None => (String::new(), rest.to_owned(), String::new()),
    };
    json!({
        "Scheme": scheme,
        "Opaque": opaque,
        "User": null,
        "Host": host,
        "Path": path,
        "RawPath": "",
        "OmitHost": false,
        "ForceQuery": false,
        "RawQuery": query,
        "Fragment": fragment,
        "RawFragment": "",
    })
}

/// The names of a subject alternative name extension: DNS names, emails, IPs and URIs.
#[derive(Default)]
struct AlternativeNames {
    dns: Vec<Value>,
    emails: Vec<Value>,
    ips: Vec<Value>,
    uris: Vec<Value>,
}

impl AlternativeNames {
    fn add(&mut self, name: &GeneralName<'_>) {
        match name {
            GeneralName::DNSName(dns) => self.dns.push(Value::String((*dns).to_owned())),
            GeneralName::RFC822Name(email) => self.emails.push(Value::String((*email).to_owned())),
            GeneralName::IPAddress(ip) => self.ips.push(Value::String(ip_string(ip))),
            GeneralName::URI(uri) => self.uris.push(url_json(uri)),
            _ => {}
        }
    }

    fn fill(self, out: &mut Map<String, Value>) {
        out.insert("DNSNames".into(), list_or_null(self.dns));
        out.insert("EmailAddresses".into(), list_or_null(self.emails));
        out.insert("IPAddresses".into(), list_or_null(self.ips));
        out.insert("URIs".into(), list_or_null(self.uris));
    }
}

fn extension_json(extension: &X509Extension<'_>) -> Value {
    json!({
        "Id": oid_arcs(&extension.oid),
        "Critical": extension.critical,
        "Value": b64(extension.value),
    })
}

/// Reads one DER element: (tag, contents, rest).
fn der_element(bytes: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = bytes.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (length, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 || rest.len() < count {
            return None;
        }
        let length = rest[..count]
            .iter()
            .fold(0usize, |l, &b| (l << 8) | usize::from(b));
        (length, &rest[count..])
    };
    (rest.len() >= length).then(|| (tag, &rest[..length], &rest[length..]))
}

/// The dotted OIDs of an extended key usage extension, in their order.
fn extended_key_usages(value: &[u8]) -> Vec<String> {
    let Some((0x30, mut contents, _)) = der_element(value) else {
        return Vec::new();
    };
    let mut oids = Vec::new();
    while let Some((tag, oid, rest)) = der_element(contents) {
        if tag == 0x06 {
            oids.push(Oid::new(std::borrow::Cow::Borrowed(oid)).to_id_string());
        }
        contents = rest;
    }
    oids
}

/// Go's `x509.ExtKeyUsage` number of a usage OID.
fn ext_key_usage(oid: &str) -> Option<i64> {
    Some(match oid {
        "2.5.29.37.0" => 0,
        "1.3.6.1.5.5.7.3.1" => 1,
        "1.3.6.1.5.5.7.3.2" => 2,
        "1.3.6.1.5.5.7.3.3" => 3,
        "1.3.6.1.5.5.7.3.4" => 4,
        "1.3.6.1.5.5.7.3.5" => 5,
        "1.3.6.1.5.5.7.3.6" => 6,
        "1.3.6.1.5.5.7.3.7" => 7,
        "1.3.6.1.5.5.7.3.8" => 8,
        "1.3.6.1.5.5.7.3.9" => 9,
        "1.3.6.1.4.1.311.10.3.3" => 10,
        "2.16.840.1.113730.4.1" => 11,
        "1.3.6.1.4.1.311.2.1.22" => 12,
        "1.3.6.1.4.1.311.61.1.1" => 13,
        _ => return None,
    })
}

fn dotted_arcs(dotted: &str) -> Value {
    Value::Array(
        dotted
            .split('.')
            .filter_map(|arc| arc.parse::<u64>().ok())
            .map(Value::from)
            .collect(),
    )
}

/// `time.Time` as JSON: RFC 3339 with nanoseconds when there are any.
fn time_json(time: time::OffsetDateTime) -> Value {
    let mut text = crate::coerce::gotime::format_rfc3339(time);
    let nanos = time.nanosecond();
    if nanos != 0 {
        let fraction = format!("{nanos:09}");
        let point = text.len() - 1;
        text.insert_str(point, &format!(".{}", fraction.trim_end_matches('0')));
    }
    Value::String(text)
}

fn certificate_json(certificate: &X509Certificate<'_>) -> std::result::Result<Value, EvalError> {
    let tbs = &certificate.tbs_certificate;
    let mut out = Map::new();
    let mut alternative = AlternativeNames::default();
    let mut extensions = Vec::new();
    let mut unhandled = Vec::new();
    let (mut ext_usages, mut unknown_usages) = (Vec::new(), Vec::new());
    let (mut ocsp, mut issuers, mut crls) = (Vec::new(), Vec::new(), Vec::new());
    let (mut policy_ids, mut policies, mut mappings) = (Vec::new(), Vec::new(), Vec::new());
    let mut constraints: [Vec<Value>; 8] = Default::default();
    let mut constraints_critical = false;
    let mut key_usage = 0u16;
    let (mut basic_valid, mut is_ca, mut max_path, mut max_path_zero) = (false, false, 0i64, false);
    let (mut subject_key, mut authority_key) = (Value::Null, Value::Null);
    let mut require_explicit = (0u32, false);
    let mut inhibit_mapping = (0u32, false);
    let mut inhibit_any = (0u32, false);
    const HANDLED: &[&str] = &[
        "2.5.29.14",
        "2.5.29.15",
        "2.5.29.17",
        "2.5.29.19",
        "2.5.29.30",
        "2.5.29.31",
        "2.5.29.32",
        "2.5.29.33",
        "2.5.29.35",
        "2.5.29.36",
        "2.5.29.37",
        "2.5.29.54",
        "1.3.6.1.5.5.7.1.1",
    ];
    for extension in tbs.extensions() {
        extensions.push(extension_json(extension));
        let oid = extension.oid.to_id_string();
        if extension.critical && !HANDLED.contains(&oid.as_str()) {
            unhandled.push(oid_arcs(&extension.oid));
        }
        match extension.parsed_extension() {
            ParsedExtension::SubjectAlternativeName(san) => {
                san.general_names
                    .iter()
                    .for_each(|name| alternative.add(name));
            }
            ParsedExtension::KeyUsage(usage) => key_usage = usage.flags,
            ParsedExtension::BasicConstraints(basic) => {
                basic_valid = true;
                is_ca = basic.ca;
                max_path = basic.path_len_constraint.map_or(-1, i64::from);
                max_path_zero = max_path == 0;
            }
            ParsedExtension::SubjectKeyIdentifier(id) => subject_key = b64(id.0),
            ParsedExtension::AuthorityKeyIdentifier(aki) => {
                if let Some(id) = &aki.key_identifier {
                    authority_key = b64(id.0);
                }
            }
            ParsedExtension::ExtendedKeyUsage(_) => {
                for usage in extended_key_usages(extension.value) {
                    match ext_key_usage(&usage) {
                        Some(number) => ext_usages.push(Value::from(number)),
                        None => unknown_usages.push(dotted_arcs(&usage)),
                    }
                }
            }
            ParsedExtension::AuthorityInfoAccess(aia) => {
                for description in &aia.accessdescs {
                    let GeneralName::URI(uri) = description.access_location else {
                        continue;
                    };
                    match description.access_method.to_id_string().as_str() {
                        "1.3.6.1.5.5.7.48.1" => ocsp.push(Value::String(uri.to_owned())),
                        "1.3.6.1.5.5.7.48.2" => issuers.push(Value::String(uri.to_owned())),
                        _ => {}
                    }
                }
            }
            ParsedExtension::CRLDistributionPoints(points) => {
                for point in points.iter() {
                    if let Some(x509_parser::extensions::DistributionPointName::FullName(names)) =
                        &point.distribution_point
                    {
                        for name in names {
                            if let GeneralName::URI(uri) = name {
                                crls.push(Value::String((*uri).to_owned()));
                            }
                        }
                    }
                }
            }
            ParsedExtension::CertificatePolicies(list) => {
                for policy in list.iter() {
                    policy_ids.push(oid_arcs(&policy.policy_id));
                    policies.push(Value::String(policy.policy_id.to_id_string()));
                }
            }
            ParsedExtension::PolicyMappings(list) => {
                for mapping in &list.mappings {
                    mappings.push(json!({
                        "IssuerDomainPolicy": mapping.issuer_domain_policy.to_id_string(),
                        "SubjectDomainPolicy": mapping.subject_domain_policy.to_id_string(),
                    }));
                }
            }
            ParsedExtension::PolicyConstraints(policy) => {
                if let Some(n) = policy.require_explicit_policy {
                    require_explicit = (n, n == 0);
                }
                if let Some(n) = policy.inhibit_policy_mapping {
                    inhibit_mapping = (n, n == 0);
                }
            }
            ParsedExtension::InhibitAnyPolicy(any) => {
                inhibit_any = (any.skip_certs, any.skip_certs == 0)
            }
            ParsedExtension::NameConstraints(names) => {
                constraints_critical = extension.critical;
                for (subtrees, offset) in [
                    (&names.permitted_subtrees, 0),
                    (&names.excluded_subtrees, 4),
                ] {
                    for subtree in subtrees.iter().flatten() {
                        match &subtree.base {
                            GeneralName::DNSName(dns) => {
                                constraints[offset].push(Value::String((*dns).to_owned()));
                            }
                            GeneralName::IPAddress(bytes)
                                if bytes.len() == 8 || bytes.len() == 32 =>
                            {
                                let (ip, mask) = bytes.split_at(bytes.len() / 2);
                                constraints[offset + 1]
                                    .push(json!({"IP": ip_string(ip), "Mask": b64(mask)}));
                            }
                            GeneralName::RFC822Name(email) => {
                                constraints[offset + 2].push(Value::String((*email).to_owned()));
                            }
                            GeneralName::URI(uri) => {
                                constraints[offset + 3].push(Value::String((*uri).to_owned()));
                            }
                            _ => {}
                        }
                    }
                }
            }
            _ => {}
        }
    }
    let public_key = rsa_key(&tbs.subject_pki)?;
    let serial: f64 = tbs.serial.to_string().parse().unwrap_or(0.0);
    out.insert("Raw".into(), b64(certificate.as_raw()));
    out.insert("RawTBSCertificate".into(), b64(tbs.as_ref()));
    out.insert("RawSubjectPublicKeyInfo".into(), b64(tbs.subject_pki.raw));
    out.insert("RawSubject".into(), b64(tbs.subject.as_raw()));
    out.insert("RawIssuer".into(), b64(tbs.issuer.as_raw()));
    out.insert("Signature".into(), b64(&certificate.signature_value.data));
    out.insert(
        "SignatureAlgorithm".into(),
        Value::from(signature_algorithm(&certificate.signature_algorithm)),
    );
    out.insert("PublicKeyAlgorithm".into(), Value::from(1));
    out.insert("PublicKey".into(), public_key);
    out.insert("Version".into(), Value::from(tbs.version.0 + 1));
    out.insert(
        "SerialNumber".into(),
        super::to_json_number(serial).unwrap_or_else(|_| Value::String(json_float(serial))),
    );
    out.insert("Issuer".into(), name_json(&tbs.issuer));
    out.insert("Subject".into(), name_json(&tbs.subject));
    out.insert(
        "NotBefore".into(),
        time_json(tbs.validity.not_before.to_datetime()),
    );
    out.insert(
        "NotAfter".into(),
        time_json(tbs.validity.not_after.to_datetime()),
    );
    out.insert("KeyUsage".into(), Value::from(key_usage));
    out.insert("Extensions".into(), list_or_null(extensions));
    out.insert("ExtraExtensions".into(), Value::Null);
    out.insert(
        "UnhandledCriticalExtensions".into(),
        list_or_null(unhandled),
    );
    out.insert("ExtKeyUsage".into(), list_or_null(ext_usages));
    out.insert("UnknownExtKeyUsage".into(), list_or_null(unknown_usages));
    out.insert("BasicConstraintsValid".into(), Value::Bool(basic_valid));
    out.insert("IsCA".into(), Value::Bool(is_ca));
    out.insert("MaxPathLen".into(), Value::from(max_path));
    out.insert("MaxPathLenZero".into(), Value::Bool(max_path_zero));
    out.insert("SubjectKeyId".into(), subject_key);
    out.insert("AuthorityKeyId".into(), authority_key);
    out.insert("OCSPServer".into(), list_or_null(ocsp));
    out.insert("IssuingCertificateURL".into(), list_or_null(issuers));
    alternative.fill(&mut out);
    out.insert(
        "PermittedDNSDomainsCritical".into(),
        Value::Bool(constraints_critical),
    );
    let [pd, pi, pe, pu, ed, ei, ee, eu] = constraints;
    out.insert("PermittedDNSDomains".into(), list_or_null(pd));
    out.insert("ExcludedDNSDomains".into(), list_or_null(ed));
    out.insert("PermittedIPRanges".into(), list_or_null(pi));
    out.insert("ExcludedIPRanges".into(), list_or_null(ei));
    out.insert("PermittedEmailAddresses".into(), list_or_null(pe));
    out.insert("ExcludedEmailAddresses".into(), list_or_null(ee));
    out.insert("PermittedURIDomains".into(), list_or_null(pu));
    out.insert("ExcludedURIDomains".into(), list_or_null(eu));
    out.insert("CRLDistributionPoints".into(), list_or_null(crls));
    out.insert("PolicyIdentifiers".into(), list_or_null(policy_ids));
    out.insert("Policies".into(), list_or_null(policies));
    out.insert("InhibitAnyPolicy".into(), Value::from(inhibit_any.0));
    out.insert("InhibitAnyPolicyZero".into(), Value::Bool(inhibit_any.1));
    out.insert(
        "InhibitPolicyMapping".into(),
        Value::from(inhibit_mapping.0),
    );
    out.insert(
        "InhibitPolicyMappingZero".into(),
        Value::Bool(inhibit_mapping.1),
    );
    out.insert(
        "RequireExplicitPolicy".into(),
        Value::from(require_explicit.0),
    );
    out.insert(
        "RequireExplicitPolicyZero".into(),
        Value::Bool(require_explicit.1),
    );
    out.insert("PolicyMappings".into(), list_or_null(mappings));
    Ok(Value::Object(out))
}

fn request_json(request: &X509CertificationRequest<'_>) -> std::result::Result<Value, EvalError> {
    let info = &request.certification_request_info;
    let mut out = Map::new();
    let mut alternative = AlternativeNames::default();
    let mut extensions = Vec::new();
    for extension in request.requested_extensions().into_iter().flatten() {
        if let ParsedExtension::SubjectAlternativeName(san) = extension {
            san.general_names
                .iter()
                .for_each(|name| alternative.add(name));
        }
    }
    for attribute in info.iter_attributes() {
        if let x509_parser::cri_attributes::ParsedCriAttribute::ExtensionRequest(request) =
            attribute.parsed_attribute()
        {
            extensions.extend(request.extensions.iter().map(extension_json));
        }
    }
    out.insert("Raw".into(), b64(request.as_ref()));
    out.insert("RawTBSCertificateRequest".into(), b64(info.raw));
    out.insert("RawSubjectPublicKeyInfo".into(), b64(info.subject_pki.raw));
    out.insert("RawSubject".into(), b64(info.subject.as_raw()));
    out.insert("Version".into(), Value::from(info.version.0));
    out.insert("Signature".into(), b64(&request.signature_value.data));
    out.insert(
        "SignatureAlgorithm".into(),
        Value::from(signature_algorithm(&request.signature_algorithm)),
    );
    out.insert("PublicKeyAlgorithm".into(), Value::from(1));
    out.insert("PublicKey".into(), rsa_key(&info.subject_pki)?);
    out.insert("Subject".into(), name_json(&info.subject));
    out.insert("Attributes".into(), Value::Null);
    out.insert("Extensions".into(), list_or_null(extensions));
    out.insert("ExtraExtensions".into(), Value::Null);
    alternative.fill(&mut out);
    Ok(Value::Object(out))
}
