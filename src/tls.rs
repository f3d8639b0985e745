//! PEM loading, the rustls server configuration, certificate hot reload, and development
//! certificates.
//!
//! Certificates are parsed once, when they are loaded, into a [`CertifiedKey`] that a
//! [`CertResolver`] hands to every new handshake; a reload swaps that one pointer, so in-flight
//! connections keep the certificate they negotiated and new handshakes get the new one. The only
//! crypto provider is ring.

use std::fmt;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::{InconsistentKeys, RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::reload::{self, ReloadError, WatchOptions};

/// Where `portcullis serve` looks for its certificate when no path is given.
pub const DEFAULT_CERT_PATH: &str = "certs-dev/tls.crt";
/// Where `portcullis serve` looks for its private key when no path is given.
pub const DEFAULT_KEY_PATH: &str = "certs-dev/tls.key";
/// Subject alternative names of the development server certificate: local use plus every name
/// the in-cluster Service `portcullis` in namespace `portcullis` answers to.
pub const DEV_CERT_SANS: &[&str] = &[
    "localhost",
    "127.0.0.1",
    "portcullis",
    "portcullis.portcullis",
    "portcullis.portcullis.svc",
    "portcullis.portcullis.svc.cluster.local",
];
/// Common name of the development server certificate: the name the kube-apiserver dials.
pub const DEV_CERT_COMMON_NAME: &str = "portcullis.portcullis.svc";
const DEV_CERT_VALIDITY: Duration = Duration::from_secs(365 * 24 * 60 * 60);

/// Why a certificate, key or TLS configuration could not be used. Every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {}: {source}", path.display())]
    Read { path: PathBuf, source: io::Error },
    #[error("cannot write {}: {source}", path.display())]
    Write { path: PathBuf, source: io::Error },
    #[error("{}: {reason}", path.display())]
    Invalid { path: PathBuf, reason: String },
    #[error("private key {} does not match the certificate in {}", key.display(), cert.display())]
    KeyMismatch { cert: PathBuf, key: PathBuf },
    #[error("generating development certificates in {}: {reason}", dir.display())]
    Generate { dir: PathBuf, reason: String },
}

impl TlsError {
    /// A short, bounded name for the failure, fit for a metric label.
    pub fn kind(&self) -> &'static str {
        match self {
            TlsError::Read { .. } => "read",
            TlsError::Write { .. } => "write",
            TlsError::Invalid { .. } => "invalid",
            TlsError::KeyMismatch { .. } => "key_mismatch",
            TlsError::Generate { .. } => "generate",
        }
    }

    fn invalid(path: &Path, reason: impl fmt::Display) -> Self {
        TlsError::Invalid {
            path: path.to_path_buf(),
            reason: reason.to_string(),
        }
    }
}

/// What the logs and metrics need to know about a leaf certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertInfo {
    /// End of validity, in seconds since the Unix epoch
    /// (`portcullis_tls_certificate_expiry_timestamp_seconds`).
    pub not_after: i64,
    /// Serial number as colon-separated hex, the form `openssl x509 -serial` prints.
    pub serial: String,
    /// Subject distinguished name, RFC 4514 style.
    pub subject: String,
}

impl CertInfo {
    /// Reads the fields from a DER-encoded certificate.
    pub fn from_der(der: &[u8]) -> Result<CertInfo, String> {
        let (_, cert) = x509_parser::parse_x509_certificate(der).map_err(|e| e.to_string())?;
        let serial = cert
            .raw_serial()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(":");
        Ok(CertInfo {
            not_after: cert.validity().not_after.timestamp(),
            serial,
            subject: cert.subject().to_string(),
        })
    }
}

/// A certificate chain with its signing key, and what is known about its leaf.
#[derive(Debug, Clone)]
pub struct LoadedCertificate {
    pub key: Arc<CertifiedKey>,
    pub info: CertInfo,
}

/// The crypto provider for everything TLS in Portcullis.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Loads a PEM certificate chain (leaf first) and its PEM private key (PKCS#8, SEC1 or PKCS#1),
/// and checks that the key belongs to the leaf.
pub fn load_certified_key(cert: &Path, key: &Path) -> Result<Arc<CertifiedKey>, TlsError> {
    load_certificate(cert, key).map(|loaded| loaded.key)
}

