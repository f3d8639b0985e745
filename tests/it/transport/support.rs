//! Test harness for the transport tests: a server on `127.0.0.1:0` driven through its
//! shutdown trigger, and TLS/plain HTTP/1.1 clients built from hyper's client connection and
//! tokio-rustls, trusting exactly the CAs a test names.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use portcullis::server::{self, HandshakeRefusals, Readiness, ServeOptions};
use portcullis::tls::CertInfo;
use rustls::{ClientConfig, RootCertStore};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_rustls::TlsConnector;

pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// The name the kube-apiserver dials for the in-cluster Service.
pub const SERVICE_NAME: &str = "portcullis.portcullis.svc";
/// Generous upper bound for anything that should happen promptly; only reached on failure.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// A running `serve`, stopped by [`Server::trigger_shutdown`].
pub struct Server {
    pub tls_addr: SocketAddr,
    pub plain_addr: SocketAddr,
    pub readiness: Readiness,
    trigger: Option<oneshot::Sender<()>>,
    pub handle: JoinHandle<std::io::Result<()>>,
}

impl Server {
    pub async fn start(
        tls: Arc<rustls::ServerConfig>,
        app: Router,
        options: ServeOptions,
    ) -> Server {
        Self::start_counting(tls, app, options, HandshakeRefusals::uncounted()).await
    }

    /// As [`Server::start`], counting refused handshakes in `refusals`.
    pub async fn start_counting(
        tls: Arc<rustls::ServerConfig>,
        app: Router,
        options: ServeOptions,
        refusals: HandshakeRefusals,
    ) -> Server {
        let tls_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let plain_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let tls_addr = tls_listener.local_addr().unwrap();
        let plain_addr = plain_listener.local_addr().unwrap();
        let readiness = Readiness::new();
        readiness.set(true);
        let plain_app = server::health_routes(readiness.clone());
        let (trigger, triggered) = oneshot::channel::<()>();
        let handle = tokio::spawn(server::serve(
            tls_listener,
            tls,
            app,
            plain_listener,
            plain_app,
            readiness.clone(),
            options,
            refusals,
            async move {
                let _ = triggered.await;
            },
        ));
        Server {
            tls_addr,
            plain_addr,
            readiness,
            trigger: Some(trigger),
            handle,
        }
    }

    pub fn trigger_shutdown(&mut self) {
        if let Some(trigger) = self.trigger.take() {
            let _ = trigger.send(());
        }
    }
}

/// Client configuration trusting only the CAs in `ca_files`, optionally presenting a client
/// certificate (chain PEM, key PEM).
pub fn client_config(ca_files: &[&Path], identity: Option<(&str, &str)>) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    for file in ca_files {
        for cert in CertificateDer::pem_file_iter(file).unwrap() {
            roots.add(cert.unwrap()).unwrap();
        }
    }
    let builder =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots);
    let mut config = match identity {
        None => builder.with_no_client_auth(),
        Some((chain, key)) => {
            let chain = CertificateDer::pem_slice_iter(chain.as_bytes())
                .collect::<Result<Vec<_>, _>>()
                .unwrap();
            let key = PrivateKeyDer::from_pem_slice(key.as_bytes()).unwrap();
            builder.with_client_auth_cert(chain, key).unwrap()
        }
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    // A resumed session reports the certificate of the session it resumes; every handshake here
    // must show what the server presents now.
    config.resumption = rustls::client::Resumption::disabled();
    Arc::new(config)
}

/// An HTTP/1.1 keep-alive connection, and the serial of the certificate the server presented.
pub struct Connection {
    pub sender: SendRequest<Full<Bytes>>,
    pub serial: Option<String>,
    /// Ends when the server closes the connection.
    pub driver: JoinHandle<()>,
}

impl Connection {
    pub async fn tls(
        addr: SocketAddr,
        config: Arc<ClientConfig>,
        name: &str,
    ) -> Result<Connection, Error> {
        let tcp = TcpStream::connect(addr).await?;
        tcp.set_nodelay(true)?;
        let name = ServerName::try_from(name.to_string())?;
        let tls = TlsConnector::from(config).connect(name, tcp).await?;
        let (_, session) = tls.get_ref();
        assert_eq!(session.alpn_protocol(), Some(&b"http/1.1"[..]));
        let serial = session
            .peer_certificates()
            .and_then(|chain| chain.first())
            .map(|leaf| CertInfo::from_der(leaf).unwrap().serial);
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls)).await?;
        let driver = tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(Connection {
            sender,
            serial,
            driver,
        })
    }

    pub async fn plain(addr: SocketAddr) -> Result<Connection, Error> {
        let tcp = TcpStream::connect(addr).await?;
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tcp)).await?;
        let driver = tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(Connection {
            sender,
            serial: None,
            driver,
        })
    }

    /// Sends one request and reads the whole response.
    pub async fn send(&mut self, method: &str, path: &str) -> Result<(StatusCode, Bytes), Error> {
        self.sender.ready().await?;
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header("host", SERVICE_NAME)
            .body(Full::new(Bytes::from_static(b"{}")))?;
        let response = self.sender.send_request(request).await?;
        let status = response.status();
        let body = response.into_body().collect().await?.to_bytes();
        Ok((status, body))
    }
}

/// An error and all its sources on one line: hyper's own message hides the TLS alert.
pub fn chain(error: &Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        text.push_str(": ");
        text.push_str(&e.to_string());
        source = e.source();
    }
    text
}

/// One request on a fresh TLS connection.
pub async fn tls_request(
    addr: SocketAddr,
    config: Arc<ClientConfig>,
    name: &str,
    path: &str,
) -> Result<(StatusCode, Option<String>), Error> {
    let mut connection = Connection::tls(addr, config, name).await?;
    let (status, _) = connection.send("GET", path).await?;
    Ok((status, connection.serial))
}

/// One request on a fresh plain connection.
pub async fn plain_request(addr: SocketAddr, path: &str) -> Result<(StatusCode, Bytes), Error> {
    Connection::plain(addr).await?.send("GET", path).await
}

/// A client CA and a client certificate it signed, as PEM: (CA cert, client chain, client key).
pub fn client_identity() -> (String, String, String) {
    use rcgen::{
        BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose,
        IsCa, KeyPair, KeyUsagePurpose,
    };
    let ca_key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let mut ca_params = CertificateParams::default();
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "test client CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign];
    let ca = CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();

    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let mut params = CertificateParams::new(vec!["kube-apiserver".to_string()]).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, "kube-apiserver");
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let cert = params.signed_by(&key, &ca).unwrap();
    (ca.pem(), cert.pem(), key.serialize_pem())
}