/// [`load_certified_key`], plus the leaf's [`CertInfo`].
pub fn load_certificate(cert: &Path, key: &Path) -> Result<LoadedCertificate, TlsError> {
    let chain = read_certificates(cert)?;
    let info = match chain.first() {
        Some(leaf) => CertInfo::from_der(leaf).map_err(|e| TlsError::invalid(cert, e))?,
        None => return Err(TlsError::invalid(cert, "no CERTIFICATE block found")),
    };
    let key_bytes = read(key)?;
    let key_der = PrivateKeyDer::from_pem_slice(&key_bytes).map_err(|e| {
        TlsError::invalid(
            key,
            format_args!("no usable PRIVATE KEY block (PKCS#8, SEC1 or PKCS#1): {e}"),
        )
    })?;
    let signing_key = provider()
        .key_provider
        .load_private_key(key_der)
        .map_err(|e| TlsError::invalid(key, e))?;
    let certified = CertifiedKey::new(chain, signing_key);
    match certified.keys_match() {
        // ring can always derive the public key; `Unknown` would only mean "cannot tell".
        Ok(()) | Err(rustls::Error::InconsistentKeys(InconsistentKeys::Unknown)) => {}
        Err(rustls::Error::InconsistentKeys(InconsistentKeys::KeyMismatch)) => {
            return Err(TlsError::KeyMismatch {
                cert: cert.to_path_buf(),
                key: key.to_path_buf(),
            });
        }
        Err(e) => return Err(TlsError::invalid(cert, e)),
    }
    Ok(LoadedCertificate {
        key: Arc::new(certified),
        info,
    })
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    fs::read(path).map_err(|source| TlsError::Read {
        path: path.to_path_buf(),
        source,
    })
}

fn read_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let bytes = read(path)?;
    CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::invalid(path, e))
}

/// Hands the current certificate to every new handshake; [`CertResolver::replace`] swaps it
/// without touching established connections.
pub struct CertResolver {
    current: ArcSwap<CertifiedKey>,
}

impl CertResolver {
    pub fn new(key: Arc<CertifiedKey>) -> Self {
        CertResolver {
            current: ArcSwap::new(key),
        }
    }

    /// New handshakes present `key` from now on.
    pub fn replace(&self, key: Arc<CertifiedKey>) {
        self.current.store(key);
    }

    /// The certificate new handshakes get.
    pub fn current(&self) -> Arc<CertifiedKey> {
        self.current.load_full()
    }
}

impl fmt::Debug for CertResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let serial = self
            .current
            .load()
            .cert
            .first()
            .and_then(|leaf| CertInfo::from_der(leaf).ok())
            .map(|info| info.serial);
        f.debug_struct("CertResolver")
            .field("serial", &serial)
            .finish()
    }
}

impl ResolvesServerCert for CertResolver {
    fn resolve(&self, _client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current.load_full())
    }
}

/// The server configuration: TLS 1.2 and 1.3, ALPN `http/1.1`, certificates from `resolver`,
/// and mutual TLS when `client_ca` names a PEM bundle of CAs that client certificates must chain
/// to.
pub fn server_config(
    resolver: Arc<CertResolver>,
    client_ca: Option<&Path>,
) -> Result<Arc<ServerConfig>, TlsError> {
    let provider = provider();
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| TlsError::invalid(Path::new("<tls configuration>"), e))?;
    let builder = match client_ca {
        None => builder.with_no_client_auth(),
        Some(path) => {
            let mut roots = RootCertStore::empty();
            for cert in read_certificates(path)? {
                roots.add(cert).map_err(|e| TlsError::invalid(path, e))?;
            }
            if roots.is_empty() {
                return Err(TlsError::invalid(path, "no CERTIFICATE block found"));
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| TlsError::invalid(path, e))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder.with_cert_resolver(resolver);
    // The kube-apiserver speaks HTTP/1.1 to webhooks; advertising only that keeps an h2-capable
    // client from picking a protocol the listener does not serve.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// A running certificate reloader; dropping it stops watching.
#[must_use = "the reloader stops when dropped"]
#[derive(Debug)]
pub struct CertificateReloader {
    task: tokio::task::JoinHandle<()>,
}

impl Drop for CertificateReloader {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Watches `cert` and `key` and swaps a changed pair into `resolver`.
///
/// Every attempt is reported through `on_result`: `Ok` with the new leaf's details after a swap,
/// `Err` when the files on disk cannot be used, in which case the resolver keeps the certificate
/// it had. Events that leave the chain unchanged are not reported. Must be called within a Tokio
/// runtime.
pub fn spawn_certificate_reloader(
    cert: PathBuf,
    key: PathBuf,
    resolver: Arc<CertResolver>,
    options: WatchOptions,
    on_result: impl Fn(Result<CertInfo, TlsError>) + Send + 'static,
) -> Result<CertificateReloader, ReloadError> {
    let mut watcher = reload::watch(vec![cert.clone(), key.clone()], options)?;
    let task = tokio::spawn(async move {
        while watcher.changed().await {
            // Two small files: reading them inline is cheaper than a blocking-pool hop.
            match load_certificate(&cert, &key) {
                Ok(loaded) => {
                    if loaded.key.cert == resolver.current().cert {
                        continue;
                    }
                    resolver.replace(loaded.key);
                    on_result(Ok(loaded.info));
                }
                Err(e) => on_result(Err(e)),
            }
        }
    });
    Ok(CertificateReloader { task })
}

/// The files [`generate_dev_certs`] wrote.
#[derive(Debug, Clone)]
pub struct DevCerts {
    pub ca_cert: PathBuf,
    pub ca_key: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Writes a development CA (`ca.crt`, `ca.key`) and an ECDSA P-256 server certificate it signed
/// (`tls.crt`, `tls.key`) for [`DEV_CERT_SANS`] into `dir`, valid for a year. Key files are
/// readable by their owner only.
pub fn generate_dev_certs(dir: &Path) -> Result<DevCerts, TlsError> {
    let generate = |e: rcgen::Error| TlsError::Generate {
        dir: dir.to_path_buf(),
        reason: e.to_string(),
    };
    // Backdated an hour so a clock slightly behind ours still accepts it.
    let not_before = time::OffsetDateTime::from(SystemTime::now() - Duration::from_secs(3600));
    let not_after = not_before + DEV_CERT_VALIDITY;

    let ca_key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(generate)?;
    let mut ca_params = CertificateParams::default();
    ca_params.distinguished_name = rcgen::DistinguishedName::new();
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "Portcullis development CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    ca_params.not_before = not_before;
    ca_params.not_after = not_after;
    let ca_key_pem = ca_key.serialize_pem();
    let ca = CertifiedIssuer::self_signed(ca_params, ca_key).map_err(generate)?;

    let server_key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(generate)?;
    let sans: Vec<String> = DEV_CERT_SANS.iter().map(|s| s.to_string()).collect();
    let mut params = CertificateParams::new(sans).map_err(generate)?;
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(DnType::CommonName, DEV_CERT_COMMON_NAME);
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.use_authority_key_identifier_extension = true;
    params.not_before = not_before;
    params.not_after = not_after;
    let server_cert = params.signed_by(&server_key, &ca).map_err(generate)?;

    fs::create_dir_all(dir).map_err(|source| TlsError::Write {
        path: dir.to_path_buf(),
        source,
    })?;
    let files = DevCerts {
        ca_cert: dir.join("ca.crt"),
        ca_key: dir.join("ca.key"),
        cert: dir.join("tls.crt"),
        key: dir.join("tls.key"),
    };
    write_file(&files.ca_key, ca_key_pem.as_bytes(), true)?;
    write_file(&files.ca_cert, ca.pem().as_bytes(), false)?;
    write_file(&files.key, server_key.serialize_pem().as_bytes(), true)?;
    write_file(&files.cert, server_cert.pem().as_bytes(), false)?;
    Ok(files)
}

/// Generates development certificates when `cert` and `key` are the default paths and neither
/// exists, so `portcullis serve` works out of the box; returns what it wrote, or `None` when it
/// left things alone.
pub fn ensure_dev_certs(cert: &Path, key: &Path) -> Result<Option<DevCerts>, TlsError> {
    let defaults = cert == Path::new(DEFAULT_CERT_PATH) && key == Path::new(DEFAULT_KEY_PATH);
    if !defaults || cert.exists() || key.exists() {
        return Ok(None);
    }
    let dir = cert.parent().unwrap_or(Path::new("."));
    generate_dev_certs(dir).map(Some)
}

/// The files [`write_kustomize_inputs`] wrote into an overlay.
#[derive(Debug, Clone)]
pub struct KustomizeInputs {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub ca_cert: PathBuf,
}

/// Copies a serving certificate, its key and its CA certificate into `<overlay>/generated/`,
/// where a kustomize `secretGenerator` can read them (kustomize reads no file outside its
/// overlay). `serve --kube` registers its webhooks with the `ca.crt` it finds beside the
/// certificate. The folder gets a `.gitignore` of its own: a private key is never committed.
pub fn write_kustomize_inputs(
    certs: &DevCerts,
    overlay: &Path,
) -> Result<KustomizeInputs, TlsError> {
    let read = |path: &Path| {
        fs::read(path).map_err(|source| TlsError::Read {
            path: path.to_path_buf(),
            source,
        })
    };
    let generated = overlay.join("generated");
    fs::create_dir_all(&generated).map_err(|source| TlsError::Write {
        path: generated.clone(),
        source,
    })?;
    let inputs = KustomizeInputs {
        cert: generated.join("tls.crt"),
        key: generated.join("tls.key"),
        ca_cert: generated.join("ca.crt"),
    };
    write_file(&generated.join(".gitignore"), b"*\n", false)?;
    write_file(&inputs.cert, &read(&certs.cert)?, false)?;
    write_file(&inputs.key, &read(&certs.key)?, true)?;
    write_file(&inputs.ca_cert, &read(&certs.ca_cert)?, false)?;
    Ok(inputs)
}

fn write_file(path: &Path, contents: &[u8], private: bool) -> Result<(), TlsError> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        if private {
            options.mode(0o600);
        }
        let write = || -> io::Result<()> {
            let mut file = options.open(path)?;
            // `mode` only applies to new files; an older, looser key file is tightened too.
            if private {
                file.set_permissions(fs::Permissions::from_mode(0o600))?;
            }
            file.write_all(contents)
        };
        write().map_err(|source| TlsError::Write {
            path: path.to_path_buf(),
            source,
        })
    }
    #[cfg(not(unix))]
    {
        let _ = private;
        options
            .open(path)
            .and_then(|mut file| file.write_all(contents))
            .map_err(|source| TlsError::Write {
                path: path.to_path_buf(),
                source,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dev_certs_load_and_carry_the_service_names() {
        let dir = tempfile::tempdir().unwrap();
        let files = generate_dev_certs(dir.path()).unwrap();
        let loaded = load_certificate(&files.cert, &files.key).unwrap();
        let (_, leaf) = x509_parser::parse_x509_certificate(&loaded.key.cert[0]).unwrap();
        let sans: Vec<String> = leaf
            .subject_alternative_name()
            .unwrap()
            .unwrap()
            .value
            .general_names
            .iter()
            .map(|name| match name {
                x509_parser::extensions::GeneralName::DNSName(dns) => dns.to_string(),
                x509_parser::extensions::GeneralName::IPAddress(ip) => {
                    let octets: [u8; 4] = (*ip).try_into().unwrap();
                    std::net::Ipv4Addr::from(octets).to_string()
                }
                other => panic!("unexpected SAN {other:?}"),
            })
            .collect();
        assert_eq!(sans, DEV_CERT_SANS);
        assert_eq!(loaded.info.subject, format!("CN={DEV_CERT_COMMON_NAME}"));
        let year = 365 * 24 * 3600;
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        assert!((loaded.info.not_after - now - year).abs() < 2 * 3600);
    }

    #[cfg(unix)]
    #[test]
    fn key_files_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let files = generate_dev_certs(dir.path()).unwrap();
        for path in [&files.key, &files.ca_key] {
            let mode = fs::metadata(path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{}", path.display());
        }
    }

    #[test]
    fn a_key_from_another_pair_is_a_mismatch() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        let a = generate_dev_certs(a.path()).unwrap();
        let b = generate_dev_certs(b.path()).unwrap();
        let err = load_certified_key(&a.cert, &b.key).unwrap_err();
        assert!(matches!(err, TlsError::KeyMismatch { .. }), "{err}");
        assert!(err.to_string().contains(&*b.key.to_string_lossy()));
    }

    #[test]
    fn unusable_files_are_named_in_the_error() {
        let dir = tempfile::tempdir().unwrap();
        let files = generate_dev_certs(dir.path()).unwrap();
        let garbage = dir.path().join("garbage.pem");
        fs::write(&garbage, "not pem at all\n").unwrap();
        let missing = dir.path().join("missing.pem");
        let cases: [(&Path, &Path, &Path, &str); 4] = [
            (&missing, &files.key, &missing, "read"),
            (&garbage, &files.key, &garbage, "invalid"),
            (&files.cert, &garbage, &garbage, "invalid"),
            (&files.cert, &files.cert, &files.cert, "invalid"),
        ];
        for (cert, key, named, kind) in cases {
            let err = load_certified_key(cert, key).unwrap_err();
            assert_eq!(err.kind(), kind, "{err}");
            assert!(err.to_string().contains(&*named.to_string_lossy()), "{err}");
        }
    }

    #[test]
    fn ensure_dev_certs_only_touches_the_default_paths() {
        let dir = tempfile::tempdir().unwrap();
        let cert = dir.path().join("tls.crt");
        let key = dir.path().join("tls.key");
        assert!(ensure_dev_certs(&cert, &key).unwrap().is_none());
        assert!(!cert.exists());
    }

    #[test]
    fn server_config_rejects_an_empty_client_ca_bundle() {
        let dir = tempfile::tempdir().unwrap();
        let files = generate_dev_certs(dir.path()).unwrap();
        let resolver = Arc::new(CertResolver::new(
            load_certified_key(&files.cert, &files.key).unwrap(),
        ));
        let empty = dir.path().join("empty.pem");
        fs::write(&empty, "").unwrap();
        let err = server_config(resolver.clone(), Some(&empty)).unwrap_err();
        assert!(err.to_string().contains("empty.pem"), "{err}");
        let config = server_config(resolver, Some(&files.ca_cert)).unwrap();
        assert_eq!(config.alpn_protocols, vec![b"http/1.1".to_vec()]);
    }
}
